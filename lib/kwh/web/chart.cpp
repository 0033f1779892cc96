#include <kwh/web/chart.hpp>

#include <kwh/util/money.hpp>
#include <kwh/web/page.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <limits>

namespace kwh::web {

namespace {

// The drawing's coordinates, in viewBox units. 400 wide keeps 12-unit text readable when a
// phone shrinks the chart to about 330 pixels; a desktop column draws it larger.
constexpr int k_width = 400;
constexpr int k_height = 220;
constexpr int k_left = 5;    // the plot area's left edge
constexpr int k_right = 395; // and right edge: 390 wide, 13 per day for 30 days
constexpr int k_top = 30;    // the top of the tallest bar and of the highest cost
constexpr int k_base = 190;  // the zero line
constexpr int k_plot_height = k_base - k_top;
constexpr int k_label_top = 16;     // baseline of the maxima above the plot
constexpr int k_label_bottom = 208; // baseline of the dates below it

// value * span / max, for 0 <= value <= max, in integers. Anything above zero gets at least one
// unit, so that a day with a little use does not look like a day with none.
int scaled(std::int64_t value, std::int64_t max, int span) {
  if (value <= 0 || max <= 0) return 0;
  value = std::min(value, max);
  while (max > std::numeric_limits<std::int64_t>::max() / span) value /= 2, max /= 2;
  const auto h = static_cast<int>(value * span / max);
  return std::max(h, 1);
}

// The left edge of day i's slot; slots share the plot's width as evenly as integers allow.
int slot_left(std::size_t i, std::size_t n) {
  return k_left + static_cast<int>(static_cast<std::int64_t>(i) * (k_right - k_left) / static_cast<std::int64_t>(n));
}

std::string money_text(std::int64_t minor, std::string_view currency, int minor_units) {
  return fmt::format("{} {}", Money::from_minor(minor).format(minor_units), currency);
}

void empty_chart(std::string& out, std::string_view title, std::string_view message) {
  const auto t = html_escape(title);
  fmt::format_to(std::back_inserter(out),
                 "<svg class=\"chart\" viewBox=\"0 0 {} {}\" role=\"img\" aria-label=\"{}\">\n<title>{}</title>\n",
                 k_width, k_height, t, t);
  fmt::format_to(std::back_inserter(out),
                 "<line class=\"axis\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#888\"/>\n", k_left, k_base,
                 k_right, k_base);
  fmt::format_to(std::back_inserter(out),
                 "<text class=\"chart-note\" x=\"{}\" y=\"{}\" font-size=\"14\" text-anchor=\"middle\">{}</text>\n",
                 k_width / 2, (k_top + k_base) / 2, html_escape(message));
}

} // namespace

std::string quantity_text(std::int64_t quantity, std::string_view unit) {
  return fmt::format("{} {}", format_decimal(quantity, 3), unit == "m3" ? std::string_view("m³") : unit);
}

std::string render_chart_svg(const std::vector<DayView>& days, std::string_view unit, std::string_view currency,
                             int minor_units) {
  std::string out;
  if (days.empty()) {
    empty_chart(out, "Daily use: no days to show yet", "No days to show yet");
    return out + "</svg>\n";
  }

  std::int64_t max_quantity = 0, max_cost = 0, total_quantity = 0, total_cost = 0;
  for (const auto& d : days) {
    max_quantity = std::max(max_quantity, d.quantity);
    max_cost = std::max(max_cost, d.cost);
    total_quantity += std::max<std::int64_t>(d.quantity, 0);
    total_cost += std::max<std::int64_t>(d.cost, 0);
  }
  const std::string span =
      days.size() == 1 ? days.front().label : fmt::format("{} to {}", days.front().label, days.back().label);
  const std::string title =
      fmt::format("Daily use and cost, {}: {} and {} in total", span, quantity_text(total_quantity, unit),
                  money_text(total_cost, currency, minor_units));

  if (max_quantity <= 0 && max_cost <= 0) {
    empty_chart(out, title, "No use in these days");
  } else {
    const auto t = html_escape(title);
    fmt::format_to(std::back_inserter(out),
                   "<svg class=\"chart\" viewBox=\"0 0 {} {}\" role=\"img\" aria-label=\"{}\">\n<title>{}</title>\n",
                   k_width, k_height, t, t);
    if (max_quantity > 0)
      fmt::format_to(std::back_inserter(out),
                     "<text class=\"chart-label use-label\" x=\"{}\" y=\"{}\" font-size=\"12\">max {} a day</text>\n",
                     k_left, k_label_top, html_escape(quantity_text(max_quantity, unit)));
    if (max_cost > 0)
      fmt::format_to(std::back_inserter(out),
                     "<text class=\"chart-label cost-label\" x=\"{}\" y=\"{}\" font-size=\"12\" "
                     "text-anchor=\"end\">max {} a day</text>\n",
                     k_right, k_label_top, html_escape(money_text(max_cost, currency, minor_units)));
    fmt::format_to(std::back_inserter(out),
                   "<line class=\"grid\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#ccc\"/>\n", k_left, k_top,
                   k_right, k_top);
  }

  // One group per day: a transparent slot that gives the whole column to a pointer or a tap
  // (for the <title>), and the bar of what was used.
  const std::size_t n = days.size();
  std::string points;
  for (std::size_t i = 0; i < n; ++i) {
    const auto& d = days[i];
    const int left = slot_left(i, n), right = slot_left(i + 1, n);
    const int width = std::max((right - left) * 3 / 4, 1);
    const int x = left + (right - left - width) / 2;
    const int h = scaled(d.quantity, max_quantity, k_plot_height);
    fmt::format_to(std::back_inserter(out),
                   "<g class=\"day\"><title>{}: {}, {}</title>"
                   "<rect class=\"hit\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"transparent\"/>"
                   "<rect class=\"use{}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"/></g>\n",
                   html_escape(d.label), html_escape(quantity_text(d.quantity, unit)),
                   html_escape(money_text(d.cost, currency, minor_units)), left, k_top, right - left, k_plot_height,
                   i + 1 == n ? " today" : "", x, k_base - h, width, h);
    if (max_cost > 0) {
      if (!points.empty()) points += ' ';
      fmt::format_to(std::back_inserter(points), "{},{}", (left + right) / 2,
                     k_base - scaled(d.cost, max_cost, k_plot_height));
    }
  }
  if (!points.empty())
    fmt::format_to(std::back_inserter(out),
                   "<polyline class=\"cost\" points=\"{}\" fill=\"none\" stroke=\"currentColor\"/>\n", points);
  if (max_quantity > 0 || max_cost > 0)
    fmt::format_to(std::back_inserter(out),
                   "<line class=\"axis\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#888\"/>\n", k_left, k_base,
                   k_right, k_base);

  // Dates under the first, the middle and the last day.
  auto date = [&](std::size_t i, const char* anchor, int x) {
    fmt::format_to(std::back_inserter(out),
                   "<text class=\"chart-label\" x=\"{}\" y=\"{}\" font-size=\"12\" text-anchor=\"{}\">{}</text>\n", x,
                   k_label_bottom, anchor, html_escape(days[i].label));
  };
  date(0, "start", k_left);
  if (n >= 5) date(n / 2, "middle", (slot_left(n / 2, n) + slot_left(n / 2 + 1, n)) / 2);
  if (n >= 2) date(n - 1, "end", k_right);
  return out + "</svg>\n";
}

} // namespace kwh::web
