#include <kwh/web/chart.hpp>
#include <kwh/web/page.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

using namespace kwh::web;

namespace {

bool contains(const std::string& s, std::string_view part) { return s.find(part) != std::string::npos; }

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::vector<DayView> thirty_days() {
  std::vector<DayView> days;
  for (int i = 0; i < 30; ++i) {
    DayView d;
    d.day = 1790000000 + i * 86400;
    const int dom = i + 5 <= 31 ? i + 5 : i + 5 - 31; // 2026-10-05 .. 2026-11-03
    d.label = std::string(i + 5 <= 31 ? "2026-10-" : "2026-11-") + (dom < 10 ? "0" : "") + std::to_string(dom);
    d.quantity = 1000 + 500 * (i % 7); // Wh
    d.cost = d.quantity * 6 / 10;      // fen
    days.push_back(d);
  }
  days[17].quantity = 25500; // the largest day
  days[17].cost = 15300;
  return days;
}

TenantView sample() {
  TenantView v;
  v.account = "A-101";
  v.holder = "Li Wei";
  v.currency = "CNY";
  v.minor_units = 2;
  v.unit = "kWh";
  v.balance = 12345;
  v.status = "ok";
  v.alarm1 = 5000;
  v.alarm2 = 2000;
  v.credit_limit = 1000;
  v.average_daily_cost = 345;
  v.days_left = 35;
  v.meters = {{"M-1", "electricity", "on", std::nullopt, "online"},
              {"M-2", "electricity", "off", std::string("arrears"), "offline"}};
  v.days = thirty_days();
  v.purchases = {{42, 1790000000, "2026-11-03 14:05", "sale", 20000, "cash"},
                 {41, 1789000000, "2026-10-20 09:12", "refund", 500, "card"}};
  v.tariff = "Residential 2026";
  v.tariff_lines = {"peak 08:00-22:00: 0.6170 CNY per kWh", "valley 22:00-08:00: 0.3070 CNY per kWh"};
  v.reminder = 3000;
  v.providers = {{"alipay", "Pay with Alipay"}, {"wechat", "Pay with WeChat"}};
  v.csrf = "tok-123_ABC";
  v.now = 1790000000;
  v.now_text = "2026-11-03 14:05";
  return v;
}

// Every <form ...> ... </form> of a page.
std::vector<std::string> forms(const std::string& html) {
  std::vector<std::string> out;
  for (auto at = html.find("<form"); at != std::string::npos; at = html.find("<form", at + 1)) {
    const auto end = html.find("</form>", at);
    REQUIRE(end != std::string::npos);
    out.push_back(html.substr(at, end - at));
  }
  return out;
}

// What the page's Content-Security-Policy would block or what would run script: <script> and
// <style> elements, style and on* attributes, javascript: URLs, and unquoted attribute values
// (escaping relies on quotes). Reads every tag's attributes.
std::vector<std::string> csp_problems(const std::string& html) {
  std::vector<std::string> problems;
  const std::string l = lower(html);
  for (const char* bad : {"<script", "<style", "style=", "javascript:", "<iframe", "<object", "<embed"})
    if (contains(l, bad)) problems.push_back(std::string("contains ") + bad);
  for (std::size_t at = l.find('<'); at != std::string::npos; at = l.find('<', at + 1)) {
    std::size_t i = at + 1;
    while (i < l.size() && !std::isspace(static_cast<unsigned char>(l[i])) && l[i] != '>') ++i; // the tag's name
    for (;;) {
      while (i < l.size() && (std::isspace(static_cast<unsigned char>(l[i])) || l[i] == '/')) ++i;
      if (i >= l.size() || l[i] == '>') break;
      const auto name_start = i;
      while (i < l.size() && !std::isspace(static_cast<unsigned char>(l[i])) && l[i] != '=' && l[i] != '>') ++i;
      const std::string name = l.substr(name_start, i - name_start);
      if (name.rfind("on", 0) == 0) problems.push_back("handler attribute " + name);
      if (name == "style") problems.push_back("style attribute");
      if (i < l.size() && l[i] == '=') {
        ++i;
        if (i >= l.size() || l[i] != '"') {
          problems.push_back("unquoted value of " + name);
          break;
        }
        i = l.find('"', i + 1);
        if (i == std::string::npos) return problems;
        ++i;
      }
    }
  }
  return problems;
}

// The heights of the chart's use bars, in order.
std::vector<int> bar_heights(const std::string& svg) {
  std::vector<int> out;
  for (auto at = svg.find("<rect class=\"use"); at != std::string::npos; at = svg.find("<rect class=\"use", at + 1)) {
    const auto h = svg.find("height=\"", at);
    REQUIRE(h != std::string::npos);
    out.push_back(std::stoi(svg.substr(h + 8)));
  }
  return out;
}

std::vector<std::string> every_page() {
  std::vector<std::string> pages;
  auto v = sample();
  pages.push_back(render_tenant_page(v));
  v.holder = "<script>alert(1)</script> & \"x\" onload='y'";
  v.account = "A\" onmouseover=\"alert(1)";
  v.providers = {{"p\"><script>", "Pay \" onclick=\"x"}};
  v.tariff_lines = {"<img src=x onerror=alert(1)>"};
  v.meters[1].relay_reason = "<b onclick=x>";
  v.purchases[0].method = "<style>";
  v.days[3].label = "\"><script>";
  v.csrf = "\"><script>alert(1)</script>";
  pages.push_back(render_tenant_page(v));
  v.status = "closed";
  v.days.clear();
  v.purchases.clear();
  v.meters.clear();
  v.providers.clear();
  pages.push_back(render_tenant_page(v));
  pages.push_back(render_continue_page("/l/1.2.3.\"onx=\"y", "\"><style>"));
  pages.push_back(
      render_message_page("Link used <script>", "This link cannot be used.\nAsk the office for a new one."));
  pages.push_back(render_receipt_page("A-101\" onfocus=\"x", "<script>alert(1)</script>\n  TOTAL     200.00"));
  return pages;
}

} // namespace

TEST_CASE("web page: html_escape escapes the five characters that matter and nothing else") {
  CHECK(html_escape("a&b<c>d\"e'f") == "a&amp;b&lt;c&gt;d&quot;e&#39;f");
  CHECK(html_escape("Li Wei 李伟 50.00") == "Li Wei 李伟 50.00");
  CHECK(html_escape("") == "");
}

TEST_CASE("web page: a hostile holder name is shown escaped and never becomes markup") {
  auto v = sample();
  v.holder = "<script>alert(1)</script> & \"x\"";
  const auto page = render_tenant_page(v);
  CHECK(contains(page, "<h1>&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;x&quot;</h1>"));
  CHECK_FALSE(contains(lower(page), "<script"));
}

TEST_CASE("web page: no page has scripts, style elements or attributes, or event handlers") {
  for (const auto& page : every_page()) {
    const auto problems = csp_problems(page);
    std::string listed;
    for (const auto& p : problems) listed += p + "; ";
    INFO(listed);
    CHECK(problems.empty());
    CHECK(contains(page, "<!DOCTYPE html>"));
    CHECK(contains(page, "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"));
    CHECK(contains(page, "<link rel=\"stylesheet\" href=\"/static/kwh.css\">"));
    CHECK(contains(page, "</html>"));
  }
  const auto css = std::string(stylesheet());
  CHECK_FALSE(contains(lower(css), "url(")); // nothing fetched from elsewhere
  CHECK_FALSE(contains(lower(css), "@import"));
  CHECK(contains(css, ".status-arrears"));
  CHECK(contains(css, ".chart .use"));
}

TEST_CASE("web page: every form posts and carries the csrf token") {
  const auto v = sample();
  const auto page = render_tenant_page(v);
  const auto all = forms(page);
  // Two providers, the reminder and sign out.
  REQUIRE(all.size() == 4);
  for (const auto& f : all) {
    CHECK(contains(f, "method=\"post\""));
    CHECK(contains(f, "<input type=\"hidden\" name=\"csrf\" value=\"tok-123_ABC\">"));
  }
  CHECK(contains(all[0], "action=\"/buy\""));
  CHECK(contains(all[0], "<input type=\"hidden\" name=\"provider\" value=\"alipay\">"));
  CHECK(contains(all[0], "name=\"amount\""));
  CHECK(contains(all[0], ">Pay with Alipay</button>"));
  CHECK(contains(all[1], "value=\"wechat\""));
  CHECK(contains(all[1], ">Pay with WeChat</button>"));
  CHECK(contains(all[2], "action=\"/reminder\""));
  CHECK(contains(all[2], "name=\"level\""));
  CHECK(contains(all[2], "value=\"30.00\""));
  CHECK(contains(all[3], "action=\"/logout\""));

  // A token with characters that would end the attribute is escaped.
  auto odd = sample();
  odd.csrf = "a\"b";
  for (const auto& f : forms(render_tenant_page(odd))) CHECK(contains(f, "name=\"csrf\" value=\"a&quot;b\""));

  const auto cont = forms(render_continue_page("/l/7.1790000000.1.bm9uY2U.bWFj", "c-s_rf"));
  REQUIRE(cont.size() == 1);
  CHECK(contains(cont[0], "<form method=\"post\" action=\"/l/7.1790000000.1.bm9uY2U.bWFj\">"));
  CHECK(contains(cont[0], "<input type=\"hidden\" name=\"csrf\" value=\"c-s_rf\">"));
  CHECK(contains(cont[0], ">Continue</button>"));
}

TEST_CASE("web page: emergency credit on offer is one button; taken, the status says what is owed") {
  auto v = sample();
  v.balance = 0;
  v.emergency_offer = 500;
  auto all = forms(render_tenant_page(v));
  REQUIRE(all.size() == 5);
  CHECK(contains(all[0], "action=\"/emergency\""));
  CHECK(contains(all[0], "<input type=\"hidden\" name=\"csrf\" value=\"tok-123_ABC\">"));
  CHECK(contains(all[0], ">Take 5.00 CNY of emergency credit</button>"));
  v.emergency_offer.reset();
  v.balance = 500;
  v.emergency_owed = 500;
  v.status = "emergency";
  const auto page = render_tenant_page(v);
  CHECK(forms(page).size() == 4);
  CHECK(contains(page, "class=\"badge status-emergency\""));
  CHECK(contains(page, "You are using emergency credit; 5.00 CNY of it is repaid first from your next purchase."));
}

TEST_CASE("web page: a closed account offers no buying or reminder, only signing out") {
  auto v = sample();
  v.status = "closed";
  v.days_left.reset();
  const auto page = render_tenant_page(v);
  const auto all = forms(page);
  REQUIRE(all.size() == 1);
  CHECK(contains(all[0], "action=\"/logout\""));
  CHECK(contains(page, ">closed</span>"));
  CHECK(contains(page, "This account is closed."));
}

TEST_CASE("web page: the balance is exact to the cent, and a negative one is marked") {
  auto v = sample();
  SUBCASE("positive") {
    v.balance = 1234;
    const auto page = render_tenant_page(v);
    CHECK(contains(page, "<p class=\"balance-amount\">12.34 CNY</p>"));
    CHECK_FALSE(contains(page, "negative"));
    CHECK_FALSE(contains(page, "you owe"));
  }
  SUBCASE("negative") {
    v.balance = -1234;
    v.status = "arrears";
    v.days_left.reset();
    const auto page = render_tenant_page(v);
    CHECK(contains(page, "<p class=\"balance-amount negative\">-12.34 CNY</p>"));
    CHECK(contains(page, "you owe 12.34 CNY"));
  }
  SUBCASE("a tiny negative balance keeps its sign") {
    v.balance = -5;
    CHECK(contains(render_tenant_page(v), ">-0.05 CNY<"));
  }
  SUBCASE("a currency without minor units") {
    v.currency = "JPY";
    v.minor_units = 0;
    v.balance = -700;
    v.reminder = 300;
    const auto page = render_tenant_page(v);
    CHECK(contains(page, ">-700 JPY<"));
    CHECK(contains(page, "pattern=\"[0-9]+\""));
    CHECK(contains(page, "value=\"300\""));
  }
}

TEST_CASE("web page: the status is kwh's own word, with an explanation and its colour class") {
  auto v = sample();
  v.balance = 1500;
  v.status = "alarm2";
  auto page = render_tenant_page(v);
  CHECK(contains(page, "<span class=\"badge status-alarm2\">alarm2</span>"));
  CHECK(contains(page, "class=\"card balance status-alarm2\""));
  CHECK(contains(page, "second warning level (20.00 CNY)"));

  v.status = "alarm1";
  page = render_tenant_page(v);
  CHECK(contains(page, ">alarm1</span>"));
  CHECK(contains(page, "first warning level (50.00 CNY)"));

  v.status = "arrears";
  v.balance = -1000;
  page = render_tenant_page(v);
  CHECK(contains(page, ">arrears</span>"));
  CHECK(contains(page, "credit limit (-10.00 CNY)"));

  v.status = "ok";
  CHECK(contains(render_tenant_page(v), "<span class=\"badge status-ok\">ok</span>"));

  // A word kwh does not know is shown as it is, without a class made from it.
  v.status = "frozen\"x";
  page = render_tenant_page(v);
  CHECK(contains(page, "<span class=\"badge status-unknown\">frozen&quot;x</span>"));
}

TEST_CASE("web page: days left is a sentence with the 7-day average") {
  auto v = sample();
  v.days_left = 35;
  v.average_daily_cost = 345;
  CHECK(contains(render_tenant_page(v), "About 35 days left at the last 7 days&#39; average of 3.45 CNY a day."));
  v.days_left = 1;
  CHECK(contains(render_tenant_page(v), "About 1 day left at the last 7 days&#39; average of 3.45 CNY a day."));
  v.days_left = 0;
  CHECK(contains(render_tenant_page(v), "Less than a day left"));

  v.days_left.reset();
  v.average_daily_cost = 0;
  auto page = render_tenant_page(v);
  CHECK(contains(page, "Nothing was used in the last 7 days"));
  CHECK_FALSE(contains(page, "About "));

  v.average_daily_cost = 345;
  v.balance = -100;
  page = render_tenant_page(v);
  CHECK(contains(page, "No credit is left at the last 7 days&#39; average of 3.45 CNY a day."));
}

TEST_CASE("web page: purchases link to their receipts") {
  const auto page = render_tenant_page(sample());
  CHECK(contains(page, "<a href=\"/receipt/42\">42</a>"));
  CHECK(contains(page, "<a href=\"/receipt/41\">41</a>"));
  CHECK(contains(page, "<td>2026-11-03 14:05</td><td>sale</td><td class=\"num\">200.00</td><td>cash</td>"));
  CHECK(contains(page, "<td>refund</td><td class=\"num\">5.00</td><td>card</td>"));
  // Newest first, as given.
  CHECK(page.find("/receipt/42") < page.find("/receipt/41"));

  auto none = sample();
  none.purchases.clear();
  CHECK(contains(render_tenant_page(none), "No purchases yet."));
}

TEST_CASE("web page: meters, tariff, reminder and identity are all on the page") {
  auto v = sample();
  v.reminder = 20000; // the balance (123.45) is below it
  const auto page = render_tenant_page(v);
  CHECK(contains(page, "<h1>Li Wei</h1>"));
  CHECK(contains(page, "Account <strong>A-101</strong>"));
  CHECK(contains(page, "<span class=\"meter-name\">M-1</span>"));
  CHECK(contains(page, "<span class=\"relay relay-on\">on</span>"));
  CHECK(contains(page, "<span class=\"relay relay-off\">off</span> <span class=\"reason\">(arrears:"));
  CHECK(contains(page, "Meter offline"));
  CHECK(contains(page, "Residential 2026"));
  CHECK(contains(page, "<li>peak 08:00-22:00: 0.6170 CNY per kWh</li>"));
  CHECK(contains(page, "reminded when your balance falls to <strong>200.00 CNY</strong>"));
  CHECK(contains(page, "reached your reminder level of 200.00 CNY"));
  CHECK(contains(page, "<svg class=\"chart\""));

  v.reminder.reset();
  const auto unset = render_tenant_page(v);
  CHECK(contains(unset, "No reminder is set."));
  CHECK(contains(
      unset,
      "name=\"level\" inputmode=\"decimal\" autocomplete=\"off\" pattern=\"-?[0-9]+([.][0-9]{1,2})?\" value=\"\""));
}

TEST_CASE("web chart: one bar per day, the tallest for the largest day") {
  const auto days = thirty_days();
  const auto svg = render_chart_svg(days, "kWh", "CNY", 2);
  const auto heights = bar_heights(svg);
  REQUIRE(heights.size() == 30);
  const auto tallest = std::max_element(heights.begin(), heights.end()) - heights.begin();
  CHECK(tallest == 17);
  CHECK(std::count(heights.begin(), heights.end(), heights[17]) == 1);
  // Heights follow quantities: more use is never a shorter bar.
  for (std::size_t i = 0; i < days.size(); ++i)
    for (std::size_t j = 0; j < days.size(); ++j)
      if (days[i].quantity > days[j].quantity) CHECK(heights[i] >= heights[j]);
  CHECK(heights[0] > 0);

  CHECK(contains(svg, "viewBox=\"0 0 "));
  CHECK(contains(svg, "role=\"img\""));
  CHECK(contains(svg, "aria-label=\"Daily use and cost, 2026-10-05 to 2026-11-03:"));
  CHECK(contains(svg, "<title>2026-10-22: 25.500 kWh, 153.00 CNY</title>"));
  CHECK(contains(svg, "max 25.500 kWh a day"));
  CHECK(contains(svg, "max 153.00 CNY a day"));
  CHECK(contains(svg, ">2026-10-05</text>"));
  CHECK(contains(svg, ">2026-11-03</text>"));
  CHECK(contains(svg, "<polyline class=\"cost\""));
  CHECK(contains(svg, "class=\"use today\""));
  CHECK(csp_problems(svg).empty());
}

TEST_CASE("web chart: a day with a little use still shows, and water is in m³") {
  std::vector<DayView> days(3);
  days[0] = {0, "2026-11-01", 1, 0};
  days[1] = {0, "2026-11-02", 10000000, 100};
  days[2] = {0, "2026-11-03", 0, 0};
  const auto svg = render_chart_svg(days, "m3", "CNY", 2);
  const auto heights = bar_heights(svg);
  REQUIRE(heights.size() == 3);
  CHECK(heights[0] >= 1);
  CHECK(heights[1] > heights[0]);
  CHECK(heights[2] == 0);
  CHECK(contains(svg, "10000.000 m³"));
}

TEST_CASE("web chart: no use or no days draw a sensible empty chart") {
  std::vector<DayView> zero = thirty_days();
  for (auto& d : zero) d.quantity = d.cost = 0;
  auto svg = render_chart_svg(zero, "kWh", "CNY", 2);
  auto heights = bar_heights(svg);
  CHECK(heights.size() == 30);
  CHECK(std::all_of(heights.begin(), heights.end(), [](int h) { return h == 0; }));
  CHECK(contains(svg, "No use in these days"));
  CHECK_FALSE(contains(svg, "<polyline"));
  CHECK_FALSE(contains(svg, "max "));
  CHECK(contains(svg, "</svg>"));

  svg = render_chart_svg({}, "kWh", "CNY", 2);
  CHECK(bar_heights(svg).empty());
  CHECK(contains(svg, "role=\"img\""));
  CHECK(contains(svg, "No days to show yet"));
  CHECK(contains(svg, "</svg>"));
}

TEST_CASE("web page: receipts, continue and message pages") {
  const auto receipt = render_receipt_page("A-101", "KWH RECEIPT <1>\n  TOTAL          200.00\n");
  CHECK(contains(receipt, "<pre class=\"receipt\">KWH RECEIPT &lt;1&gt;\n  TOTAL          200.00\n</pre>"));
  CHECK(contains(receipt, "href=\"/\""));
  CHECK(contains(receipt, "A-101"));

  const auto cont = render_continue_page("/l/x", "c");
  CHECK(contains(cont, "signs you in"));

  const auto msg =
      render_message_page("Link cannot be used", "This link cannot be used.\nAsk the office for a new one.");
  CHECK(contains(msg, "<h1>Link cannot be used</h1>"));
  CHECK(contains(msg, "<p>This link cannot be used.</p>\n<p>Ask the office for a new one.</p>"));
  CHECK(forms(msg).empty());
  CHECK_FALSE(contains(msg, "href=\"/\"")); // nothing but the message
}
