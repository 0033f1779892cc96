// kwh gateway: manage gateways: the paths to buses of meters.

#include "context.hpp"

namespace kwh::cli {

void add_gateway(CLI::App& app, Context& ctx) { add_unbuilt(app, ctx, "gateway", "manage gateways: the paths to buses of meters"); }

} // namespace kwh::cli
