// kwh sell and kwh refund: money in and out of an account.

#include "context.hpp"

namespace kwh::cli {

void add_sell(CLI::App& app, Context& ctx) { add_unbuilt(app, ctx, "sell", "sell credit to an account"); }
void add_refund(CLI::App& app, Context& ctx) { add_unbuilt(app, ctx, "refund", "refund credit from an account"); }

} // namespace kwh::cli
