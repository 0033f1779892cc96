#include <kwh/report/report.hpp>

#include <kwh/util/money.hpp>

#include <algorithm>
#include <array>

namespace kwh::report {

namespace {

constexpr std::array<std::string_view, 11> k_names = {"sales",    "energy",   "balances",  "alarms",
                                                      "offline",  "gateways", "readings",  "reconcile",
                                                      "statement", "debts",   "emergency"};
constexpr std::array<std::string_view, 7> k_bys = {"day", "month", "year", "operator", "account", "meter", "building"};

// Which --by each report takes; the first is its default.
std::vector<By> allowed_by(Name n) {
  switch (n) {
  case Name::sales: return {By::day, By::month, By::year, By::operator_, By::account};
  case Name::energy: return {By::meter, By::account, By::building, By::day, By::month, By::year};
  default: return {};
  }
}

bool takes_dates(const Options& o) {
  switch (o.name) {
  case Name::sales:
  case Name::energy:
  case Name::alarms:
  case Name::reconcile:
  case Name::statement: return true;
  case Name::readings: return o.raw;
  default: return false;
  }
}

bool takes_account(Name n) {
  return n == Name::sales || n == Name::energy || n == Name::alarms || n == Name::balances || n == Name::statement ||
         n == Name::debts || n == Name::emergency;
}

} // namespace

std::optional<Name> parse_name(std::string_view s) {
  for (std::size_t i = 0; i < k_names.size(); ++i)
    if (k_names[i] == s) return static_cast<Name>(i);
  return std::nullopt;
}

std::optional<By> parse_by(std::string_view s) {
  for (std::size_t i = 0; i < k_bys.size(); ++i)
    if (k_bys[i] == s) return static_cast<By>(i);
  return std::nullopt;
}

std::string_view name_text(Name n) { return k_names[static_cast<std::size_t>(n)]; }
std::string_view by_text(By b) { return k_bys[static_cast<std::size_t>(b)]; }

const std::vector<std::string>& name_words() {
  static const std::vector<std::string> k_words(k_names.begin(), k_names.end());
  return k_words;
}

Request prepare(const Options& options) {
  Request r{options, {}};
  Options& o = r.options;
  const std::string_view name = name_text(o.name);
  auto allowed = allowed_by(o.name);
  if (o.by) {
    if (allowed.empty()) fail(Exit::usage, "report {} takes no --by", name);
    if (std::find(allowed.begin(), allowed.end(), *o.by) == allowed.end()) {
      std::string words;
      for (By b : allowed) words += (words.empty() ? "" : "|") + std::string(by_text(b));
      fail(Exit::usage, "report {} cannot be grouped --by {} (use --by {})", name, by_text(*o.by), words);
    }
  } else if (!allowed.empty()) {
    o.by = allowed.front();
  }
  if ((o.from || o.to) && !takes_dates(o))
    fail(Exit::usage, "report {} shows the present state; --from/--to do not apply{}", name,
         o.name == Name::readings ? " (use --raw for the readings of a period)" : "");
  if (o.account && !takes_account(o.name)) fail(Exit::usage, "report {} takes no --account", name);
  if (o.name == Name::statement && !o.account) fail(Exit::usage, "report statement needs --account A");
  if (o.active && o.name != Name::alarms) fail(Exit::usage, "--active is for report alarms, not report {}", name);
  if (o.raw && o.name != Name::readings) fail(Exit::usage, "--raw is for report readings, not report {}", name);
  if (o.meter && !o.raw) fail(Exit::usage, "--meter is for report readings --raw");
  if (o.now == 0) o.now = kwh::now();
  r.period = o.name == Name::reconcile ? today_or_dates(o.from, o.to, o.now) : period_from_dates(o.from, o.to, o.now);
  return r;
}

Built build_checked(storage::Database& db, const Request& r) {
  switch (r.options.name) {
  case Name::sales: return {sales(db, r), {}};
  case Name::energy: return {energy(db, r), {}};
  case Name::balances: return {balances(db, r), {}};
  case Name::alarms: return {alarms(db, r), {}};
  case Name::offline: return {offline(db, r), {}};
  case Name::gateways: return {gateways(db, r), {}};
  case Name::readings: {
    if (!r.options.raw) return {latest_readings(db, r), {}};
    output::Table t;
    t.columns = raw_reading_columns();
    for_each_raw_reading(db, r, [&](std::vector<output::Json>&& row) { t.rows.push_back(std::move(row)); });
    return {std::move(t), {}};
  }
  case Name::reconcile: return reconcile(db, r);
  case Name::statement: return statement(db, r);
  case Name::debts: return {debts(db, r), {}};
  case Name::emergency: return {emergency(db, r), {}};
  }
  return {};
}

output::Table build(storage::Database& db, const Request& r) { return build_checked(db, r).table; }

std::string money_text(std::int64_t minor, int minor_units) {
  return Money::from_minor(minor).format(minor_units);
}

std::string thousandths(std::int64_t v) { return format_decimal(v, 3); }

std::int64_t account_id(storage::Database& db, const std::string& name) {
  auto st = db.prepare("SELECT id FROM accounts WHERE name = ?");
  st.bind_all(name);
  if (!st.step()) fail(Exit::no_input, "no such account: {}", name);
  return st.get_int(0);
}

} // namespace kwh::report
