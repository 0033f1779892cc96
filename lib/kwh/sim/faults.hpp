#pragma once
// The faults `kwh sim --faults SPEC` injects, so that the daemon and the tests meet what real
// buses do: lost replies, slow and late ones, exception replies, line noise, counters that reset,
// a gateway that never answers, and a meter that comes and goes.

#include <kwh/util/error.hpp>

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace kwh::sim {

struct Faults {
  double drop = 0;      // probability that a request gets no reply at all
  double late = 0;      // probability that the reply comes late_by after it was due
  double exception = 0; // probability of an exception reply (code 4, server device failure)
  double garbage = 0;   // probability of random bytes instead of the reply
  double reset = 0;     // probability, per request to a meter, that its counters reset to 0
  std::chrono::milliseconds delay{0};      // every reply waits this long
  std::chrono::milliseconds late_by{1500}; // how late a late reply is
  int silent_gateway = 0;                  // 1-based gateway that accepts connections and never answers; 0 none
  int flap_meter = 0;                      // 1-based meter (across all gateways) that flaps; 0 none
  std::chrono::milliseconds flap_period{5000}; // online this long, then offline this long (wall time)
  // Relays that switch at the meter, without a command, this long (wall time) after the start:
  // trip=M@D opens meter M's relay (its own overload trip), button=M@D closes it (the tenant's button).
  struct Switch {
    int meter = 0; // 1-based, across all gateways
    std::chrono::milliseconds after{0};
    bool closed = false;
  };
  std::vector<Switch> switches;

  bool any() const;
  // "drop=0.05,delay=300ms" again, for the banner; "none" when there are none.
  std::string describe() const;
};

// "drop=0.05,delay=300ms,late=0.02,late-by=2s,exception=0.01,garbage=0.01,reset=0.001,
// silent-gateway=2,flap=5,flap-period=10s". Empty is no faults. Error(usage) names a bad item.
Result<Faults> parse_faults(std::string_view spec);

// The text for `kwh sim --help`.
extern const char* const k_faults_help;

} // namespace kwh::sim
