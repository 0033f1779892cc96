// Fuzzes the kwh.toml loader over arbitrary text: it may accept or reject, but a rejection must
// be a kwh::Error with Exit::config and a one-line message naming the file, and what it accepts
// must be inside the ranges the table of keys promises.
#include <kwh/config/config.hpp>
#include <kwh/util/error.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {
void require(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "fuzz_config: %s\n", what);
  std::abort();
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  kwh::config::Config c;
  try {
    c = kwh::config::parse(text, "fuzz.toml");
  } catch (const kwh::Error& e) {
    require(e.code() == kwh::Exit::config, "a bad configuration is not Exit::config");
    std::string message = e.what();
    require(message.rfind("fuzz.toml", 0) == 0, "the message does not name the file");
    require(message.find('\n') == std::string::npos, "the message is more than one line");
    return 0;
  }
  using std::chrono::milliseconds;
  require(c.poll.interval >= milliseconds(1000) && c.poll.interval <= milliseconds(24 * 3600 * 1000),
          "accepted an interval outside 1s..24h");
  require(c.poll.timeout >= milliseconds(10) && c.poll.timeout <= milliseconds(60'000),
          "accepted a timeout outside 10ms..60s");
  require(c.poll.retries >= 0 && c.poll.retries <= 10, "accepted retries outside 0..10");
  require(c.poll.offline_after >= 1 && c.poll.offline_after <= 1000, "accepted offline_after outside 1..1000");
  require(!c.poll.sync_time || (*c.poll.sync_time >= 0 && *c.poll.sync_time < 24 * 60), "accepted a sync_time outside the day");
  require(c.poll.max_drift.count() >= 1, "accepted a max_drift under 1 s");
  require(c.minor_units >= 0 && c.minor_units <= kwh::Money::k_max_minor_units, "accepted minor_units out of range");
  require(c.billing.max_power_w >= 1 && c.billing.max_power_w <= 100'000'000, "accepted max_power_w out of range");
  for (const auto& w : c.billing.friendly_hours)
    require(w.from_minute >= 0 && w.from_minute < 1440 && w.to_minute >= 0 && w.to_minute <= 1440,
            "accepted a friendly window outside the day");
  for (int d : c.billing.friendly_days) require(d >= 0 && d <= 6, "accepted a day outside the week");
  return 0;
}
