// kwh hub: the office's PostgreSQL hub that kwhd pushes the site's outbox to (kwh-hub(1)).
// The office's commands (`hub init`, `sell`, `report`, `check`) need no site database:
// PostgreSQL authorizes them (the connection's role and pg_hba.conf). `hub status` shows this
// site's push state from its own database, without asking the hub.

#include "context.hpp"

#include <kwh/hub/check.hpp>
#include <kwh/hub/hub.hpp>
#include <kwh/hub/intent.hpp>
#include <kwh/hub/report.hpp>
#include <kwh/hub/outbox.hpp>
#include <kwh/util/time.hpp>

#include <chrono>
#include <cstdlib>
#include <thread>

namespace kwh::cli {

namespace {

output::Json opt_time(const std::optional<std::int64_t>& t) {
  return t ? output::Json(format_time(*t)) : output::Json();
}
output::Json opt_text(const std::optional<std::string>& s) { return s ? output::Json(*s) : output::Json(); }

// The hub an office command talks to: --url, else $KWH_HUB_URL, else [hub] url.
std::string hub_url(Context& ctx, const std::optional<std::string>& url_option) {
  if (url_option) return *url_option;
  if (const char* env = std::getenv("KWH_HUB_URL"); env && *env) return env;
  const std::string url = ctx.config().hub.url;
  if (url.empty()) fail(Exit::config, "no hub: give --url, set KWH_HUB_URL, or set [hub] url in the configuration");
  return url;
}

int init(Context& ctx, const std::optional<std::string>& url_option) {
  auto conn = hub::PgConnection::connect(hub_url(ctx, url_option));
  const int before = hub::hub_schema_version(*conn);
  const int applied = hub::init_schema(*conn);
  const int version = hub::hub_schema_version(*conn);
  if (ctx.format() == output::Format::json) {
    ctx.print(output::Json::object().set("hub", conn->where()).set("version", version).set("applied", applied));
  } else if (!ctx.quiet) {
    if (applied == 0)
      ctx.out() << fmt::format("hub {}: schema version {}, current\n", conn->where(), version);
    else
      ctx.out() << fmt::format("hub {}: schema version {} (was {})\n", conn->where(), version, before);
  }
  return 0;
}

int status(Context& ctx) {
  const auto& cfg = ctx.config().hub;
  const hub::OutboxState s = hub::read_state(ctx.db());
  output::Json o = output::Json::object();
  o.set("enabled", cfg.enabled());
  o.set("site_id", cfg.site_id.empty() ? output::Json() : output::Json(cfg.site_id));
  o.set("epoch", s.epoch);
  o.set("rows_waiting", s.waiting);
  o.set("oldest_waiting", opt_time(s.oldest_waiting));
  o.set("last_push", opt_time(s.last_push));
  o.set("pushed_seq", s.pushed);
  o.set("last_seq", s.max_seq);
  o.set("last_error", opt_text(s.last_error));
  o.set("last_error_time", opt_time(s.last_error_time));
  o.set("alarm", opt_text(s.alarm));
  if (ctx.format() == output::Format::json) {
    ctx.print(o);
    return 0;
  }
  for (const auto& [key, value] : o.as_object()) {
    std::string text = value.is_null() ? "-" : value.text();
    ctx.out() << fmt::format("{:<16} {}\n", key, text);
  }
  return 0;
}

// A new epoch for this site's database, after it was restored from an older copy and the hub
// refused it (an alarm); kwhd's next push has the hub keep the old epoch's rows apart.
int reset_epoch(Context& ctx) {
  const auto& cfg = ctx.config().hub;
  auto& db = ctx.db();
  storage::Transaction tx(db);
  const hub::OutboxState before = hub::read_state(db);
  if (!before.alarm && !ctx.yes)
    fail(Exit::usage, "the hub has no alarm for this site; a new epoch pushes its whole ledger again and the hub "
                      "keeps the old rows apart: add --yes to start one anyway");
  const hub::EpochReset r = hub::reset_epoch(db, now());
  tx.commit();
  const std::string site = cfg.site_id.empty() ? std::string("SITE") : cfg.site_id;
  const std::string kept = fmt::format("{}@{}", site, r.previous.substr(0, 8));
  if (ctx.format() == output::Format::json) {
    ctx.print(output::Json::object()
                  .set("site_id", cfg.site_id.empty() ? output::Json() : output::Json(cfg.site_id))
                  .set("epoch", r.epoch)
                  .set("previous_epoch", r.previous)
                  .set("rows_waiting", r.rows)
                  .set("kept_as", kept));
  } else if (!ctx.quiet) {
    ctx.out() << fmt::format("new epoch {} (was {}): {} rows to push from seq 1; the hub keeps the rows of the old "
                             "epoch apart as site {} when kwhd next pushes\n",
                             r.epoch, r.previous, r.rows, kept);
  }
  return 0;
}

struct SellOptions {
  std::optional<std::string> url, operator_name;
  std::string site, account, amount, ref, method = "cash";
  std::optional<double> wait;
};

output::Json intent_json(Context& ctx, const hub::Intent& i, bool existing) {
  auto money = [&](std::optional<std::int64_t> m) { return m ? output::Json(ctx.money(*m)) : output::Json(); };
  return output::Json::object()
      .set("site", i.site_id)
      .set("ref", i.ref)
      .set("account", i.account)
      .set("amount", ctx.money(i.amount))
      .set("method", i.method)
      .set("operator", i.operator_name)
      .set("created", i.created)
      .set("state", i.state)
      .set("existing", existing)
      .set("receipt", i.receipt ? output::Json(*i.receipt) : output::Json())
      .set("balance", money(i.balance))
      .set("error", opt_text(i.error));
}

int sell(Context& ctx, const SellOptions& o) {
  hub::Intent want;
  want.site_id = o.site;
  want.account = o.account;
  want.amount = ctx.parse_money(o.amount).minor();
  if (want.amount <= 0) fail(Exit::data, "the amount must be above zero: {}", o.amount);
  want.ref = o.ref;
  want.method = o.method;
  auto conn = hub::PgConnection::connect(hub_url(ctx, o.url));
  hub::require_current_schema(*conn);
  want.operator_name = o.operator_name ? *o.operator_name : conn->exec("SELECT current_user").text(0, 0);
  const hub::Placed placed = hub::place_intent(*conn, want);
  hub::Intent intent = placed.intent;
  if (o.wait) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(static_cast<long>(*o.wait * 1000));
    while (intent.state == "pending" && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      if (auto found = hub::find_intent(*conn, intent.site_id, intent.ref)) intent = *found;
    }
  }
  int rc = 0;
  if (intent.state == "refused") rc = static_cast<int>(Exit::data);
  else if (intent.state == "pending" && o.wait) rc = static_cast<int>(Exit::temporary);
  if (ctx.format() == output::Format::json) {
    ctx.print(intent_json(ctx, intent, placed.existing));
  } else if (intent.state == "done") {
    if (!ctx.quiet)
      ctx.out() << fmt::format("site {} receipt {}: {} {} ({}), balance {}{}\n", intent.site_id, *intent.receipt,
                               intent.account, ctx.money(intent.amount), intent.method, ctx.money(*intent.balance),
                               placed.existing ? " (already sold with this --ref)" : "");
  } else if (intent.state == "refused") {
    std::cerr << fmt::format("kwh: site {} refused top-up {}: {}\n", intent.site_id, intent.ref,
                             intent.error.value_or("?"));
  } else if (o.wait) {
    std::cerr << fmt::format("kwh: queued: site {} has not taken top-up {} yet ({} {}); it is applied when the "
                             "site's kwhd next reaches the hub\n",
                             intent.site_id, intent.ref, intent.account, ctx.money(intent.amount));
  } else if (!ctx.quiet) {
    ctx.out() << fmt::format("queued: top-up {} for {} at site {}: {}{}\n", intent.ref, intent.account,
                             intent.site_id, ctx.money(intent.amount),
                             placed.existing ? " (already queued with this --ref)" : "");
  }
  return rc;
}

struct ReportArgs {
  std::optional<std::string> url, site, from, to, by;
  std::string name;
  bool all = false;
};

int hub_report(Context& ctx, const ReportArgs& a) {
  if (a.site.has_value() == a.all) fail(Exit::usage, "kwh hub report needs --site S or --all");
  report::Options o;
  ctx.config(); // the office's zone, before any date is read
  o.name = *report::parse_name(a.name);
  o.from = a.from, o.to = a.to;
  if (a.by) {
    o.by = report::parse_by(*a.by);
    if (!o.by) fail(Exit::usage, "--by must be day, month, year, operator, account or meter, not '{}'", *a.by);
  }
  o.minor_units = ctx.minor_units();
  hub::ReportRequest r{report::prepare(o), a.site};
  if (ctx.format() == output::Format::xlsx) fail(Exit::usage, "kwh hub report prints table, csv or json");
  auto conn = hub::PgConnection::connect(hub_url(ctx, a.url));
  hub::require_current_schema(*conn);
  ctx.print(hub::hub_report(*conn, r));
  return 0;
}

int hub_check(Context& ctx, const std::optional<std::string>& site, bool all, const std::optional<std::string>& url) {
  if (site && all) fail(Exit::usage, "kwh hub check takes --site S or --all, not both");
  auto conn = hub::PgConnection::connect(hub_url(ctx, url));
  hub::require_current_schema(*conn);
  std::vector<std::string> sites;
  if (site) {
    sites.push_back(*site);
  } else {
    auto r = conn->exec("SELECT site_id FROM sites ORDER BY site_id");
    for (int i = 0; i < r.rows(); ++i) sites.push_back(r.text(i, 0));
  }
  std::size_t problems = 0;
  for (const auto& s : sites) {
    const auto found = hub::check_site(*conn, s);
    for (const auto& line : found) ctx.out() << line << '\n';
    problems += found.size();
  }
  if (problems == 0 && !ctx.quiet)
    ctx.out() << fmt::format("hub {}: {} checked, clean\n", conn->where(),
                             sites.size() == 1 ? "site " + sites.front() : std::to_string(sites.size()) + " sites");
  return problems == 0 ? 0 : 1;
}

} // namespace

void add_hub(CLI::App& app, Context& ctx) {
  auto* hub = app.add_subcommand("hub", "the office's hub: make its schema, show this site's pushes");
  hub->require_subcommand(1);

  auto url = std::make_shared<std::optional<std::string>>();
  auto* init_cmd = hub->add_subcommand("init", "create or migrate the hub's schema (exit 0 when it is current)");
  init_cmd->add_option("--url", *url, "the hub's PostgreSQL (default: $KWH_HUB_URL, [hub] url)");
  init_cmd->callback([&ctx, url] { ctx.action = [&ctx, url] { return init(ctx, *url); }; });

  auto* status_cmd =
      hub->add_subcommand("status", "this site's pushes: rows waiting, the oldest, the last push, errors, alarm");
  status_cmd->callback([&ctx] { ctx.action = [&ctx] { return status(ctx); }; });

  auto so = std::make_shared<SellOptions>();
  auto* sell_cmd = hub->add_subcommand("sell", "sell a top-up at the office, for a site's kwhd to apply once");
  sell_cmd->add_option("SITE", so->site, "the site's [hub] site_id")->required();
  sell_cmd->add_option("ACCOUNT", so->account, "the account ID at the site")->required();
  sell_cmd->add_option("MONEY", so->amount, "the amount, in the site's money")->required();
  sell_cmd->add_option("--ref", so->ref, "idempotency key, unique per site: the same key again sells nothing more")
      ->required()
      ->type_name("KEY");
  sell_cmd->add_option("--method", so->method, "cash, card, transfer or online (default cash)")
      ->check(CLI::IsMember({"cash", "card", "transfer", "online"}));
  sell_cmd->add_option("--wait", so->wait, "wait up to SECONDS for the site's receipt (exit 75: queued)")
      ->type_name("SECONDS")
      ->check(within(0, 3600));
  sell_cmd->add_option("--operator", so->operator_name, "who sold it (default: the PostgreSQL user)");
  sell_cmd->add_option("--url", so->url, "the hub's PostgreSQL (default: $KWH_HUB_URL, [hub] url)");
  sell_cmd->callback([&ctx, so] { ctx.action = [&ctx, so] { return sell(ctx, *so); }; });

  auto ra = std::make_shared<ReportArgs>();
  auto* report_cmd = hub->add_subcommand("report", "sales, balances or energy of one site or all, from the hub");
  report_cmd->add_option("report", ra->name, "sales|balances|energy")
      ->required()
      ->type_name("REPORT")
      ->check(CLI::IsMember({"sales", "balances", "energy"}));
  report_cmd->add_option("--site", ra->site, "one site (its site_id)")->type_name("S");
  report_cmd->add_flag("--all", ra->all, "every site");
  report_cmd->add_option("--from", ra->from, "first date (default: start of this month)")->type_name("DATE");
  report_cmd->add_option("--to", ra->to, "last date, whole day included (default: today)")->type_name("DATE");
  report_cmd->add_option("--by", ra->by, "group by day|month|year|operator|account|meter")->type_name("KEY");
  report_cmd->add_option("--url", ra->url, "the hub's PostgreSQL (default: $KWH_HUB_URL, [hub] url)");
  report_cmd->callback([&ctx, ra] { ctx.action = [&ctx, ra] { return hub_report(ctx, *ra); }; });

  auto check_site = std::make_shared<std::optional<std::string>>();
  auto check_all = std::make_shared<bool>(false);
  auto check_url = std::make_shared<std::optional<std::string>>();
  auto* check_cmd =
      hub->add_subcommand("check", "prove the hub's copy of sites: ledger hashes and balances, no missing rows");
  check_cmd->add_option("--site", *check_site, "one site (its site_id)")->type_name("S");
  check_cmd->add_flag("--all", *check_all, "every site (the default)");
  check_cmd->add_option("--url", *check_url, "the hub's PostgreSQL (default: $KWH_HUB_URL, [hub] url)");
  check_cmd->callback([&ctx, check_site, check_all, check_url] {
    ctx.action = [&ctx, check_site, check_all, check_url] {
      return hub_check(ctx, *check_site, *check_all, *check_url);
    };
  });

  auto* reset_cmd = hub->add_subcommand(
      "reset-epoch", "start a new epoch after a restore: the site pushes anew, the hub keeps the old rows apart");
  reset_cmd->callback([&ctx] { ctx.action = [&ctx] { return reset_epoch(ctx); }; });
}

} // namespace kwh::cli
