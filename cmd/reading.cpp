// kwh reading: import, list, accept and reject readings.

#include "context.hpp"

namespace kwh::cli {

void add_reading(CLI::App& app, Context& ctx) { add_unbuilt(app, ctx, "reading", "import, list, accept and reject readings"); }

} // namespace kwh::cli
