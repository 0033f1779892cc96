#pragma once
// `kwh gateway import`, `kwh meter import` and `kwh account import`: one subcommand shape for
// the three, over lib/kwh/import.

#include "context.hpp"

#include <kwh/import/import.hpp>

namespace kwh::cli {

// Registers `import FILE` under a command group (gateway, meter, account).
void add_import(CLI::App* group, Context& ctx, import::Kind kind);

} // namespace kwh::cli
