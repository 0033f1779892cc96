// kwh reading: import readings from CSV, list them, accept or reject held ones, prune them.

#include "context.hpp"
#include "progress.hpp"

#include <kwh/billing/account.hpp>
#include <kwh/billing/biller.hpp>
#include <kwh/billing/import.hpp>
#include <kwh/billing/payment.hpp>
#include <kwh/readings/maintenance.hpp>
#include <kwh/readings/store.hpp>
#include <kwh/site/meter.hpp>
#include <kwh/util/time.hpp>

#include <fstream>
#include <limits>

namespace kwh::cli {

namespace {

// The operator authorize() found; the login name when run without it (tests).
std::string operator_of(const Context& ctx) {
  return ctx.operator_name.empty() ? billing::operator_name() : ctx.operator_name;
}

output::Json opt_int(const std::optional<std::int64_t>& v) { return v ? output::Json(*v) : output::Json(); }

std::optional<UnixTime> time_option(const std::optional<std::string>& text, const char* option) {
  if (!text) return std::nullopt;
  auto t = parse_time(*text);
  if (!t) fail(Exit::data, "{}: {}", option, t.error().what());
  return *t;
}

} // namespace

void add_reading(CLI::App& app, Context& ctx) {
  auto* group = app.add_subcommand("reading", "import, list, accept, reject and prune readings");
  group->require_subcommand(1);

  auto file = std::make_shared<std::string>();
  auto* import = group->add_subcommand(
      "import", "import readings from CSV (header meter,time,energy_total[,...]) and bill them; a file with a bad "
                "line is rejected whole (exit 65)");
  import->add_option("file", *file, "the CSV file, or - for standard input")->required()->type_name("FILE.csv");
  import->callback([&ctx, file] {
    ctx.action = [&ctx, file] {
      auto& db = ctx.db();
      db.exec("PRAGMA wal_autocheckpoint = 1000"); // a big import checkpoints as it goes (see Context::db)
      Progress progress(!ctx.quiet);
      const std::string shown = *file == "-" ? std::string("standard input") : *file;
      auto on_progress = [&](const billing::ImportProgress& p) {
        if (p.phase == billing::ImportProgress::Phase::reading)
          progress.show(fmt::format("kwh: importing {}: read {} lines", shown, p.done));
        else
          progress.show(fmt::format("kwh: importing {}: billing {} of {} readings ({}%)", shown, p.done, p.total,
                                    p.total ? p.done * 100 / p.total : 100),
                        p.done == 0);
      };
      billing::ImportSummary s;
      if (*file == "-") {
        s = billing::import_readings(db, ctx.config(), std::cin, "<stdin>", {}, on_progress);
      } else {
        std::ifstream in(*file);
        if (!in) fail(Exit::no_input, "cannot read {}", *file);
        s = billing::import_readings(db, ctx.config(), in, *file, {}, on_progress);
      }
      progress.clear();
      if (ctx.format() == output::Format::json) {
        auto o = output::Json::object();
        o.set("lines", s.lines);
        o.set("stored", s.stored);
        o.set("skipped", s.skipped);
        o.set("held", s.held);
        o.set("counter_resets", s.resets);
        o.set("charged", ctx.money(s.charged));
        o.set("commands", s.commands);
        ctx.print(o);
      } else if (!ctx.quiet) {
        ctx.out() << "imported " << s.stored << " reading(s), skipped " << s.skipped << ", held " << s.held
                  << ", counter resets " << s.resets << "; charged " << ctx.money(s.charged) << "\n";
      }
      return 0;
    };
  });

  struct ListOptions {
    std::string meter;
    std::optional<std::string> from, to;
    bool held = false;
  };
  auto lo = std::make_shared<ListOptions>();
  auto* list = group->add_subcommand("list", "list a meter's stored readings (or, with --held, its held ones)");
  list->add_option("meter", lo->meter, "the meter ID")->required()->type_name("METER");
  list->add_option("--from", lo->from, "from this time")->type_name("T");
  list->add_option("--to", lo->to, "before this time")->type_name("T");
  list->add_flag("--held", lo->held, "readings held as implausible, with their ids for accept/reject");
  list->callback([&ctx, lo] {
    ctx.action = [&ctx, lo] {
      auto& db = ctx.db();
      // A removed meter's readings are still its history.
      std::int64_t meter_id = site::get_meter(db, lo->meter).id;
      auto from = time_option(lo->from, "--from");
      auto to = time_option(lo->to, "--to");
      output::Table t;
      if (lo->held) {
        t.columns = {{"id", output::Kind::integer}, {"time", output::Kind::time}, {"value", output::Kind::integer},
                     {"state"}, {"reason"}};
        auto st = db.prepare("SELECT id, t, value, state, reason FROM held_readings WHERE meter_id = ?1 AND "
                             "(?2 IS NULL OR t >= ?2) AND (?3 IS NULL OR t < ?3) ORDER BY t");
        st.bind(1, meter_id).bind(2, from).bind(3, to);
        while (st.step())
          t.add({st.get_int(0), format_time(st.get_int(1)), st.get_int(2), st.get_text(3), st.get_text(4)});
      } else {
        t.columns = {{"time", output::Kind::time},     {"value", output::Kind::integer},
                     {"sharp", output::Kind::integer}, {"peak", output::Kind::integer},
                     {"flat", output::Kind::integer},  {"valley", output::Kind::integer},
                     {"power", output::Kind::integer}, {"flags"}};
        readings::scan(db, meter_id, from.value_or(std::numeric_limits<UnixTime>::min()),
                       to.value_or(std::numeric_limits<UnixTime>::max()), [&](const readings::Reading& r) {
                         std::string f;
                         if (r.flags & readings::k_flag_imported) f += "imported";
                         if (r.flags & readings::k_flag_baseline) f += std::string(f.empty() ? "" : " ") + "baseline";
                         t.add({format_time(r.t), r.value, opt_int(r.sharp), opt_int(r.peak), opt_int(r.flat),
                                opt_int(r.valley), opt_int(r.power), f});
                         return true;
                       });
      }
      ctx.print(t);
      return 0;
    };
  });

  auto dry_run = std::make_shared<bool>(false);
  auto* prune = group->add_subcommand(
      "prune", "apply [retention] now: move recent readings into blocks, thin raw readings older than raw to one "
               "per thin_to, remove old events, return free pages; kwhd does this once a day");
  prune->add_flag("--dry-run", *dry_run, "count what would be removed and freed; write nothing");
  prune->callback([&ctx, dry_run] {
    ctx.action = [&ctx, dry_run] {
      auto& db = ctx.db();
      const auto& r = ctx.config().retention;
      readings::Policy policy;
      if (r.raw) policy.raw = r.raw->count();
      policy.thin_to = r.thin_to.count();
      if (r.events) policy.events = r.events->count();
      Progress progress(!ctx.quiet);
      auto s = readings::prune(db, policy, now(), *dry_run, [&](readings::Phase phase, const readings::Stats& st) {
        progress.show(fmt::format("kwh: pruning {}: {} (readings removed so far: {}, events: {})", db.path(),
                                  readings::phase_name(phase), st.readings_removed, st.events_removed));
      });
      progress.clear();
      if (*dry_run) ctx.audit_written = true; // nothing was done: nothing to audit
      const double mb = static_cast<double>(std::max<std::int64_t>(s.bytes_freed, 0)) / 1e6;
      if (ctx.format() == output::Format::json) {
        auto o = output::Json::object();
        o.set("dry_run", *dry_run);
        o.set("rows_compacted", static_cast<std::int64_t>(s.rows_compacted));
        o.set("readings_removed", static_cast<std::int64_t>(s.readings_removed));
        o.set("readings_kept", static_cast<std::int64_t>(s.readings_kept));
        o.set("events_removed", static_cast<std::int64_t>(s.events_removed));
        o.set("bytes_freed", s.bytes_freed);
        ctx.print(o);
      } else if (!ctx.quiet) {
        ctx.out() << fmt::format("{} {} reading(s) and {} event(s); {} {:.1f} MB; {} recent reading(s) {} into "
                                 "blocks\n",
                                 *dry_run ? "would remove" : "removed", s.readings_removed, s.events_removed,
                                 *dry_run ? "would free about" : "freed about", mb, s.rows_compacted,
                                 *dry_run ? "would move" : "moved");
      }
      return 0;
    };
  });

  for (bool accept : {true, false}) {
    auto id = std::make_shared<std::int64_t>(0);
    auto* sub = group->add_subcommand(accept ? "accept" : "reject",
                                      accept ? "accept a held reading: bill it as if it had just arrived"
                                             : "reject a held reading: discard it; the baseline stays");
    sub->add_option("id", *id, "the held reading's id (kwh reading list METER --held)")->required()->type_name("ID");
    sub->callback([&ctx, id, accept] {
      ctx.action = [&ctx, id, accept] {
        auto& db = ctx.db();
        storage::Transaction tx(db);
        billing::Biller biller(db, ctx.config());
        std::string summary;
        std::int64_t charged = 0;
        if (accept) {
          auto res = biller.accept_held(*id, operator_of(ctx));
          summary = res.summary();
          charged = res.charged;
          // A reading of a day that is over closes that day, as kwhd would.
          biller.post_days_over();
        } else {
          biller.reject_held(*id, operator_of(ctx));
          summary = "rejected held reading " + std::to_string(*id);
        }
        tx.commit();
        if (ctx.format() == output::Format::json) {
          auto o = output::Json::object();
          o.set("id", *id);
          o.set("state", accept ? "accepted" : "rejected");
          o.set("charged", ctx.money(charged));
          ctx.print(o);
        } else if (!ctx.quiet) {
          ctx.out() << summary << "\n";
        }
        return 0;
      };
    });
  }
}

} // namespace kwh::cli
