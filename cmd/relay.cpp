// kwh relay: switch meters' relays (queued for kwhd, or --direct).

#include "context.hpp"

namespace kwh::cli {

void add_relay(CLI::App& app, Context& ctx) { add_unbuilt(app, ctx, "relay", "switch meters' relays (queued for kwhd, or --direct)"); }

} // namespace kwh::cli
