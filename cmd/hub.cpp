// kwh hub: the office's PostgreSQL hub that kwhd pushes the site's outbox to (kwh-hub(1)).
// `hub init` makes or migrates the hub's schema; `hub status` shows this site's push state from
// its own database, without asking the hub.

#include "context.hpp"

#include <kwh/hub/hub.hpp>
#include <kwh/hub/outbox.hpp>
#include <kwh/util/time.hpp>

namespace kwh::cli {

namespace {

output::Json opt_time(const std::optional<std::int64_t>& t) {
  return t ? output::Json(format_time(*t)) : output::Json();
}
output::Json opt_text(const std::optional<std::string>& s) { return s ? output::Json(*s) : output::Json(); }

int init(Context& ctx, const std::optional<std::string>& url_option) {
  const std::string url = url_option.value_or(ctx.config().hub.url);
  if (url.empty()) fail(Exit::config, "no hub to initialise: give --url or set [hub] url in the configuration");
  auto conn = hub::PgConnection::connect(url);
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

} // namespace

void add_hub(CLI::App& app, Context& ctx) {
  auto* hub = app.add_subcommand("hub", "the office's hub: make its schema, show this site's pushes");
  hub->require_subcommand(1);

  auto url = std::make_shared<std::optional<std::string>>();
  auto* init_cmd = hub->add_subcommand("init", "create or migrate the hub's schema (exit 0 when it is current)");
  init_cmd->add_option("--url", *url, "the hub's PostgreSQL (default: [hub] url)");
  init_cmd->callback([&ctx, url] { ctx.action = [&ctx, url] { return init(ctx, *url); }; });

  auto* status_cmd =
      hub->add_subcommand("status", "this site's pushes: rows waiting, the oldest, the last push, errors, alarm");
  status_cmd->callback([&ctx] { ctx.action = [&ctx] { return status(ctx); }; });

  add_unbuilt(*hub, ctx, "reset-epoch", "start a new epoch after a restore, which the hub keeps apart");
}

} // namespace kwh::cli
