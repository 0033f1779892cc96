// kwh log: show and verify the audit log.
//
// For the man page (kwh-log(1)), what --verify proves: each entry's hash covers the previous
// entry's hash and the entry's own fields, so an entry edited, deleted or moved with sqlite3
// breaks the chain and is reported. The chain has no secret: someone who recomputes every hash
// from the altered entry on, deletes the newest entries, or replaces the whole file, is not
// detected by the chain alone. --head prints the newest entry's id and hash; keep it outside the
// database (printed daily, another machine), and --verify --expect-head HASH then proves every
// entry up to that point unchanged.

#include "context.hpp"

#include <kwh/audit/log.hpp>
#include <kwh/hooks/delivery.hpp>
#include <kwh/util/time.hpp>

#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <set>

namespace kwh::cli {

namespace {

struct LogOptions {
  std::optional<std::string> since;
  bool verify = false;
  bool head = false;
  std::optional<std::string> expect_head;
  bool hooks = false;
  std::optional<std::string> kind, state, account;
};

int print_head(Context& ctx) {
  auto head = audit::head(ctx.db());
  if (!head) fail(Exit::no_input, "the audit log of {} is empty", ctx.db().path());
  if (ctx.format() == output::Format::json) {
    ctx.print(output::Json::object()
                  .set("id", head->id)
                  .set("time", format_time(head->entry.time))
                  .set("hash", head->hash_hex));
  } else {
    ctx.out() << head->id << ' ' << head->hash_hex << '\n';
  }
  return 0;
}

int verify(Context& ctx, std::optional<std::string> expect_head) {
  if (expect_head) {
    std::string& h = *expect_head;
    std::transform(h.begin(), h.end(), h.begin(), [](unsigned char c) { return std::tolower(c); });
    bool hex = h.size() == 64 && std::all_of(h.begin(), h.end(), [](unsigned char c) { return std::isxdigit(c); });
    if (!hex) fail(Exit::usage, "--expect-head takes the 64-digit hash printed by 'kwh log --head'");
  }
  auto findings = audit::verify(ctx.db(), expect_head);
  if (ctx.format() == output::Format::json) {
    output::Json arr = output::Json::array();
    for (const auto& f : findings) arr.push(f);
    ctx.print(output::Json::object().set("clean", findings.empty()).set("findings", std::move(arr)));
  } else {
    for (const auto& f : findings) ctx.out() << f << '\n';
    if (findings.empty() && !ctx.quiet) {
      auto head = audit::head(ctx.db());
      ctx.out() << "audit log intact: " << (head ? head->id : 0) << " entries"
                << (expect_head ? ", expected head found" : "") << '\n';
    }
  }
  return findings.empty() ? 0 : 1;
}

std::optional<UnixTime> since_time(const std::optional<std::string>& since_text) {
  if (!since_text) return std::nullopt;
  auto t = parse_time(*since_text);
  if (!t) throw t.error();
  return *t;
}

// --hooks: what kwhd's event hooks sent, what failed and why (kwhd(8) "HOOKS").
int list_hooks(Context& ctx, const LogOptions& o) {
  static const std::set<std::string> k_states = {"pending", "sent", "failed"};
  if (o.state && !k_states.count(*o.state)) fail(Exit::usage, "--state is pending, sent or failed, not '{}'", *o.state);
  if (o.kind && std::find(config::hook_kinds().begin(), config::hook_kinds().end(), *o.kind) == config::hook_kinds().end())
    fail(Exit::usage, "--kind '{}' is not a hook's kind ({})", *o.kind, fmt::join(config::hook_kinds(), ", "));
  hooks::ListFilter f{since_time(o.since), o.kind, o.state, o.account};
  output::Table t;
  t.columns = {{"id", output::Kind::integer}, {"time", output::Kind::time}, {"kind"},
               {"account"},                   {"program"},                  {"state", output::Kind::status},
               {"attempts", output::Kind::integer}, {"error"},             {"next_try", output::Kind::time}};
  auto opt_time = [](const std::optional<UnixTime>& v) { return v ? output::Json(format_time(*v)) : output::Json(); };
  auto opt_text = [](const std::optional<std::string>& v) { return v ? output::Json(*v) : output::Json(); };
  for (const auto& d : hooks::list(ctx.db(), f))
    t.add({d.id, format_time(d.created), d.kind, opt_text(d.account), opt_text(d.program), d.state, d.attempts,
           opt_text(d.last_error), opt_time(d.next_try)});
  ctx.print(t);
  return 0;
}

int list(Context& ctx, const std::optional<std::string>& since_text) {
  const auto since = since_time(since_text);
  output::Table t;
  t.columns = {{"id", output::Kind::integer}, {"time", output::Kind::time}, {"operator"},
               {"action"},                    {"subject"},                  {"command"},
               {"detail"}};
  for (const auto& e : audit::list(ctx.db(), since)) {
    t.add({e.id, format_time(e.entry.time), e.entry.operator_name, e.entry.action,
           e.entry.subject ? output::Json(*e.entry.subject) : output::Json(),
           e.entry.command ? output::Json(*e.entry.command) : output::Json(),
           e.entry.detail ? output::Json(*e.entry.detail) : output::Json()});
  }
  ctx.print(t);
  return 0;
}

} // namespace

void add_log(CLI::App& app, Context& ctx) {
  auto* sub = app.add_subcommand("log", "show and verify the audit log");
  auto opts = std::make_shared<LogOptions>();
  sub->add_option("--since", opts->since, "entries from this time on")->type_name("TIME");
  sub->add_flag("--verify", opts->verify, "check the hash chain; exit 1 with one line per problem");
  sub->add_flag("--head", opts->head, "print the id and hash of the newest entry, to keep outside");
  sub->add_option("--expect-head", opts->expect_head, "with --verify: a hash printed by --head earlier")
      ->type_name("HASH")
      ->needs("--verify");
  sub->add_flag("--hooks", opts->hooks, "list kwhd's hook deliveries: sent, pending and failed, with the reason");
  sub->add_option("--kind", opts->kind, "only deliveries of this kind")->type_name("KIND")->needs("--hooks");
  sub->add_option("--state", opts->state, "only deliveries in this state: pending, sent or failed")
      ->type_name("STATE")
      ->needs("--hooks");
  sub->add_option("--account", opts->account, "only deliveries about this account")
      ->type_name("ACCOUNT")
      ->needs("--hooks");
  sub->callback([&ctx, opts] {
    ctx.action = [&ctx, opts] {
      if (opts->verify && opts->head) fail(Exit::usage, "--verify and --head do not go together");
      if (opts->hooks && (opts->verify || opts->head)) fail(Exit::usage, "--hooks goes with neither --verify nor --head");
      if (opts->hooks) return list_hooks(ctx, *opts);
      if (opts->verify) return verify(ctx, opts->expect_head);
      if (opts->head) return print_head(ctx);
      return list(ctx, opts->since);
    };
  });
}

} // namespace kwh::cli
