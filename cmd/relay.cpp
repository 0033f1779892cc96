// kwh relay: switch meters' relays (queued for kwhd, or --direct), or set their relay mode.

#include "context.hpp"
#include "queued.hpp"

#include <kwh/auth/operators.hpp>
#include <kwh/site/command.hpp>
#include <kwh/site/gateway.hpp>
#include <kwh/site/live.hpp>
#include <kwh/site/meter.hpp>
#include <kwh/transport/client.hpp>
#include <kwh/util/time.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <map>
#include <set>

namespace kwh::cli {

namespace {

struct RelayOptions {
  std::string action;
  std::vector<std::string> meters;
  std::optional<std::string> account, building;
  bool all = false;
  std::optional<double> wait;
  bool direct = false;
};

// The meters a relay command is for; every one must exist and be in service, or nothing is done.
std::vector<site::Meter> select_meters(storage::Database& db, const RelayOptions& o, bool yes) {
  int forms = int(!o.meters.empty()) + int(o.account.has_value()) + int(o.building.has_value()) + int(o.all);
  if (forms != 1)
    fail(Exit::usage, "relay {}: name the meters one way: METER..., -, --account A, --building B or --all", o.action);
  std::vector<site::Meter> out;
  if (!o.meters.empty()) {
    std::set<std::string> seen;
    for (const auto& id : Context::expand_ids(o.meters))
      if (seen.insert(id).second) out.push_back(site::get_meter_in_service(db, id));
    return out;
  }
  if (o.all && !yes) fail(Exit::usage, "relay {} --all acts on every meter; add --yes to confirm", o.action);
  if (o.account) {
    auto st = db.prepare("SELECT 1 FROM accounts WHERE name = ?1");
    st.bind(1, *o.account);
    if (!st.step()) fail(Exit::no_input, "no such account: {}", *o.account);
  }
  out = site::list_meters(db, site::MeterFilter{.building = o.building, .account = o.account});
  if (out.empty()) {
    if (o.account) fail(Exit::data, "account {} has no meters", *o.account);
    if (o.building) fail(Exit::no_input, "no meters in building {}", *o.building);
    fail(Exit::no_input, "there are no meters");
  }
  return out;
}

int set_mode(Context& ctx, const std::vector<site::Meter>& meters, site::RelayMode mode) {
  auto& db = ctx.db();
  std::vector<std::int64_t> ids;
  // A DL/T 645 meter is told too when it enters or leaves protect (保电: relay control 3A / 3B),
  // so that it refuses a trip from anyone, not only from kwh.
  std::vector<std::optional<std::string>> told(meters.size());
  for (std::size_t i = 0; i < meters.size(); ++i) {
    const auto& m = meters[i];
    ids.push_back(m.id);
    const bool into = mode == site::RelayMode::protect, out_of = m.relay_mode == site::RelayMode::protect;
    if (into == out_of) continue;
    try {
      if (site::meter_profile(db, m, ctx.config().profiles).protocol == "dlt645") told[i] = into ? "protect=on" : "protect=off";
    } catch (const Error&) {
      // A meter whose profile is gone is polled by no one: its mode is kwh's alone.
    }
  }
  std::vector<output::Json> commands(meters.size());
  {
    storage::Transaction tx(db);
    site::set_relay_mode_in(db, ids, mode);
    for (std::size_t i = 0; i < meters.size(); ++i)
      if (told[i])
        commands[i] = site::queue_command(db, site::NewCommand{.meter_id = meters[i].id, .action = "set", .argument = told[i],
                                                               .operator_name = operator_of(ctx)});
    tx.commit();
  }
  output::Table t;
  t.columns = {{"meter"}, {"relay_mode"}, {"relay", output::Kind::status}, {"command", output::Kind::integer}};
  for (std::size_t i = 0; i < meters.size(); ++i)
    t.add({meters[i].name, std::string(site::to_string(mode)), meters[i].relay_state, commands[i]});
  ctx.print(t);
  return 0;
}

// Checks that each meter can be switched this way before anything is queued or written.
std::vector<modbus::Profile> check_switchable(Context& ctx, const std::vector<site::Meter>& meters, bool on) {
  std::vector<modbus::Profile> profiles;
  for (const auto& m : meters) {
    profiles.push_back(site::meter_profile(ctx.db(), m, ctx.config().profiles));
    site::relay_of(m, profiles.back());
    if (on && m.relay_mode == site::RelayMode::off)
      fail(Exit::data, "meter {} is held off (relay mode off); change its mode first (kwh meter set {} --relay-mode auto)",
           m.name, m.name);
  }
  return profiles;
}

std::string describe_failures(const std::vector<std::pair<std::string, std::string>>& failed) {
  std::vector<std::string> parts;
  for (const auto& [meter, why] : failed) parts.push_back(fmt::format("{} ({})", meter, why));
  return fmt::format("{}", fmt::join(parts, "; "));
}

int switch_direct(Context& ctx, const std::vector<site::Meter>& meters, bool on) {
  auto& db = ctx.db();
  auto profiles = check_switchable(ctx, meters, on);
  for (std::size_t i = 0; i < meters.size(); ++i)
    if (profiles[i].protocol == "dlt645")
      fail(Exit::usage, "meter {}: DL/T 645 relays are switched by kwhd (with the gateway's password); drop --direct",
           meters[i].name);
  const std::string action = on ? "relay_on" : "relay_off";
  output::Table t;
  t.columns = {{"meter"}, {"action"}, {"relay", output::Kind::status}, {"readback"}, {"error"}};
  std::vector<std::pair<std::string, std::string>> failed;
  bool unreachable = false;
  Exit first_code = Exit::failed;
  // One connection per gateway, used for each of its meters in turn.
  std::map<std::int64_t, std::unique_ptr<transport::Client>> clients;
  for (std::size_t i = 0; i < meters.size(); ++i) {
    const auto& m = meters[i];
    auto& client = clients[m.gateway_id];
    if (!client)
      client = std::make_unique<transport::Client>(site::get_gateway(db, m.gateway_id).spec(ctx.config().poll.timeout));
    try {
      auto result = site::switch_now(db, *client, m, profiles[i], on, operator_of(ctx));
      t.add({m.name, action, on ? "on" : "off", result.readback, output::Json()});
    } catch (const Error& e) {
      if (failed.empty()) first_code = e.code();
      if (e.code() == Exit::unavailable) unreachable = true;
      failed.emplace_back(m.name, e.what());
      t.add({m.name, action, m.relay_state, output::Json(), std::string(e.what())});
    }
  }
  ctx.print(t);
  if (!failed.empty())
    fail(unreachable ? Exit::unavailable : first_code, "relay {} failed for {} of {} meter{}: {}", on ? "on" : "off",
         failed.size(), meters.size(), meters.size() == 1 ? "" : "s", describe_failures(failed));
  return 0;
}

int queue(Context& ctx, const std::vector<site::Meter>& meters, bool on, std::optional<double> wait) {
  auto& db = ctx.db();
  check_switchable(ctx, meters, on);
  std::vector<std::int64_t> ids;
  {
    storage::Transaction tx(db);
    for (const auto& m : meters)
      ids.push_back(site::queue_command(
          db, site::NewCommand{.meter_id = m.id, .action = on ? "relay_on" : "relay_off", .operator_name = operator_of(ctx)}));
    tx.commit();
  }
  return report_queued(ctx, ids, wait, on ? "relay on" : "relay off");
}

} // namespace

void add_relay(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<RelayOptions>();
  auto* sub = app.add_subcommand("relay", "switch meters' relays (queued for kwhd, or --direct), or set their mode");
  sub->add_option("action", o->action, "on, off (switch), auto or protect (set the relay mode)")
      ->required()
      ->check(CLI::IsMember({"on", "off", "auto", "protect"}))
      ->type_name("on|off|auto|protect");
  sub->add_option("meters", o->meters, "meter IDs; - reads them from standard input")->type_name("METER...");
  sub->add_option("--account", o->account, "the meters of this account")->type_name("A");
  sub->add_option("--building", o->building, "the meters in this building")->type_name("B");
  sub->add_flag("--all", o->all, "every meter (with --yes)");
  sub->add_option("--wait", o->wait, "wait until kwhd has carried the commands out")
      ->check(within(0, 86400))
      ->type_name("SECONDS");
  sub->add_flag("--direct", o->direct, "switch now over the gateway instead of queueing for kwhd");
  sub->callback([&ctx, o] {
    ctx.action = [&ctx, o] {
      bool switching = o->action == "on" || o->action == "off";
      if (!switching && (o->direct || o->wait))
        fail(Exit::usage, "relay {}: --direct and --wait are for relay on and off", o->action);
      auto meters = select_meters(ctx.db(), *o, ctx.yes);
      if (!switching) return set_mode(ctx, meters, *site::parse_relay_mode(o->action));
      bool on = o->action == "on";
      if (o->direct) return switch_direct(ctx, meters, on);
      return queue(ctx, meters, on, o->wait);
    };
  });
}

} // namespace kwh::cli
