// kwh meter: manage meters and read them.

#include "context.hpp"
#include "import.hpp"
#include "queued.hpp"

#include <kwh/billing/account.hpp>
#include <kwh/site/command.hpp>
#include <kwh/site/gateway.hpp>
#include <kwh/site/live.hpp>
#include <kwh/site/meter.hpp>
#include <kwh/transport/client.hpp>
#include <kwh/util/money.hpp>
#include <kwh/util/time.hpp>

#include <fmt/format.h>

#include <iostream>

namespace kwh::cli {

namespace {

output::Json opt(const std::optional<std::string>& v) { return v ? output::Json(*v) : output::Json(); }
output::Json opt(const std::optional<std::int64_t>& v) { return v ? output::Json(*v) : output::Json(); }
output::Json opt_time(const std::optional<UnixTime>& v) { return v ? output::Json(format_time(*v)) : output::Json(); }

// {"time": ..., "energy_total": ..., ...}: the same shape as `meter read --json`.
output::Json reading_json(const site::LiveReading& r) {
  auto o = output::Json::object();
  o.set("time", format_time(r.time));
  for (const auto& v : r.values) o.set(v.name, site::value_json(v));
  return o;
}

// What the meter itself last reported of its relay ([relay.status]): "on", "off", or "unknown"
// for a value that is neither; nullopt when its profile does not read it.
std::optional<std::string> reported_relay(storage::Database& db, const site::Meter& m, const site::LiveReading& r,
                                          const std::vector<std::string>& folders) {
  for (const auto& v : r.values) {
    if (v.name != modbus::k_relay_status_value) continue;
    try {
      auto closed = site::meter_profile(db, m, folders).relay_closed(v.real);
      return closed ? std::string(*closed ? "on" : "off") : std::string("unknown");
    } catch (const Error&) {
      return std::nullopt;
    }
  }
  return std::nullopt;
}

output::Json meter_json(storage::Database& db, const site::Meter& m, const std::vector<std::string>* folders = nullptr) {
  auto o = output::Json::object();
  o.set("id", m.name);
  o.set("gateway", m.gateway);
  o.set("unit", m.address ? output::Json() : output::Json(m.unit));
  o.set("address", opt(m.address));
  o.set("device", opt(m.device));
  o.set("profile", m.profile);
  o.set("kind", m.kind);
  o.set("building", opt(m.building));
  o.set("room", opt(m.room));
  o.set("status", m.status);
  o.set("status_since", opt_time(m.status_since));
  o.set("relay", m.relay_state);
  o.set("relay_reason", opt(m.relay_reason));
  o.set("relay_mode", std::string(site::to_string(m.relay_mode)));
  o.set("overload_w", opt(m.overload_w));
  o.set("account", opt(site::open_account(db, m.id)));
  o.set("created", format_time(m.created));
  o.set("removed", opt_time(m.removed));
  auto stored = site::stored_values(db, m.id);
  if (folders) {
    // kwh's own record above; below, what the meter said at its last reading, where it says.
    auto reported = stored ? reported_relay(db, m, *stored, *folders) : std::nullopt;
    o.set("relay_reported", reported ? output::Json(*reported) : output::Json());
    o.set("relay_reported_at", reported ? output::Json(format_time(stored->time)) : output::Json());
  }
  if (folders) {
    // What the last time sync read of the meter's clock: its clock minus kwh's, after setting it.
    auto clock = site::last_clock_check(db, m.id);
    o.set("clock_drift_s", clock ? output::Json(clock->drift) : output::Json());
    o.set("clock_checked_at", clock ? output::Json(format_time(clock->at)) : output::Json());
  }
  o.set("last_reading", stored ? reading_json(*stored) : output::Json());
  return o;
}

// The value with its unit, for people.
std::string value_text(const modbus::Value& v) {
  std::string number = site::value_json(v).text();
  auto unit = modbus::well_known_unit(v.name);
  if (!unit || unit->empty() || *unit == "minor") return number;
  return number + " " + std::string(*unit);
}

void print_reading(Context& ctx, const site::Meter& m, const site::LiveReading& r) {
  auto o = output::Json::object();
  o.set("meter", m.name);
  o.set("time", format_time(r.time));
  bool people = ctx.format() == output::Format::table;
  for (const auto& v : r.values) o.set(v.name, people ? output::Json(value_text(v)) : site::value_json(v));
  ctx.print(o);
}

// The options `meter add` and `meter set` share.
struct MeterOptions {
  std::string id;
  std::optional<std::string> gateway, profile, kind, building, room, relay_mode, address, device;
  bool no_device = false;
  std::optional<int> unit;
  std::optional<std::int64_t> overload_w;
};

void add_meter_options(CLI::App* sub, MeterOptions& o, bool adding) {
  sub->add_option("id", o.id, "the meter's ID")->required()->type_name("ID");
  auto* g = sub->add_option("--gateway", o.gateway, "the gateway it is on")->type_name("NAME");
  auto* u = sub->add_option("--unit", o.unit, "its unit address, 1..247 (Modbus)")->type_name("N");
  auto* a = sub->add_option("--address", o.address, "its 12-digit address (DL/T 645)")->type_name("DIGITS");
  u->excludes(a);
  auto* d = sub->add_option("--device", o.device,
                            "the multi-user meter it is a circuit of (an ADF400L), named per gateway")
                ->type_name("NAME");
  if (!adding) sub->add_flag("--no-device", o.no_device, "no longer a circuit of a device")->excludes(d);
  auto* p = sub->add_option("--profile", o.profile, "its profile: a name, or FILE.toml")->type_name("NAME|FILE");
  if (adding) {
    g->required();
    p->required();
  }
  sub->add_option("--kind", o.kind, "electricity or water (default: the profile's)")
      ->check(CLI::IsMember({"electricity", "water"}))
      ->type_name("KIND");
  sub->add_option("--building", o.building, "the building it is in")->type_name("B");
  sub->add_option("--room", o.room, "the room or shop it serves")->type_name("R");
  sub->add_option("--relay-mode", o.relay_mode, "auto, protect or off (default auto)")
      ->check(CLI::IsMember({"auto", "protect", "off"}))
      ->type_name("MODE");
  sub->add_option("--overload-w", o.overload_w, adding ? "overload threshold in W" : "overload threshold in W (0: none)")
      ->type_name("W");
}

void add_add(CLI::App* parent, Context& ctx) {
  auto o = std::make_shared<MeterOptions>();
  auto* sub = parent->add_subcommand("add", "add a meter (nothing is read: it may not be installed yet)");
  add_meter_options(sub, *o, true);
  sub->callback([&ctx, o] {
    ctx.action = [&ctx, o] {
      site::MeterSpec spec;
      spec.name = o->id;
      spec.gateway = *o->gateway;
      if (!o->unit && !o->address)
        fail(Exit::usage, "meter add {}: give its --unit (Modbus) or --address (DL/T 645)", o->id);
      spec.unit = o->unit.value_or(0);
      spec.address = o->address;
      spec.device = o->device;
      spec.profile = *o->profile;
      spec.kind = o->kind;
      spec.building = o->building;
      spec.room = o->room;
      if (o->relay_mode) spec.relay_mode = *site::parse_relay_mode(*o->relay_mode);
      spec.overload_w = o->overload_w;
      auto& db = ctx.db();
      auto m = site::add_meter(db, spec, ctx.config().profiles);
      if (ctx.format() == output::Format::json) ctx.print(meter_json(db, m));
      else if (ctx.quiet) ctx.out() << m.name << '\n';
      else
        ctx.out() << fmt::format("added meter {} ({} {}, {} on gateway {}{})\n", m.name, m.kind, m.profile,
                                 m.address ? "address " + *m.address : fmt::format("unit {}", m.unit), m.gateway,
                                 m.device ? ", a circuit of device " + *m.device : std::string());
      return 0;
    };
  });
}

// What `meter set` writes to a meter that keeps settings of its own ([settings.NAME]).
struct MeterSettings {
  std::optional<std::string> alarm1, alarm2;
  std::optional<double> wait;
};

// The set commands for the settings given, as "name=value" in the setting's canonical unit
// (money in minor units, W). --alarm1/--alarm2 need the profile's setting (else exit 65); an
// --overload-w is written where the profile has one and is kwh's own threshold either way.
std::vector<std::string> meter_settings(Context& ctx, const modbus::Profile& profile, const std::string& meter,
                                        const MeterSettings& s, std::optional<std::int64_t> overload_w) {
  std::vector<std::string> out;
  for (const auto& [name, text] : {std::pair{"alarm1", s.alarm1}, std::pair{"alarm2", s.alarm2}}) {
    if (!text) continue;
    if (!profile.find_setting(name))
      fail(Exit::data, "meter {}: its profile {} keeps no {} ([settings.{}]); an account's alarms are set with kwh account",
           meter, profile.name, name, name);
    auto money = Money::parse(*text, ctx.minor_units());
    if (!money) fail(Exit::data, "--{}: {}", name, money.error().what());
    out.push_back(fmt::format("{}={}", name, money->minor()));
  }
  if (overload_w && profile.find_setting("overload_w")) out.push_back(fmt::format("overload_w={}", *overload_w));
  return out;
}

void add_set(CLI::App* parent, Context& ctx) {
  auto o = std::make_shared<MeterOptions>();
  auto ms = std::make_shared<MeterSettings>();
  auto* sub = parent->add_subcommand("set", "change a meter");
  add_meter_options(sub, *o, false);
  sub->add_option("--alarm1", ms->alarm1, "write the meter's own first balance alarm (its [settings.alarm1])")->type_name("MONEY");
  sub->add_option("--alarm2", ms->alarm2, "write the meter's own second balance alarm (its [settings.alarm2])")->type_name("MONEY");
  sub->add_option("--wait", ms->wait, "wait until kwhd has written the meter's settings")
      ->check(within(0, 86400))
      ->type_name("SECONDS");
  sub->callback([&ctx, o, ms] {
    ctx.action = [&ctx, o, ms] {
      site::MeterChange c;
      c.gateway = o->gateway;
      c.unit = o->unit;
      c.address = o->address;
      c.device = o->device;
      c.no_device = o->no_device;
      c.profile = o->profile;
      c.kind = o->kind;
      c.building = o->building;
      c.room = o->room;
      if (o->relay_mode) c.relay_mode = site::parse_relay_mode(*o->relay_mode);
      c.overload_w = o->overload_w;
      const bool change = c.gateway || c.unit || c.address || c.device || c.no_device || c.profile || c.kind ||
                          c.building || c.room || c.relay_mode || c.overload_w;
      if (!change && !ms->alarm1 && !ms->alarm2)
        fail(Exit::usage, "meter set {}: nothing to change (see kwh meter set --help)", o->id);
      auto& db = ctx.db();
      // The settings the meter keeps itself are checked before anything is written.
      auto current = site::get_meter_in_service(db, o->id);
      auto profile = o->profile ? modbus::find_profile(*o->profile, ctx.config().profiles)
                                : site::meter_profile(db, current, ctx.config().profiles);
      auto settings = meter_settings(ctx, profile, current.name, *ms, o->overload_w);
      if (ms->wait && settings.empty())
        fail(Exit::usage, "meter set {}: --wait is for settings written to the meter, and there are none", o->id);
      // Checked above, so that the commands below cannot fail on the meter's account.
      auto m = change ? site::update_meter(db, o->id, c, ctx.config().profiles) : current;
      std::vector<std::int64_t> ids;
      storage::Transaction tx(db);
      for (const auto& arg : settings)
        ids.push_back(site::queue_command(
            db, site::NewCommand{.meter_id = m.id, .action = "set", .argument = arg, .operator_name = operator_of(ctx)}));
      tx.commit();
      if (!ids.empty()) {
        // What is written to the meter, per setting, as for the other queued commands.
        if (ctx.format() == output::Format::table && !ctx.quiet && change) ctx.out() << "updated meter " << m.name << '\n';
        return report_queued(ctx, ids, ms->wait, "meter set");
      }
      if (ctx.format() == output::Format::json) ctx.print(meter_json(db, m));
      else if (ctx.quiet) ctx.out() << m.name << '\n';
      else ctx.out() << "updated meter " << m.name << '\n';
      return 0;
    };
  });
}

void add_list(CLI::App* parent, Context& ctx) {
  auto f = std::make_shared<site::MeterFilter>();
  auto* sub = parent->add_subcommand("list", "list meters");
  sub->add_option("--status", f->status, "online, offline or unknown")
      ->check(CLI::IsMember({"online", "offline", "unknown"}))
      ->type_name("STATUS");
  sub->add_option("--gateway", f->gateway, "only the meters on this gateway")->type_name("G");
  sub->add_option("--building", f->building, "only the meters in this building")->type_name("B");
  sub->callback([&ctx, f] {
    ctx.action = [&ctx, f] {
      auto& db = ctx.db();
      output::Table t;
      t.columns = {{"meter"},
                   {"gateway"},
                   {"unit", output::Kind::integer},
                   {"address"},
                   {"profile"},
                   {"kind"},
                   {"building"},
                   {"room"},
                   {"status", output::Kind::status},
                   {"relay", output::Kind::status},
                   {"relay_mode"},
                   {"account"},
                   {"last_reading", output::Kind::time},
                   {"energy_kwh", output::Kind::real},
                   {"device"},
                   {"volume_m3", output::Kind::real},
                   {"overload_w", output::Kind::integer}};
      for (const auto& m : site::list_meters(db, *f)) {
        auto stored = site::stored_values(db, m.id);
        // The meter's total by its kind: energy in kWh, or a water meter's volume in m³.
        output::Json time, energy, volume;
        if (stored) {
          time = format_time(stored->time);
          if (const auto* e = stored->find("energy_total"); e && e->integer)
            energy = static_cast<double>(*e->integer) / 1000.0;
          if (const auto* v = stored->find("volume_total"); v && v->integer)
            volume = static_cast<double>(*v->integer) / 1000.0;
        }
        t.add({m.name, m.gateway, m.address ? output::Json() : output::Json(m.unit), opt(m.address), m.profile, m.kind, opt(m.building), opt(m.room), m.status, m.relay_state,
               std::string(site::to_string(m.relay_mode)), opt(site::open_account(db, m.id)), time, energy,
               opt(m.device), volume, opt(m.overload_w)});
      }
      ctx.print(t);
      return 0;
    };
  });
}

void add_show(CLI::App* parent, Context& ctx) {
  auto id = std::make_shared<std::string>();
  auto* sub = parent->add_subcommand("show", "show one meter and its last reading");
  sub->add_option("id", *id, "the meter")->required()->type_name("ID");
  sub->callback([&ctx, id] {
    ctx.action = [&ctx, id] {
      auto& db = ctx.db();
      ctx.print(meter_json(db, site::get_meter(db, *id), &ctx.config().profiles));
      return 0;
    };
  });
}

void add_read(CLI::App* parent, Context& ctx) {
  auto id = std::make_shared<std::string>();
  auto direct = std::make_shared<bool>(false);
  auto* sub = parent->add_subcommand("read", "print a meter's last reading, or read it now with --direct");
  sub->add_option("id", *id, "the meter")->required()->type_name("ID");
  sub->add_flag("--direct", *direct, "read the meter now, over its gateway");
  sub->callback([&ctx, id, direct] {
    ctx.action = [&ctx, id, direct] {
      auto& db = ctx.db();
      if (!*direct) {
        auto m = site::get_meter(db, *id);
        auto stored = site::stored_values(db, m.id);
        if (!stored) fail(Exit::failed, "meter {} has not been read yet (kwh meter read {} --direct reads it now)", m.name, m.name);
        print_reading(ctx, m, *stored);
        return 0;
      }
      auto m = site::get_meter_in_service(db, *id);
      auto profile = site::meter_profile(db, m, ctx.config().profiles);
      auto gateway = site::get_gateway(db, m.gateway_id);
      transport::Client client(gateway.spec(ctx.config().poll.timeout));
      auto reading = site::read_live(client, m, profile);
      site::store_values(db, m, reading);
      print_reading(ctx, m, reading);
      return 0;
    };
  });
}

void add_remove(CLI::App* parent, Context& ctx) {
  auto id = std::make_shared<std::string>();
  auto* sub = parent->add_subcommand("remove", "remove a meter (one with history is kept, marked removed)");
  sub->add_option("id", *id, "the meter")->required()->type_name("ID");
  sub->callback([&ctx, id] {
    ctx.action = [&ctx, id] {
      auto how = site::remove_meter(ctx.db(), *id);
      bool kept = how == site::Removal::marked_removed;
      if (ctx.format() == output::Format::json)
        ctx.print(output::Json::object().set("id", *id).set("removed", true).set("history_kept", kept));
      else if (ctx.quiet) ctx.out() << *id << '\n';
      else if (kept) ctx.out() << "removed meter " << *id << " (its history is kept; the ID stays taken)\n";
      else ctx.out() << "removed meter " << *id << '\n';
      return 0;
    };
  });
}

// `meter replace OLD NEW`: a meter swapped after renovation. The old meter's stored readings are
// billed already; the new one joins the same account and its first reading is its baseline.
// When NEW is not a known meter it is created at OLD's bus address with OLD's profile and
// place, which is what a like-for-like swap needs.
void add_replace(CLI::App* parent, Context& ctx) {
  auto old_id = std::make_shared<std::string>();
  auto new_id = std::make_shared<std::string>();
  auto when = std::make_shared<std::string>("now");
  auto* sub = parent->add_subcommand("replace", "move a meter's account to a new meter (after a swap)");
  sub->add_option("old", *old_id, "the meter taken out")->required()->type_name("OLD");
  sub->add_option("new", *new_id, "the meter put in (created at OLD's address if unknown)")
      ->required()
      ->type_name("NEW");
  sub->add_option("--time", *when, "when the swap happened (default: now)")->type_name("TIME");
  sub->callback([&ctx, old_id, new_id, when] {
    ctx.action = [&ctx, old_id, new_id, when] {
      auto t = parse_time(*when);
      if (!t) throw t.error();
      auto& db = ctx.db();
      auto old_meter = site::get_meter_in_service(db, *old_id);
      bool created = !site::find_meter(db, *new_id).has_value();
      if (created) site::check_name("meter", *new_id);
      storage::Transaction tx(db);
      if (created) {
        // Free the bus address first, then put the new meter where the old one was.
        db.prepare("UPDATE meters SET removed = ?2 WHERE id = ?1").bind_all(old_meter.id, *t).run();
        db.prepare("INSERT INTO meters(name, gateway_id, unit, profile, kind, building, room, relay_mode, "
                   "overload_w, max_power_w, created, address, device) "
                   "SELECT ?1, gateway_id, unit, profile, kind, building, room, relay_mode, overload_w, "
                   "max_power_w, ?3, address, device FROM meters WHERE id = ?2")
            .bind_all(*new_id, old_meter.id, now())
            .run();
      }
      billing::replace_meter(db, *old_id, *new_id, *t);
      tx.commit();
      output::Json o = output::Json::object();
      o.set("old", *old_id).set("new", *new_id).set("time", format_time(*t)).set("created", created);
      if (ctx.format() == output::Format::json) ctx.print(o);
      else if (ctx.quiet) ctx.out() << *new_id << '\n';
      else
        ctx.out() << fmt::format("meter {} replaced by {}{}\n", *old_id, *new_id,
                                 created ? fmt::format(" (added at {}'s address)", *old_id) : "");
      return 0;
    };
  });
}

} // namespace

struct SyncOptions {
  MeterChoice choice;
  std::optional<double> wait;
};

// kwh meter sync-time: queues a sync_time command for kwhd per meter whose profile names a clock.
int sync_time(Context& ctx, const SyncOptions& o) {
  auto& db = ctx.db();
  auto meters = chosen_meters(db, o.choice, "meter sync-time");
  // Meters named one by one must all keep a clock; of a building or --all, the others are rows
  // of their own, unsupported.
  std::vector<site::Meter> clocked;
  std::vector<Unsupported> unsupported;
  for (const auto& m : meters) {
    auto profile = site::meter_profile(db, m, ctx.config().profiles);
    if (profile.clock) clocked.push_back(m);
    else if (!o.choice.meters.empty()) fail(Exit::data, "meter {}: its profile {} names no clock ([clock]) to set", m.name, profile.name);
    else unsupported.push_back({m.name, fmt::format("its profile {} names no clock", profile.name)});
  }
  if (clocked.empty()) fail(Exit::data, "none of the {} meters has a profile that names a clock ([clock])", meters.size());
  if (!unsupported.empty())
    std::cerr << fmt::format("kwh: note: {} of {} meters skipped: their profiles name no clock\n", unsupported.size(),
                             meters.size());
  std::vector<std::int64_t> ids;
  storage::Transaction tx(db);
  for (const auto& m : clocked)
    ids.push_back(site::queue_command(db, site::NewCommand{.meter_id = m.id, .action = "sync_time", .operator_name = operator_of(ctx)}));
  tx.commit();
  return report_queued(ctx, ids, o.wait, "sync-time", unsupported);
}

void add_sync_time(CLI::App* parent, Context& ctx) {
  auto o = std::make_shared<SyncOptions>();
  auto* sub = parent->add_subcommand("sync-time", "set meters' clocks to kwh's (queued for kwhd)");
  add_meter_choice(sub, o->choice, "every meter whose profile names a clock");
  sub->add_option("--wait", o->wait, "wait until kwhd has set the clocks")->check(within(0, 86400))->type_name("SECONDS");
  sub->footer("kwhd reads each meter's clock, sets it to kwh's and reads it back; `kwh meter show` shows the drift\n"
              "read back (clock_drift_s). Modbus meters need a [clock] in their profile; DL/T 645 meters are set\n"
              "by broadcast time, which a meter takes only within 5 minutes of its own clock.");
  sub->callback([&ctx, o] { ctx.action = [&ctx, o] { return sync_time(ctx, *o); }; });
}

void add_meter(CLI::App& app, Context& ctx) {
  auto* sub = app.add_subcommand("meter", "manage meters and read them");
  sub->require_subcommand(1);
  add_add(sub, ctx);
  add_import(sub, ctx, import::Kind::meters);
  add_list(sub, ctx);
  add_show(sub, ctx);
  add_read(sub, ctx);
  add_set(sub, ctx);
  add_replace(sub, ctx);
  add_remove(sub, ctx);
  add_sync_time(sub, ctx);
}

} // namespace kwh::cli
