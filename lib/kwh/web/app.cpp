#include <kwh/web/app.hpp>

#include <kwh/audit/log.hpp>
#include <kwh/billing/account.hpp>
#include <kwh/billing/payment.hpp>
#include <kwh/crypto/hmac.hpp>
#include <kwh/ledger/ledger.hpp>
#include <kwh/output/json.hpp>
#include <kwh/storage/database.hpp>
#include <kwh/util/error.hpp>
#include <kwh/util/money.hpp>
#include <kwh/web/form.hpp>
#include <kwh/web/link.hpp>
#include <kwh/web/page.hpp>
#include <kwh/web/tenant.hpp>
#include <kwh/web/webhook.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>
#include <sys/stat.h>

namespace kwh::web {
namespace {

constexpr int k_busy_timeout_ms = 5000;
constexpr std::size_t k_pool_keep = 8;

std::string read_provider_secret(const config::Provider& p) {
  struct stat st{};
  if (::stat(p.secret_file.c_str(), &st) == 0 && (st.st_mode & (S_IROTH | S_IWOTH)))
    fail(Exit::config, "[serve.providers.{}] secret_file {}: others may read or write it; chmod 0640", p.name,
         p.secret_file);
  std::ifstream in(p.secret_file, std::ios::binary);
  if (!in) fail(Exit::config, "[serve.providers.{}] secret_file {}: cannot be read", p.name, p.secret_file);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  std::size_t start = 0;
  while (start < text.size() && std::isspace(static_cast<unsigned char>(text[start]))) ++start;
  text.erase(0, start);
  if (text.size() < 16)
    fail(Exit::config, "[serve.providers.{}] secret_file {}: the secret must be at least 16 characters", p.name,
         p.secret_file);
  return text;
}

std::string path_of(std::string_view target) {
  const auto q = target.find('?');
  return std::string(target.substr(0, q));
}

std::string replace_all(std::string s, std::string_view what, std::string_view with) {
  for (std::size_t at = 0; (at = s.find(what, at)) != std::string::npos; at += with.size()) s.replace(at, what.size(), with);
  return s;
}

std::string error_json(std::string_view message) {
  return output::Json::object().set("error", std::string(message)).dump(-1);
}

} // namespace

int RateLimit::take(const std::string& client, std::chrono::steady_clock::time_point now) {
  std::lock_guard lock(m_mutex);
  if (m_buckets.size() > 100'000) {
    // Forget addresses whose buckets are full again: they are as good as new.
    for (auto it = m_buckets.begin(); it != m_buckets.end();) {
      const double full = it->second.tokens + std::chrono::duration<double>(now - it->second.at).count() * m_rate;
      it = full >= m_burst ? m_buckets.erase(it) : std::next(it);
    }
  }
  auto [it, fresh] = m_buckets.try_emplace(client, Bucket{m_burst, now});
  Bucket& b = it->second;
  if (!fresh) {
    b.tokens = std::min(m_burst, b.tokens + std::chrono::duration<double>(now - b.at).count() * m_rate);
    b.at = now;
  }
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return 0;
  }
  return std::max(1, static_cast<int>(std::ceil((1.0 - b.tokens) / m_rate)));
}

App::App(config::Config cfg, std::string database_path, std::string key, AppOptions options)
    : m_cfg(std::move(cfg)), m_db_path(std::move(database_path)), m_key(std::move(key)), m_opt(std::move(options)),
      // A burst of a whole minute's worth for links; half a minute's for webhooks.
      m_link_limit(m_cfg.serve.link_rate, m_cfg.serve.link_rate),
      m_webhook_limit(m_cfg.serve.webhook_rate, std::max(1, m_cfg.serve.webhook_rate / 2)) {
  m_cookie = m_opt.insecure_cookies ? "kwh" : "__Host-kwh";
  set_base_url(m_opt.base_url);
  std::set<std::string> form_targets;
  for (const auto& p : m_cfg.serve.providers) {
    m_providers[p.name] = {p, read_provider_secret(p)};
    if (auto o = origin_of(p.checkout_url)) form_targets.insert(*o);
  }
  m_csp = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'";
  for (const auto& o : form_targets) m_csp += " " + o;
  m_csp += "; frame-ancestors 'none'; base-uri 'none'";
}

App::~App() = default;

void App::set_base_url(std::string base_url) {
  while (!base_url.empty() && base_url.back() == '/') base_url.pop_back();
  auto origin = origin_of(base_url);
  if (!origin) fail(Exit::config, "base URL '{}' is not an http:// or https:// URL", base_url);
  m_opt.base_url = std::move(base_url);
  m_origin = *origin;
}

std::unique_ptr<storage::Database> App::acquire() {
  {
    std::lock_guard lock(m_pool_mutex);
    if (!m_pool.empty()) {
      auto db = std::move(m_pool.back());
      m_pool.pop_back();
      return db;
    }
  }
  auto db = storage::Database::open(m_db_path);
  db->set_busy_timeout(k_busy_timeout_ms);
  return db;
}

void App::release(std::unique_ptr<storage::Database> db) {
  std::lock_guard lock(m_pool_mutex);
  if (m_pool.size() < k_pool_keep) m_pool.push_back(std::move(db));
}

Response App::handle(const Request& r, UnixTime now) {
  std::unique_ptr<storage::Database> db;
  try {
    db = acquire();
    Response res = route(r, *db, now);
    release(std::move(db));
    return res;
  } catch (const std::exception& e) {
    // The connection may be in any state after an error: it is not reused.
    const bool api = r.target.rfind("/webhooks/", 0) == 0 || r.target.rfind("/api/", 0) == 0;
    const auto* error = dynamic_cast<const Error*>(&e);
    if (error && error->code() == Exit::temporary) {
      Response res = api ? json(503, error_json("the database is busy; try again"))
                         : message(503, "Busy", "The service is busy. Please try again in a moment.");
      res.header("Retry-After", "2");
      return res;
    }
    std::fprintf(stderr, "kwh serve: %s %s: %s\n", r.method.c_str(), path_of(r.target).c_str(), e.what());
    return api ? json(500, error_json("internal error")) : message(500, "Error", "Something went wrong on our side.");
  }
}

Response App::page_response(int status, std::string html) const {
  Response res;
  res.status = status;
  res.header("Content-Type", "text/html; charset=utf-8");
  res.header("Content-Security-Policy", m_csp);
  res.header("X-Content-Type-Options", "nosniff");
  // same-origin, not no-referrer: with no-referrer browsers send "Origin: null" on form posts,
  // which the Origin check refuses. Nothing reaches other sites either way.
  res.header("Referrer-Policy", "same-origin");
  res.header("Cache-Control", "no-store");
  res.body = std::move(html);
  return res;
}

Response App::message(int status, std::string_view title, std::string_view text) const {
  return page_response(status, render_message_page(title, text));
}

Response App::json(int status, std::string body) const {
  Response res;
  res.status = status;
  res.header("Content-Type", "application/json");
  res.header("X-Content-Type-Options", "nosniff");
  res.header("Cache-Control", "no-store");
  res.body = std::move(body);
  res.body += "\n";
  return res;
}

Response App::redirect(std::string location) const {
  Response res;
  res.status = 303;
  res.header("Location", std::move(location));
  res.header("Cache-Control", "no-store");
  return res;
}

bool App::same_origin(const Request& r) const {
  auto o = origin_of(r.origin);
  return o && *o == m_origin;
}

Response App::route(const Request& r, storage::Database& db, UnixTime now) {
  const std::string path = path_of(r.target);
  const bool get = r.method == "GET" || r.method == "HEAD";
  const bool post = r.method == "POST";
  auto not_allowed = [&](const char* allow) {
    Response res = message(405, "Not allowed", "This address does not take that kind of request.");
    res.header("Allow", allow);
    return res;
  };

  if (path == "/healthz") {
    if (!get) return not_allowed("GET, HEAD");
    Response res;
    res.header("Content-Type", "text/plain");
    res.header("Cache-Control", "no-store");
    res.body = "ok\n";
    return res;
  }
  if (path == "/static/kwh.css") {
    if (!get) return not_allowed("GET, HEAD");
    Response res;
    res.header("Content-Type", "text/css; charset=utf-8");
    res.header("X-Content-Type-Options", "nosniff");
    res.header("Cache-Control", "public, max-age=3600");
    res.body = std::string(stylesheet());
    return res;
  }
  if (path.rfind("/l/", 0) == 0) {
    const std::string_view token = std::string_view(path).substr(3);
    if (int wait = m_link_limit.take(r.client, std::chrono::steady_clock::now()); wait > 0) {
      Response res = message(429, "Too many tries", "Too many sign-in attempts from here. Please wait a minute.");
      res.header("Retry-After", std::to_string(wait));
      return res;
    }
    if (get) return link_get(db, token, now);
    if (post) return link_post(r, db, token, now);
    return not_allowed("GET, HEAD, POST");
  }
  if (path.rfind("/webhooks/", 0) == 0) {
    if (!post) {
      Response res = json(405, error_json("POST only"));
      res.header("Allow", "POST");
      return res;
    }
    if (int wait = m_webhook_limit.take(r.client, std::chrono::steady_clock::now()); wait > 0) {
      Response res = json(429, error_json("too many requests"));
      res.header("Retry-After", std::to_string(wait));
      return res;
    }
    return webhook(r, db, std::string_view(path).substr(10), now);
  }
  if (path == "/") {
    if (!get) return not_allowed("GET, HEAD");
    return tenant(r, db, now);
  }
  if (path == "/api/v1/account") {
    if (!get) {
      Response res = json(405, error_json("GET only"));
      res.header("Allow", "GET, HEAD");
      return res;
    }
    return tenant_api(r, db, now);
  }
  if (path.rfind("/receipt/", 0) == 0) {
    if (!get) return not_allowed("GET, HEAD");
    return receipt(r, db, std::string_view(path).substr(9), now);
  }
  if (path == "/reminder" || path == "/buy" || path == "/logout" || path == "/emergency") {
    if (!post) return not_allowed("POST");
    return tenant_post(r, db, std::string_view(path).substr(1), now);
  }
  return message(404, "Not found", "There is no page at this address.");
}

Response App::link_get(storage::Database& db, std::string_view token, UnixTime now) {
  const Refusal state = link_state(db, m_key, token, now);
  if (state != Refusal::none)
    return message(403, "This link cannot be used",
                   "This sign-in link has been used, has expired or is no longer valid.\n"
                   "Please ask the office for a new one.");
  return page_response(200, render_continue_page(fmt::format("/l/{}", token), continue_token(m_key, token)));
}

Response App::link_post(const Request& r, storage::Database& db, std::string_view token, UnixTime now) {
  if (!same_origin(r)) return message(403, "Refused", "This form must be sent from this site's own page.");
  auto form = parse_form(r.body);
  const std::string csrf = form && form->count("csrf") ? form->at("csrf") : std::string();
  if (!crypto::equal(csrf, continue_token(m_key, token)))
    return message(403, "Refused", "This form must be sent from this site's own page.");
  auto done = redeem_link(db, m_key, token, now, m_cfg.serve.session_ttl);
  if (!done.session)
    return message(403, "This link cannot be used",
                   "This sign-in link has been used, has expired or is no longer valid.\n"
                   "Please ask the office for a new one.");
  Response res = redirect("/");
  res.header("Set-Cookie", fmt::format("{}={}; Path=/;{} HttpOnly; SameSite=Lax; Max-Age={}", m_cookie,
                                       done.session->cookie, m_opt.insecure_cookies ? "" : " Secure;",
                                       m_cfg.serve.session_ttl.count()));
  return res;
}

namespace {

std::optional<SessionInfo> session_of(storage::Database& db, const Request& r, const std::string& cookie_name,
                                      UnixTime now) {
  auto cookie = cookie_value(r.cookie, cookie_name);
  if (!cookie) return std::nullopt;
  return find_session(db, *cookie, now);
}

} // namespace

Response App::tenant(const Request& r, storage::Database& db, UnixTime now) {
  auto s = session_of(db, r, m_cookie, now);
  if (!s)
    return message(401, "Not signed in",
                   "Open the sign-in link the office sent you.\nIf it no longer works, ask the office for a new one.");
  TenantView v = load_tenant_view(db, m_cfg, s->account_id, now);
  v.csrf = s->csrf;
  if (v.status != "closed")
    for (const auto& [name, p] : m_providers) v.providers.push_back({name, p.first.label});
  return page_response(200, render_tenant_page(v));
}

Response App::tenant_api(const Request& r, storage::Database& db, UnixTime now) {
  auto s = session_of(db, r, m_cookie, now);
  if (!s) return json(401, error_json("not signed in"));
  return json(200, tenant_json(load_tenant_view(db, m_cfg, s->account_id, now)).dump(-1));
}

Response App::receipt(const Request& r, storage::Database& db, std::string_view number, UnixTime now) {
  auto s = session_of(db, r, m_cookie, now);
  if (!s) return message(401, "Not signed in", "Open the sign-in link the office sent you.");
  std::int64_t n = 0;
  const bool digits = !number.empty() && number.size() <= 15 &&
                      std::all_of(number.begin(), number.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (digits) n = std::stoll(std::string(number));
  auto text = digits ? receipt_text(db, m_cfg, s->account_id, n) : std::nullopt;
  if (!text) return message(404, "Not found", "There is no such receipt on this account.");
  return page_response(200, render_receipt_page(billing::load_account(db, s->account_id).name, *text));
}

Response App::tenant_post(const Request& r, storage::Database& db, std::string_view action, UnixTime now) {
  auto s = session_of(db, r, m_cookie, now);
  if (!s) return message(401, "Not signed in", "Open the sign-in link the office sent you.");
  if (!same_origin(r)) return message(403, "Refused", "This form must be sent from this site's own page.");
  auto form = parse_form(r.body);
  if (!form) return message(400, "Bad request", "The form could not be read.");
  auto field = [&](const char* name) { return form->count(name) ? form->at(name) : std::string(); };
  if (!crypto::equal(field("csrf"), s->csrf))
    return message(403, "Refused", "This form is out of date. Go back, reload the page and try again.");

  if (action == "logout") {
    if (auto cookie = cookie_value(r.cookie, m_cookie)) end_session(db, *cookie);
    Response res = redirect("/");
    res.header("Set-Cookie", fmt::format("{}=; Path=/;{} HttpOnly; SameSite=Lax; Max-Age=0", m_cookie,
                                         m_opt.insecure_cookies ? "" : " Secure;"));
    return res;
  }
  if (action == "reminder") {
    const std::string level = field("level");
    std::optional<std::int64_t> minor;
    if (!level.empty()) {
      auto m = Money::parse(level, m_cfg.minor_units);
      if (!m)
        return message(400, "Not an amount",
                       fmt::format("'{}' is not an amount like 50 or 50.00. Go back and try again.", level));
      minor = m->minor();
    }
    set_reminder(db, m_cfg, s->account_id, minor, now);
    return redirect("/");
  }
  if (action == "emergency") {
    try {
      take_emergency_credit(db, m_cfg, s->account_id, now);
    } catch (const Error& e) {
      if (e.code() != Exit::data) throw;
      return message(409, "Not offered", "Emergency credit is not offered to this account now. Go back and reload the page.");
    }
    return redirect("/");
  }
  // buy
  auto p = m_providers.find(field("provider"));
  if (p == m_providers.end()) return message(400, "Bad request", "There is no such way to pay.");
  auto amount = Money::parse(field("amount"), m_cfg.minor_units);
  if (!amount || amount->minor() <= 0)
    return message(400, "Not an amount", "Enter an amount more than zero, like 50 or 50.00. Go back and try again.");
  const auto a = billing::load_account(db, s->account_id);
  if (a.status == "closed") return message(403, "Closed", "This account is closed.");
  std::string url = p->second.first.checkout_url;
  url = replace_all(url, "{account}", url_encode(a.name));
  url = replace_all(url, "{amount}", url_encode(amount->format(m_cfg.minor_units)));
  url = replace_all(url, "{currency}", url_encode(m_cfg.currency));
  url = replace_all(url, "{return}", url_encode(m_opt.base_url + "/"));
  return redirect(url);
}

Response App::webhook(const Request& r, storage::Database& db, std::string_view name, UnixTime now) {
  auto p = m_providers.find(std::string(name));
  if (p == m_providers.end()) return json(404, error_json("no such payment provider"));
  const std::string& provider = p->first;
  switch (verify_signature(p->second.second, r.signature, r.body, now)) {
  case Verdict::ok: break;
  case Verdict::malformed: return json(400, error_json("missing or malformed Kwh-Signature header"));
  case Verdict::stale: return json(401, error_json("the signature's time is more than 300 s away"));
  case Verdict::mismatch: return json(401, error_json("the signature does not match"));
  }
  const ParseResult parsed = parse_payment(r.body);
  if (!parsed.notice) return json(400, error_json(parsed.error));
  const PaymentNotice& n = *parsed.notice;
  if (n.currency != m_cfg.currency)
    return json(422, error_json(fmt::format("currency {} is not this site's ({})", n.currency, m_cfg.currency)));
  const std::string ref = provider + ":" + n.id;

  // A payment already credited under this id that this one does not repeat exactly.
  auto conflicts = [&] {
    auto e = ledger::find_by_ref(db, ref);
    return e && (e->kind != "sale" || e->amount != n.amount || billing::load_account(db, e->account_id).name != n.account);
  };
  if (conflicts())
    return json(409, error_json(fmt::format("payment {} was already credited with a different account or amount", n.id)));
  billing::Account account;
  try {
    account = billing::find_account(db, n.account);
  } catch (const Error& e) {
    if (e.code() != Exit::no_input) throw;
    return json(422, error_json(fmt::format("no such account: {}", n.account)));
  }
  if (account.status == "closed" && !ledger::find_by_ref(db, ref))
    return json(422, error_json(fmt::format("account {} is closed", n.account)));

  billing::PaymentRequest req;
  req.account = n.account;
  req.kind = billing::PaymentKind::sale;
  req.amount = Money::from_minor(n.amount);
  req.ref = ref;
  req.method = "online";
  req.operator_name = "kwh-serve";
  req.time = now;
  billing::PaymentResult res;
  try {
    res = billing::post_payment(db, m_cfg, req, [&] {
      audit::Entry e;
      e.time = now;
      e.operator_name = "kwh-serve";
      e.action = "sell";
      e.subject = n.account;
      e.detail = fmt::format("online payment {} from {} for {}", n.id, provider,
                             Money::from_minor(n.amount).format(m_cfg.minor_units));
      audit::append(db, e);
    });
  } catch (const Error& e) {
    if (e.code() != Exit::data) throw;
    // A concurrent delivery of the same id with another amount won the race, or the account
    // closed meanwhile: either way nothing was written.
    if (conflicts())
      return json(409, error_json(fmt::format("payment {} was already credited with a different account or amount", n.id)));
    return json(422, error_json(e.what()));
  }
  return json(200, output::Json::object()
                       .set("receipt", res.receipt)
                       .set("account", res.account)
                       .set("amount", res.amount.format(m_cfg.minor_units))
                       .set("balance", res.balance.format(m_cfg.minor_units))
                       .set("replayed", res.replayed)
                       .dump(-1));
}

} // namespace kwh::web
