#include <kwh/web/page.hpp>

#include <kwh/util/money.hpp>
#include <kwh/web/chart.hpp>

#include <fmt/format.h>

#include <iterator>

namespace kwh::web {

namespace {

using Out = std::back_insert_iterator<std::string>;

std::string money_text(std::int64_t minor, const TenantView& v) {
  return fmt::format("{} {}", Money::from_minor(minor).format(v.minor_units), v.currency);
}

std::string csrf_field(std::string_view csrf) {
  return fmt::format("<input type=\"hidden\" name=\"csrf\" value=\"{}\">\n", html_escape(csrf));
}

// What a money field accepts: digits with at most minor_units decimals (the server checks again).
std::string amount_pattern(int minor_units, bool allow_negative) {
  std::string p = allow_negative ? "-?[0-9]+" : "[0-9]+";
  if (minor_units > 0) p += "([.][0-9]{1," + std::to_string(minor_units) + "})?";
  return p;
}

void open_document(std::string& out, std::string_view title) {
  out += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
         "<meta name=\"referrer\" content=\"same-origin\">\n"
         "<meta name=\"robots\" content=\"noindex, nofollow\">\n";
  fmt::format_to(Out(out), "<title>{}</title>\n", html_escape(title));
  // An empty icon, so that browsers do not ask for /favicon.ico on every visit.
  out += "<link rel=\"icon\" href=\"data:,\">\n<link rel=\"stylesheet\" href=\"/static/kwh.css\">\n"
         "</head>\n<body>\n<main>\n";
}

void close_document(std::string& out) { out += "</main>\n</body>\n</html>\n"; }

// Status words are kwh's own; anything else is drawn as "unknown" but still shown as it is.
std::string_view status_class(std::string_view status) {
  for (std::string_view s : {"ok", "alarm1", "alarm2", "emergency", "arrears", "closed"})
    if (status == s) return s;
  return "unknown";
}

std::string status_explanation(const TenantView& v) {
  auto level = [&](const std::optional<std::int64_t>& l) { return l ? " (" + money_text(*l, v) + ")" : std::string(); };
  if (v.status == "ok") return "Your balance is above the levels at which you are warned.";
  if (v.status == "alarm1")
    return fmt::format("Your balance is at or below the first warning level{}. Buy credit soon.", level(v.alarm1));
  if (v.status == "alarm2")
    return fmt::format("Your balance is at or below the second warning level{}. Buy credit now to keep the supply on.",
                       level(v.alarm2));
  if (v.status == "arrears")
    return fmt::format("Your balance is at or below the credit limit ({}). The supply may be switched off until you "
                       "buy credit.",
                       money_text(-v.credit_limit, v));
  if (v.status == "emergency")
    return fmt::format("You are using emergency credit; {} of it is repaid first from your next purchase.",
                       money_text(v.emergency_owed, v));
  if (v.status == "closed") return "This account is closed. Nothing more is charged to it.";
  return "Ask the office what this status means for you.";
}

std::string days_left_sentence(const TenantView& v) {
  const std::string average = money_text(v.average_daily_cost, v);
  if (v.days_left) {
    const std::int64_t n = *v.days_left;
    if (n < 1) return fmt::format("Less than a day left at the last 7 days' average of {} a day.", average);
    return fmt::format("About {} {} left at the last 7 days' average of {} a day.", n, n == 1 ? "day" : "days",
                       average);
  }
  if (v.status == "closed") return "The account is closed, so there is no estimate of days left.";
  if (v.average_daily_cost <= 0)
    return "Nothing was used in the last 7 days, so there is no estimate of how long the balance lasts.";
  return fmt::format("No credit is left at the last 7 days' average of {} a day. Buy credit to keep the supply on.",
                     average);
}

std::string relay_reason_text(std::string_view reason) {
  if (reason == "arrears") return "switched off for arrears; buying credit switches it back on";
  if (reason == "overload") return "switched off because too much power was drawn at once";
  if (reason == "operator") return "switched by the office";
  return std::string(reason);
}

void balance_section(std::string& out, const TenantView& v) {
  const auto cls = status_class(v.status);
  const bool negative = v.balance < 0;
  fmt::format_to(Out(out), "<section class=\"card balance status-{}\" aria-labelledby=\"balance-h\">\n", cls);
  out += "<h2 id=\"balance-h\">Balance</h2>\n";
  fmt::format_to(Out(out), "<p class=\"balance-amount{}\">{}</p>\n", negative ? " negative" : "",
                 html_escape(money_text(v.balance, v)));
  if (negative)
    fmt::format_to(Out(out), "<p class=\"owed\">Below zero: you owe {}.</p>\n", html_escape(money_text(-v.balance, v)));
  if (v.reminder && v.balance <= *v.reminder)
    fmt::format_to(Out(out), "<p class=\"notice\">Your balance has reached your reminder level of {}.</p>\n",
                   html_escape(money_text(*v.reminder, v)));
  fmt::format_to(Out(out), "<p class=\"days-left\">{}</p>\n", html_escape(days_left_sentence(v)));
  fmt::format_to(Out(out), "<p class=\"status-line\">Status <span class=\"badge status-{}\">{}</span></p>\n", cls,
                 html_escape(v.status));
  fmt::format_to(Out(out), "<p>{}</p>\n", html_escape(status_explanation(v)));
  // Emergency credit on offer: one button takes it.
  if (v.emergency_offer) {
    out += "<form method=\"post\" action=\"/emergency\" class=\"emergency\">\n" + csrf_field(v.csrf);
    fmt::format_to(Out(out),
                   "<p>You may take {} of emergency credit now, once; it is repaid first from your next "
                   "purchase.</p>\n<button type=\"submit\">Take {} of emergency credit</button>\n</form>\n",
                   html_escape(money_text(*v.emergency_offer, v)), html_escape(money_text(*v.emergency_offer, v)));
  }
  out += "</section>\n";
}

void buy_section(std::string& out, const TenantView& v) {
  out += "<section class=\"card\" aria-labelledby=\"buy-h\">\n<h2 id=\"buy-h\">Buy credit</h2>\n";
  if (v.providers.empty()) out += "<p>Buy credit at the office.</p>\n";
  std::int64_t example = 50;
  for (int i = 0; i < v.minor_units; ++i) example *= 10;
  for (std::size_t i = 0; i < v.providers.size(); ++i) {
    const auto& p = v.providers[i];
    out += "<form method=\"post\" action=\"/buy\" class=\"buy\">\n" + csrf_field(v.csrf);
    fmt::format_to(Out(out), "<input type=\"hidden\" name=\"provider\" value=\"{}\">\n", html_escape(p.name));
    fmt::format_to(Out(out), "<label for=\"amount-{}\">Amount ({})</label>\n", i, html_escape(v.currency));
    fmt::format_to(Out(out),
                   "<input type=\"text\" id=\"amount-{}\" name=\"amount\" inputmode=\"decimal\" autocomplete=\"off\" "
                   "required pattern=\"{}\" placeholder=\"{}\">\n",
                   i, amount_pattern(v.minor_units, false), Money::from_minor(example).format(v.minor_units));
    fmt::format_to(Out(out), "<button type=\"submit\">{}</button>\n</form>\n", html_escape(p.label));
  }
  out += "</section>\n";
}

void reminder_section(std::string& out, const TenantView& v) {
  out += "<section class=\"card\" aria-labelledby=\"reminder-h\">\n<h2 id=\"reminder-h\">Reminder</h2>\n";
  if (v.reminder)
    fmt::format_to(Out(out), "<p>You are reminded when your balance falls to <strong>{}</strong>.</p>\n",
                   html_escape(money_text(*v.reminder, v)));
  else
    out += "<p>No reminder is set.</p>\n";
  out += "<form method=\"post\" action=\"/reminder\" class=\"reminder\">\n" + csrf_field(v.csrf);
  fmt::format_to(Out(out), "<label for=\"level\">Remind me at ({})</label>\n", html_escape(v.currency));
  fmt::format_to(Out(out),
                 "<input type=\"text\" id=\"level\" name=\"level\" inputmode=\"decimal\" autocomplete=\"off\" "
                 "pattern=\"{}\" value=\"{}\" aria-describedby=\"level-hint\">\n",
                 amount_pattern(v.minor_units, true),
                 v.reminder ? Money::from_minor(*v.reminder).format(v.minor_units) : std::string());
  out += "<p class=\"hint\" id=\"level-hint\">Leave it empty to turn the reminder off.</p>\n"
         "<button type=\"submit\" class=\"secondary\">Save reminder</button>\n</form>\n</section>\n";
}

void chart_section(std::string& out, const TenantView& v) {
  out += "<section class=\"card\" aria-labelledby=\"chart-h\">\n<h2 id=\"chart-h\">Last 30 days</h2>\n";
  out += render_chart_svg(v.days, v.unit, v.currency, v.minor_units);
  fmt::format_to(Out(out),
                 "<p class=\"legend\"><span class=\"key key-use\">{} a day (bars)</span> "
                 "<span class=\"key key-cost\">{} a day (line)</span></p>\n",
                 html_escape(v.unit == "m3" ? "m³" : v.unit), html_escape(v.currency));
  out += "</section>\n";
}

void meters_section(std::string& out, const TenantView& v) {
  out += "<section class=\"card\" aria-labelledby=\"meters-h\">\n<h2 id=\"meters-h\">Meters</h2>\n";
  if (v.meters.empty()) {
    out += "<p>No meter is attached to this account.</p>\n</section>\n";
    return;
  }
  out += "<ul class=\"meters\">\n";
  for (const auto& m : v.meters) {
    const std::string_view cls = m.relay_state == "on" || m.relay_state == "off" ? std::string_view(m.relay_state)
                                                                                : std::string_view("unknown");
    fmt::format_to(Out(out), "<li><span class=\"meter-name\">{}</span> <span class=\"muted\">{}</span><br>\n",
                   html_escape(m.name), html_escape(m.kind));
    fmt::format_to(Out(out), "Supply <span class=\"relay relay-{}\">{}</span>", cls, html_escape(m.relay_state));
    if (m.relay_reason && m.relay_state != "on")
      fmt::format_to(Out(out), " <span class=\"reason\">({}: {})</span>", html_escape(*m.relay_reason),
                     html_escape(relay_reason_text(*m.relay_reason)));
    fmt::format_to(Out(out), "<br>\n<span class=\"muted\">Meter {}</span></li>\n", html_escape(m.status));
  }
  out += "</ul>\n</section>\n";
}

void purchases_section(std::string& out, const TenantView& v) {
  out += "<section class=\"card\" aria-labelledby=\"purchases-h\">\n<h2 id=\"purchases-h\">Purchases</h2>\n";
  if (v.purchases.empty()) {
    out += "<p>No purchases yet.</p>\n</section>\n";
    return;
  }
  fmt::format_to(Out(out),
                 "<table class=\"purchases\">\n<thead><tr><th scope=\"col\">Receipt</th><th scope=\"col\">Time</th>"
                 "<th scope=\"col\">Kind</th><th scope=\"col\" class=\"num\">Amount ({})</th>"
                 "<th scope=\"col\">Method</th></tr></thead>\n<tbody>\n",
                 html_escape(v.currency));
  for (const auto& p : v.purchases)
    fmt::format_to(Out(out),
                   "<tr><td><a href=\"/receipt/{0}\">{0}</a></td><td>{1}</td><td>{2}</td><td class=\"num\">{3}</td>"
                   "<td>{4}</td></tr>\n",
                   p.receipt, html_escape(p.time_text), html_escape(p.kind),
                   html_escape(Money::from_minor(p.amount).format(v.minor_units)), html_escape(p.method));
  out += "</tbody>\n</table>\n</section>\n";
}

void tariff_section(std::string& out, const TenantView& v) {
  out += "<section class=\"card\" aria-labelledby=\"tariff-h\">\n<h2 id=\"tariff-h\">Tariff</h2>\n";
  fmt::format_to(Out(out), "<p class=\"tariff-name\">{}</p>\n", html_escape(v.tariff));
  if (v.tariff_lines.empty()) {
    out += "<p>Ask the office for the prices in force.</p>\n";
  } else {
    out += "<ul class=\"tariff\">\n";
    for (const auto& line : v.tariff_lines) fmt::format_to(Out(out), "<li>{}</li>\n", html_escape(line));
    out += "</ul>\n";
  }
  out += "</section>\n";
}

} // namespace

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
    case '&': out += "&amp;"; break;
    case '<': out += "&lt;"; break;
    case '>': out += "&gt;"; break;
    case '"': out += "&quot;"; break;
    case '\'': out += "&#39;"; break;
    default: out += c;
    }
  }
  return out;
}

std::string render_tenant_page(const TenantView& v) {
  std::string out;
  out.reserve(16384);
  open_document(out, fmt::format("{} – account {}", v.holder, v.account));
  fmt::format_to(Out(out),
                 "<header class=\"top\">\n<h1>{}</h1>\n<p class=\"account\">Account <strong>{}</strong></p>\n",
                 html_escape(v.holder), html_escape(v.account));
  if (!v.now_text.empty()) fmt::format_to(Out(out), "<p class=\"muted\">As of {}</p>\n", html_escape(v.now_text));
  out += "</header>\n";
  balance_section(out, v);
  if (v.status != "closed") buy_section(out, v);
  chart_section(out, v);
  meters_section(out, v);
  purchases_section(out, v);
  tariff_section(out, v);
  if (v.status != "closed") reminder_section(out, v);
  out += "<form method=\"post\" action=\"/logout\" class=\"logout\">\n" + csrf_field(v.csrf) +
         "<button type=\"submit\" class=\"secondary\">Sign out</button>\n</form>\n";
  close_document(out);
  return out;
}

std::string render_continue_page(std::string_view action_path, std::string_view csrf) {
  std::string out;
  open_document(out, "Sign in");
  out += "<section class=\"card\">\n<h1>Sign in</h1>\n"
         "<p>This link signs you in to your account's page on this device. It works once: press Continue to use "
         "it.</p>\n<p>If you did not expect a link from the office, close this page.</p>\n";
  fmt::format_to(Out(out), "<form method=\"post\" action=\"{}\">\n", html_escape(action_path));
  out += csrf_field(csrf) + "<button type=\"submit\">Continue</button>\n</form>\n</section>\n";
  close_document(out);
  return out;
}

std::string render_message_page(std::string_view title, std::string_view text) {
  std::string out;
  open_document(out, title);
  fmt::format_to(Out(out), "<section class=\"card message\">\n<h1>{}</h1>\n", html_escape(title));
  while (!text.empty()) {
    const auto nl = text.find('\n');
    const auto line = text.substr(0, nl);
    if (!line.empty()) fmt::format_to(Out(out), "<p>{}</p>\n", html_escape(line));
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
  }
  out += "</section>\n";
  close_document(out);
  return out;
}

std::string render_receipt_page(std::string_view account, std::string_view receipt_text) {
  std::string out;
  open_document(out, fmt::format("Receipt – account {}", account));
  fmt::format_to(
      Out(out),
      "<header class=\"top\">\n<h1>Receipt</h1>\n<p class=\"account\">Account <strong>{}</strong></p>\n</header>\n",
      html_escape(account));
  fmt::format_to(Out(out), "<pre class=\"receipt\">{}</pre>\n", html_escape(receipt_text));
  out += "<p><a class=\"back\" href=\"/\">Back to your account</a></p>\n";
  close_document(out);
  return out;
}

std::string_view stylesheet() {
  // Mobile first: one column, 16px text (phones do not zoom into the fields), 48px tap targets;
  // wider screens only get more room around the same column.
  static constexpr std::string_view k_css = R"css(:root {
  --text: #1a202c;
  --muted: #5a6474;
  --page: #f3f4f6;
  --card: #ffffff;
  --line: #cbd2dc;
  --accent: #1f5fa8;
  --ok: #1b7a3d;
  --alarm1: #a86200;
  --alarm2: #c2410c;
  --arrears: #b91c1c;
  --closed: #4b5563;
  --use: #3b73b9;
  --cost: #d97706;
}
*, *::before, *::after { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; text-size-adjust: 100%; }
body {
  margin: 0;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif;
  font-size: 1rem;
  line-height: 1.5;
  color: var(--text);
  background: var(--page);
}
main { max-width: 40rem; margin: 0 auto; padding: 0.75rem; }
h1 { font-size: 1.375rem; line-height: 1.25; margin: 0 0 0.25rem; overflow-wrap: anywhere; }
h2 { font-size: 1.125rem; margin: 0 0 0.5rem; }
p { margin: 0 0 0.5rem; }
a { color: var(--accent); }
.top { padding: 0.5rem 0.25rem 0.75rem; }
.account { margin: 0; }
.muted, .hint { color: var(--muted); }
.hint { font-size: 0.875rem; }
.card {
  background: var(--card);
  border: 1px solid var(--line);
  border-radius: 0.5rem;
  padding: 1rem;
  margin: 0 0 0.75rem;
}
.balance { border-left-width: 0.375rem; }
.balance.status-ok { border-left-color: var(--ok); }
.balance.status-alarm1 { border-left-color: var(--alarm1); }
.balance.status-alarm2 { border-left-color: var(--alarm2); }
.balance.status-emergency { border-left-color: var(--alarm2); }
.balance.status-arrears { border-left-color: var(--arrears); }
.balance.status-closed, .balance.status-unknown { border-left-color: var(--closed); }
.balance-amount { font-size: 2.25rem; font-weight: 700; line-height: 1.2; font-variant-numeric: tabular-nums; }
.balance-amount.negative { color: var(--arrears); }
.owed { color: var(--arrears); font-weight: 600; }
.notice { background: #fff7e6; border: 1px solid #f0c36d; border-radius: 0.375rem; padding: 0.5rem 0.75rem; }
.badge {
  display: inline-block;
  padding: 0 0.625rem;
  border-radius: 1rem;
  font-weight: 700;
  color: #ffffff;
  background: var(--closed);
}
.badge.status-ok { background: var(--ok); }
.badge.status-alarm1 { background: var(--alarm1); }
.badge.status-alarm2 { background: var(--alarm2); }
.badge.status-emergency { background: var(--alarm2); }
.badge.status-arrears { background: var(--arrears); }
.relay { font-weight: 700; }
.relay-on { color: var(--ok); }
.relay-off { color: var(--arrears); }
.relay-unknown { color: var(--muted); }
form { margin: 0.5rem 0 0; }
form + form { margin-top: 1rem; }
label { display: block; font-weight: 600; margin: 0.25rem 0; }
input[type="text"] {
  display: block;
  width: 100%;
  min-height: 3rem;
  padding: 0.5rem 0.75rem;
  font: inherit;
  border: 1px solid #8a94a6;
  border-radius: 0.375rem;
  background: #ffffff;
  color: var(--text);
}
button {
  display: block;
  width: 100%;
  min-height: 3rem;
  margin: 0.75rem 0 0;
  padding: 0.5rem 1rem;
  font: inherit;
  font-weight: 700;
  color: #ffffff;
  background: var(--accent);
  border: 1px solid var(--accent);
  border-radius: 0.375rem;
  cursor: pointer;
}
button.secondary { color: var(--accent); background: #ffffff; }
.logout { margin: 1rem 0 2rem; }
a:focus-visible, button:focus-visible, input:focus-visible { outline: 3px solid #f59e0b; outline-offset: 2px; }
ul.meters, ul.tariff { margin: 0; padding: 0; list-style: none; }
ul.meters li, ul.tariff li { padding: 0.5rem 0; border-top: 1px solid var(--line); }
ul.meters li:first-child, ul.tariff li:first-child { border-top: 0; }
.meter-name { font-weight: 700; }
.tariff-name { font-weight: 700; }
table.purchases { width: 100%; border-collapse: collapse; font-size: 0.875rem; }
.purchases th, .purchases td {
  padding: 0.25rem;
  text-align: left;
  vertical-align: middle;
  border-top: 1px solid var(--line);
}
.purchases th { border-top: 0; color: var(--muted); font-weight: 600; }
.purchases .num { text-align: right; font-variant-numeric: tabular-nums; }
.purchases td.num { white-space: nowrap; }
.purchases a { display: inline-block; min-width: 2.75rem; min-height: 2.75rem; line-height: 2.75rem; font-weight: 700; }
svg.chart { display: block; width: 100%; height: auto; margin: 0.25rem 0; color: var(--cost); }
.chart .use { fill: var(--use); }
.chart .use.today { fill-opacity: 0.55; }
.chart .hit { fill: transparent; }
.chart .day:hover .use { fill: #24548f; }
.chart .cost { fill: none; stroke: var(--cost); stroke-width: 2; stroke-linejoin: round; stroke-linecap: round; }
.chart .axis { stroke: #6b7280; stroke-width: 1; }
.chart .grid { stroke: var(--line); stroke-width: 1; stroke-dasharray: 3 3; }
.chart text { fill: var(--muted); font-size: 12px; }
.chart .use-label { fill: var(--use); }
.chart .cost-label { fill: #b45309; }
.chart .chart-note { font-size: 14px; }
.legend { font-size: 0.875rem; color: var(--muted); }
.legend .key { display: inline-block; margin-right: 1rem; }
.legend .key::before {
  content: "";
  display: inline-block;
  width: 0.75rem;
  height: 0.75rem;
  margin-right: 0.375rem;
  vertical-align: -0.0625rem;
  background: var(--use);
}
.legend .key-cost::before { height: 0.1875rem; vertical-align: 0.1875rem; background: var(--cost); }
pre.receipt {
  font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace;
  font-size: min(0.875rem, 3.4vw);
  line-height: 1.35;
  background: var(--card);
  border: 1px solid var(--line);
  border-radius: 0.5rem;
  padding: 0.75rem;
  overflow-x: auto;
}
.back { display: inline-block; min-height: 3rem; line-height: 3rem; font-weight: 700; }
@media (min-width: 48rem) {
  main { padding: 2rem 1rem; }
  h1 { font-size: 1.75rem; }
  .card { padding: 1.25rem 1.5rem; }
  button { width: auto; min-width: 12rem; }
  .purchases th, .purchases td { padding: 0.25rem 0.5rem; }
}
)css";
  return k_css;
}

} // namespace kwh::web
