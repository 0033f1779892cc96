// kwh tariff: manage tariffs and their versions.

#include "context.hpp"

namespace kwh::cli {

void add_tariff(CLI::App& app, Context& ctx) { add_unbuilt(app, ctx, "tariff", "manage tariffs and their versions"); }

} // namespace kwh::cli
