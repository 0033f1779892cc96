#include "queued.hpp"

#include <kwh/auth/operators.hpp>
#include <kwh/site/command.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>
#include <thread>

namespace kwh::cli {

std::string operator_of(const Context& ctx) { return ctx.operator_name.empty() ? auth::current_login() : ctx.operator_name; }

int report_queued(Context& ctx, const std::vector<std::int64_t>& ids, std::optional<double> wait, const std::string& what) {
  auto& db = ctx.db();
  auto cmds = site::commands(db, ids);
  if (wait) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(static_cast<std::int64_t>(*wait * 1000));
    for (;;) {
      cmds = site::commands(db, ids);
      bool open = std::any_of(cmds.begin(), cmds.end(), [](const site::Command& c) { return c.open(); });
      if (!open || std::chrono::steady_clock::now() >= deadline) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  output::Table t;
  t.columns = {{"command", output::Kind::integer}, {"meter"},    {"action"}, {"state", output::Kind::status},
               {"error"},                          {"readback"}};
  for (const auto& c : cmds)
    t.add({c.id, c.meter, c.action, c.state, c.last_error ? output::Json(*c.last_error) : output::Json(),
           c.readback ? output::Json(*c.readback) : output::Json()});
  ctx.print(t);
  if (!wait) return 0;
  std::vector<std::string> pending, failed;
  for (const auto& c : cmds) {
    if (c.open()) pending.push_back(fmt::format("{} ({})", c.id, c.meter));
    else if (c.state == "failed") failed.push_back(fmt::format("{} ({})", c.meter, c.last_error.value_or("failed")));
  }
  if (!failed.empty())
    fail(Exit::unavailable, "{} failed for {} of {} meter{}: {}", what, failed.size(), cmds.size(),
         cmds.size() == 1 ? "" : "s", fmt::join(failed, "; "));
  if (!pending.empty())
    fail(Exit::temporary, "{} command{} still pending after {} s: {} (is kwhd running?)", pending.size(),
         pending.size() == 1 ? "" : "s", *wait, fmt::join(pending, ", "));
  return 0;
}

} // namespace kwh::cli
