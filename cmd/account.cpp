// kwh account: open, show and close accounts.

#include "context.hpp"

namespace kwh::cli {

void add_account(CLI::App& app, Context& ctx) { add_unbuilt(app, ctx, "account", "open, show and close accounts"); }

} // namespace kwh::cli
