// kwh tariff: add tariffs and their versions, list and show them.

#include "context.hpp"
#include "queued.hpp"

#include <kwh/billing/tariff.hpp>
#include <kwh/site/command.hpp>
#include <kwh/site/issue.hpp>
#include <kwh/site/meter.hpp>
#include <kwh/util/time.hpp>

#include <fmt/format.h>

#include <fstream>
#include <iostream>
#include <sstream>

namespace kwh::cli {

namespace {

output::Json version_json(const billing::StoredVersion& sv, int minor_units) {
  const auto& v = sv.version;
  auto o = output::Json::object();
  o.set("effective", format_date(v.effective));
  o.set("unit", v.unit);
  o.set("kind", billing::kind_name(v.kind));
  if (v.kind == billing::TariffKind::flat) o.set("price", v.flat_price.format());
  if (v.kind == billing::TariffKind::tou) {
    auto bands = output::Json::object();
    for (const auto& [b, p] : v.bands) bands.set(b, p.format());
    o.set("bands", bands);
    auto windows = output::Json::array();
    for (const auto& w : v.windows) {
      auto wj = output::Json::object();
      wj.set("band", w.band);
      wj.set("from", billing::format_minutes(w.from_minute));
      wj.set("to", billing::format_minutes(w.to_minute));
      static const char* k_days[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
      auto days = output::Json::array();
      for (int d = 0; d < 7; ++d)
        if (w.days >> d & 1u) days.push(k_days[d]);
      wj.set("days", days);
      windows.push(wj);
    }
    o.set("windows", windows);
  }
  if (v.kind == billing::TariffKind::tiers) {
    auto tiers = output::Json::array();
    for (const auto& t : v.tiers) {
      auto tj = output::Json::object();
      tj.set("upto", t.upto ? output::Json(format_decimal(*t.upto, 3)) : output::Json());
      tj.set("price", t.price.format());
      tiers.push(tj);
    }
    o.set("tiers", tiers);
  }
  if (v.standing_period != billing::StandingPeriod::none) {
    o.set("standing_charge", v.standing_charge.format(minor_units));
    o.set("standing_period", v.standing_period == billing::StandingPeriod::day ? "day" : "month");
  }
  return o;
}

// One line per version for the table format.
std::string prices_text(const billing::TariffVersion& v) {
  std::string s;
  switch (v.kind) {
  case billing::TariffKind::flat: s = v.flat_price.format(); break;
  case billing::TariffKind::tou:
    for (const auto& [b, p] : v.bands) s += (s.empty() ? "" : " ") + b + "=" + p.format();
    break;
  case billing::TariffKind::tiers:
    for (const auto& t : v.tiers)
      s += (s.empty() ? "" : " ") + (t.upto ? "<=" + format_decimal(*t.upto, 3) : std::string("rest")) + ":" +
           t.price.format();
    break;
  }
  return s;
}

struct IssueOptions {
  std::string name;
  MeterChoice choice;
  std::optional<double> wait;
};

// kwh tariff issue: the version in force now, written to each meter whose profile says where
// ([tariff]), as 'set' commands for kwhd (one per register block), read back by kwhd.
int issue(Context& ctx, const IssueOptions& o) {
  auto& db = ctx.db();
  auto info = billing::find_tariff(db, o.name);
  billing::TariffHistory history(billing::tariff_versions(db, info.id, ctx.minor_units()));
  const auto* version = history.at(now());
  if (!version) fail(Exit::data, "tariff {} has no version in force yet", info.name);
  auto meters = chosen_meters(db, o.choice, "tariff issue");
  const bool named = !o.choice.meters.empty();
  std::vector<std::pair<site::Meter, std::vector<site::RegisterWrite>>> plan;
  std::vector<Unsupported> unsupported;
  for (const auto& m : meters) {
    auto profile = site::meter_profile(db, m, ctx.config().profiles);
    std::string why;
    if (!profile.tariff) {
      why = fmt::format("its profile {} names no place for a tariff ([tariff])", profile.name);
    } else {
      auto writes = site::tariff_writes(*profile.tariff, *version);
      if (writes) plan.emplace_back(m, std::move(*writes));
      else why = fmt::format("tariff {} cannot be kept by it: {}", info.name, writes.error().what());
    }
    if (why.empty()) continue;
    if (named) fail(Exit::data, "meter {}: {}", m.name, why);
    unsupported.push_back({m.name, why});
  }
  if (plan.empty()) fail(Exit::data, "none of the {} meters can take tariff {}: {}", meters.size(), info.name, unsupported.front().why);
  if (!unsupported.empty())
    std::cerr << fmt::format("kwh: note: {} of {} meters skipped: see their rows\n", unsupported.size(), meters.size());
  std::vector<std::int64_t> ids;
  storage::Transaction tx(db);
  for (auto& [m, writes] : plan)
    for (auto& w : writes) {
      w.what = fmt::format("tariff {} {} {}", info.name, format_date(version->effective), w.what);
      ids.push_back(site::queue_command(db, site::NewCommand{.meter_id = m.id, .action = "set",
                                                             .argument = site::write_argument(w),
                                                             .operator_name = operator_of(ctx)}));
    }
  tx.commit();
  return report_queued(ctx, ids, o.wait, "tariff issue", unsupported);
}

} // namespace

void add_tariff(CLI::App& app, Context& ctx) {
  auto* group = app.add_subcommand("tariff", "add, list and show tariffs");
  group->require_subcommand(1);

  struct AddOptions {
    std::string name;
    std::optional<std::string> flat, file, effective, unit;
  };
  auto add_opts = std::make_shared<AddOptions>();
  auto* add = group->add_subcommand(
      "add", "add a tariff, or a new version of an existing one (a bad tariff file is exit 65, naming file:line "
             "and the key)");
  add->add_option("name", add_opts->name, "the tariff's name")->required()->type_name("NAME");
  auto* flat = add->add_option("--flat", add_opts->flat, "a flat price per kWh (or m3), up to 4 decimals")
                   ->type_name("PRICE");
  auto* file = add->add_option("--file", add_opts->file, "a tariff file (TOML; see kwh-tariff(5))")
                   ->type_name("FILE.toml");
  flat->excludes(file);
  add->add_option("--effective", add_opts->effective, "with --flat: the site-local date it starts (default: now)")
      ->type_name("DATE")
      ->excludes(file);
  add->add_option("--unit", add_opts->unit, "with --flat: kWh (default) or m3")->type_name("kWh|m3")->excludes(file);
  add->callback([&ctx, add_opts] {
    ctx.action = [&ctx, add_opts] {
      auto& o = *add_opts;
      if (!o.flat && !o.file) fail(Exit::usage, "tariff add needs --flat PRICE or --file FILE.toml");
      int mu = ctx.minor_units();
      billing::TariffVersion v;
      std::string body;
      if (o.flat) {
        auto price = Price::parse(*o.flat);
        if (!price) fail(Exit::data, "--flat: {}", price.error().what());
        UnixTime effective = now();
        if (o.effective) {
          auto d = parse_date(*o.effective);
          if (!d) fail(Exit::data, "--effective: {}", d.error().what());
          effective = *d;
        }
        std::string unit = o.unit.value_or("kWh");
        if (unit != "kWh" && unit != "m3") fail(Exit::usage, "--unit must be kWh or m3");
        body = billing::flat_tariff_body(*price, effective, unit);
        v = billing::parse_tariff(body, "--flat", effective, mu);
        v.effective = effective;
      } else {
        std::ifstream in(*o.file);
        if (!in) fail(Exit::no_input, "cannot read tariff file {}", *o.file);
        std::stringstream ss;
        ss << in.rdbuf();
        body = ss.str();
        v = billing::parse_tariff(body, *o.file, now(), mu);
      }
      auto& db = ctx.db();
      storage::Transaction tx(db);
      billing::add_tariff_version(db, o.name, v, body, now(), mu);
      tx.commit();
      if (ctx.format() == output::Format::json) {
        auto j = output::Json::object();
        j.set("tariff", o.name);
        j.set("effective", format_date(v.effective));
        j.set("kind", billing::kind_name(v.kind));
        j.set("unit", v.unit);
        ctx.print(j);
      } else if (ctx.quiet) {
        ctx.out() << o.name << '\n';
      } else {
        ctx.out() << "tariff " << o.name << ": " << billing::kind_name(v.kind) << " version effective "
                  << format_date(v.effective) << " (" << prices_text(v) << " per " << v.unit << ")\n";
      }
      return 0;
    };
  });

  auto io = std::make_shared<IssueOptions>();
  auto* iss = group->add_subcommand("issue", "write a tariff's prices and time-of-use plan to meters (queued for kwhd)");
  iss->add_option("name", io->name, "the tariff")->required()->type_name("NAME");
  add_meter_choice(iss, io->choice, "every meter whose profile keeps a tariff");
  iss->add_option("--wait", io->wait, "wait until kwhd has written them")->check(within(0, 86400))->type_name("SECONDS");
  iss->footer("The version in force now is written where the meter's profile says ([tariff.prices], [tariff.plan]),\n"
              "and read back by kwhd; issue again when a new version comes into force. Each meter gets one command\n"
              "per register block; a meter that cannot keep the tariff (no [tariff], monthly tiers, windows that\n"
              "differ by weekday, more switching points than its slots) is a row of its own, unsupported.");
  iss->callback([&ctx, io] { ctx.action = [&ctx, io] { return issue(ctx, *io); }; });

  auto* list = group->add_subcommand("list", "list tariffs with the version in force now");
  list->callback([&ctx] {
    ctx.action = [&ctx] {
      auto& db = ctx.db();
      output::Table t;
      t.columns = {{"tariff"}, {"kind"}, {"unit"}, {"effective", output::Kind::date}, {"prices"},
                   {"versions", output::Kind::integer}};
      for (const auto& info : billing::list_tariffs(db)) {
        billing::TariffHistory h(billing::tariff_versions(db, info.id, ctx.minor_units()));
        const auto* v = h.at(now());
        if (!v && !h.versions().empty()) v = &h.versions().front().version;
        if (!v) continue;
        t.add({info.name, billing::kind_name(v->kind), v->unit, format_date(v->effective), prices_text(*v),
               static_cast<std::int64_t>(h.versions().size())});
      }
      ctx.print(t);
      return 0;
    };
  });

  auto show_name = std::make_shared<std::string>();
  auto* show = group->add_subcommand("show", "show a tariff's versions and prices");
  show->add_option("name", *show_name, "the tariff")->required()->type_name("NAME");
  show->callback([&ctx, show_name] {
    ctx.action = [&ctx, show_name] {
      auto& db = ctx.db();
      auto info = billing::find_tariff(db, *show_name);
      auto versions = billing::tariff_versions(db, info.id, ctx.minor_units());
      if (ctx.format() == output::Format::table && !ctx.quiet) {
        output::Table t;
        t.columns = {{"effective", output::Kind::date}, {"kind"}, {"unit"}, {"prices"}, {"windows"}};
        for (const auto& sv : versions) {
          std::string windows;
          for (const auto& w : sv.version.windows)
            windows += (windows.empty() ? "" : " ") + w.band + " " + billing::format_minutes(w.from_minute) + "-" +
                       billing::format_minutes(w.to_minute);
          t.add({format_date(sv.version.effective), billing::kind_name(sv.version.kind), sv.version.unit,
                 prices_text(sv.version), windows});
        }
        ctx.out() << "tariff " << info.name << "\n";
        ctx.print(t);
        return 0;
      }
      auto o = output::Json::object();
      o.set("tariff", info.name);
      auto arr = output::Json::array();
      for (const auto& sv : versions) arr.push(version_json(sv, ctx.minor_units()));
      o.set("versions", arr);
      ctx.print(o);
      return 0;
    };
  });
}

} // namespace kwh::cli
