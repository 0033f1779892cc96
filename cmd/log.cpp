// kwh log: show and verify the audit log.

#include "context.hpp"

namespace kwh::cli {

void add_log(CLI::App& app, Context& ctx) { add_unbuilt(app, ctx, "log", "show and verify the audit log"); }

} // namespace kwh::cli
