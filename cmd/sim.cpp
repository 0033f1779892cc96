// kwh sim: serve simulated meters over Modbus TCP.

#include "context.hpp"

namespace kwh::cli {

void add_sim(CLI::App& app, Context& ctx) { add_unbuilt(app, ctx, "sim", "serve simulated meters over Modbus TCP"); }

} // namespace kwh::cli
