#include <kwh/sim/faults.hpp>
#include <kwh/util/time.hpp>

#include <fmt/format.h>

#include <charconv>
#include <optional>
#include <vector>

namespace kwh::sim {

const char* const k_faults_help =
    "Faults (--faults ITEM,ITEM,...):\n"
    "  drop=P            no reply to a request, with probability P (0..1)\n"
    "  delay=D           every reply waits D (e.g. 300ms)\n"
    "  late=P            a reply comes late (late-by after it was due), with probability P\n"
    "  late-by=D         how late a late reply is (default 1500ms)\n"
    "  exception=P       exception reply, code 4 (server device failure), with probability P\n"
    "  garbage=P         random bytes instead of the reply, with probability P\n"
    "  reset=P           a meter's energy/volume counters reset to 0, with probability P per request\n"
    "  silent-gateway=G  gateway G (1-based) accepts connections and never answers\n"
    "  flap=M            meter M (1-based, counted across gateways) is online, then offline (no reply),\n"
    "                    for flap-period each (default 5s)\n"
    "  flap-period=D\n"
    "  trip=M@D          meter M's relay opens by itself D after the start (an overload trip at the meter)\n"
    "  button=M@D        meter M's relay closes by itself D after the start (the tenant's button)\n"
    "Example: --faults drop=0.05,delay=300ms,late=0.02,exception=0.01,reset=0.001,flap=5";

namespace {

Result<double> probability(std::string_view key, std::string_view text) {
  double v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size() || !(v >= 0 && v <= 1))
    return Error(Exit::usage, fmt::format("--faults: {} must be a probability 0..1, not '{}'", key, text));
  return v;
}

Result<int> positive(std::string_view key, std::string_view text) {
  int v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size() || v < 1)
    return Error(Exit::usage, fmt::format("--faults: {} must be a number from 1, not '{}'", key, text));
  return v;
}

Result<std::chrono::milliseconds> duration(std::string_view key, std::string_view text) {
  auto d = parse_duration(text);
  if (!d.ok()) return Error(Exit::usage, fmt::format("--faults: {} must be a duration such as 300ms, not '{}'", key, text));
  return *d;
}

} // namespace

bool Faults::any() const {
  return drop > 0 || late > 0 || exception > 0 || garbage > 0 || reset > 0 || delay.count() > 0 ||
         silent_gateway > 0 || flap_meter > 0 || !switches.empty();
}

std::string Faults::describe() const {
  std::vector<std::string> parts;
  if (drop > 0) parts.push_back(fmt::format("drop={}", drop));
  if (delay.count() > 0) parts.push_back(fmt::format("delay={}ms", delay.count()));
  if (late > 0) parts.push_back(fmt::format("late={} by {}ms", late, late_by.count()));
  if (exception > 0) parts.push_back(fmt::format("exception={}", exception));
  if (garbage > 0) parts.push_back(fmt::format("garbage={}", garbage));
  if (reset > 0) parts.push_back(fmt::format("reset={}", reset));
  if (silent_gateway > 0) parts.push_back(fmt::format("silent-gateway={}", silent_gateway));
  if (flap_meter > 0) parts.push_back(fmt::format("flap={} every {}ms", flap_meter, flap_period.count()));
  for (const auto& s : switches)
    parts.push_back(fmt::format("{}={}@{}ms", s.closed ? "button" : "trip", s.meter, s.after.count()));
  return parts.empty() ? "none" : fmt::format("{}", fmt::join(parts, ","));
}

Result<Faults> parse_faults(std::string_view spec) {
  Faults f;
  while (!spec.empty()) {
    auto comma = spec.find(',');
    std::string_view item = spec.substr(0, comma);
    spec = comma == std::string_view::npos ? std::string_view{} : spec.substr(comma + 1);
    if (item.empty()) continue;
    auto eq = item.find('=');
    if (eq == std::string_view::npos)
      return Error(Exit::usage, fmt::format("--faults: expected KEY=VALUE, got '{}'", item));
    std::string_view key = item.substr(0, eq), value = item.substr(eq + 1);
    auto set_p = [&](double& into) -> std::optional<Error> {
      auto v = probability(key, value);
      if (!v.ok()) return v.error();
      into = *v;
      return std::nullopt;
    };
    auto set_d = [&](std::chrono::milliseconds& into) -> std::optional<Error> {
      auto v = duration(key, value);
      if (!v.ok()) return v.error();
      into = *v;
      return std::nullopt;
    };
    auto set_i = [&](int& into) -> std::optional<Error> {
      auto v = positive(key, value);
      if (!v.ok()) return v.error();
      into = *v;
      return std::nullopt;
    };
    std::optional<Error> err;
    if (key == "drop") err = set_p(f.drop);
    else if (key == "late") err = set_p(f.late);
    else if (key == "exception") err = set_p(f.exception);
    else if (key == "garbage") err = set_p(f.garbage);
    else if (key == "reset") err = set_p(f.reset);
    else if (key == "delay") err = set_d(f.delay);
    else if (key == "late-by") err = set_d(f.late_by);
    else if (key == "flap-period") err = set_d(f.flap_period);
    else if (key == "silent-gateway") err = set_i(f.silent_gateway);
    else if (key == "flap") err = set_i(f.flap_meter);
    else if (key == "trip" || key == "button") {
      auto at = value.find('@');
      if (at == std::string_view::npos)
        return Error(Exit::usage, fmt::format("--faults: {} must be METER@DURATION such as 2@5s, not '{}'", key, value));
      auto m = positive(key, value.substr(0, at));
      if (!m.ok()) return m.error();
      auto d = duration(key, value.substr(at + 1));
      if (!d.ok()) return d.error();
      f.switches.push_back({*m, *d, key == "button"});
    }
    else return Error(Exit::usage, fmt::format("--faults: unknown fault '{}' (see kwh sim --help)", key));
    if (err) return *err;
  }
  return f;
}

} // namespace kwh::sim
