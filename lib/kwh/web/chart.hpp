#pragma once
// The tenant page's chart of the last 30 days: one bar per day for what was used and a line
// for what it cost, drawn on the server as inline SVG. The page's Content-Security-Policy
// forbids scripts and inline styles, so the drawing uses presentation attributes and class
// names only; colours and sizes come from the stylesheet (page.hpp, stylesheet()).

#include <kwh/web/view.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace kwh::web {

// An <svg> element (with a viewBox, so it scales to the column's width) for `days`, oldest
// first. `unit` is what the tariff sells: "kWh" (quantities in Wh) or "m3" (quantities in
// litres); costs are minor units of `currency`. Each day is a <g class="day"> holding a
// <title> and a <rect class="use">; costs are a <polyline class="cost">. With no days, or no
// use and no cost on any of them, the chart says so instead of drawing empty scales.
std::string render_chart_svg(const std::vector<DayView>& days, std::string_view unit, std::string_view currency,
                             int minor_units);

// "12.345 kWh" from 12345 Wh, "1.250 m³" from 1250 litres.
std::string quantity_text(std::int64_t quantity, std::string_view unit);

} // namespace kwh::web
