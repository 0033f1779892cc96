#include "queued.hpp"
#include "progress.hpp"

#include <kwh/auth/operators.hpp>
#include <kwh/site/command.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <thread>

namespace kwh::cli {

std::string operator_of(const Context& ctx) { return ctx.operator_name.empty() ? auth::current_login() : ctx.operator_name; }

void add_meter_choice(CLI::App* sub, MeterChoice& choice, const std::string& all_help) {
  sub->add_option("meters", choice.meters, "meter IDs; - reads them from standard input")->type_name("METER...");
  sub->add_option("--building", choice.building, "the meters in this building")->type_name("B");
  sub->add_flag("--all", choice.all, all_help);
}

std::vector<site::Meter> chosen_meters(storage::Database& db, const MeterChoice& choice, const std::string& what) {
  if (int(!choice.meters.empty()) + int(choice.building.has_value()) + int(choice.all) != 1)
    fail(Exit::usage, "{}: name the meters one way: METER..., -, --building B or --all", what);
  std::vector<site::Meter> meters;
  if (!choice.meters.empty()) {
    std::set<std::string> seen;
    for (const auto& id : Context::expand_ids(choice.meters))
      if (seen.insert(id).second) meters.push_back(site::get_meter_in_service(db, id));
    return meters;
  }
  meters = site::list_meters(db, site::MeterFilter{.building = choice.building});
  if (meters.empty()) {
    if (choice.building) fail(Exit::no_input, "no meters in building {}", *choice.building);
    fail(Exit::no_input, "there are no meters");
  }
  return meters;
}

int report_queued(Context& ctx, const std::vector<std::int64_t>& ids, std::optional<double> wait, const std::string& what,
                  const std::vector<Unsupported>& unsupported) {
  auto& db = ctx.db();
  auto cmds = site::commands(db, ids);
  if (wait) {
    Progress progress(!ctx.quiet);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(static_cast<std::int64_t>(*wait * 1000));
    for (;;) {
      cmds = site::commands(db, ids);
      auto open = std::count_if(cmds.begin(), cmds.end(), [](const site::Command& c) { return c.open(); });
      auto failed = std::count_if(cmds.begin(), cmds.end(), [](const site::Command& c) { return c.state == "failed"; });
      if (open == 0 || std::chrono::steady_clock::now() >= deadline) break;
      progress.show(fmt::format("kwh: {}: {} of {} done, {} failed", what,
                                static_cast<std::int64_t>(cmds.size()) - open - failed, cmds.size(), failed));
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  output::Table t;
  t.columns = {{"command", output::Kind::integer}, {"meter"},    {"action"}, {"state", output::Kind::status},
               {"error"},                          {"readback"}, {"argument"}};
  auto opt = [](const std::optional<std::string>& v) { return v ? output::Json(*v) : output::Json(); };
  for (const auto& c : cmds) t.add({c.id, c.meter, c.action, c.state, opt(c.last_error), opt(c.readback), opt(c.argument)});
  for (const auto& u : unsupported)
    t.add({output::Json(), u.meter, output::Json(), std::string("unsupported"), u.why, output::Json(), output::Json()});
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
