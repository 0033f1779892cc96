// kwh meter: manage meters and read them.

#include "context.hpp"

namespace kwh::cli {

void add_meter(CLI::App& app, Context& ctx) { add_unbuilt(app, ctx, "meter", "manage meters and read them"); }

} // namespace kwh::cli
