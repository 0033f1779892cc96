// kwh operator: manage operators and their roles.

#include "context.hpp"

namespace kwh::cli {

void add_operator(CLI::App& app, Context& ctx) { add_unbuilt(app, ctx, "operator", "manage operators and their roles"); }

} // namespace kwh::cli
