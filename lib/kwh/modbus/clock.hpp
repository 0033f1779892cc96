#pragma once
// A meter's clock in registers ([clock] of a profile, modbus/profile.hpp): the words that hold a
// time, and the time that words hold. Site-local formats go through the site's time zone
// (util/time.hpp); a meter has no notion of daylight saving, so kwh writes the wall-clock time
// of the moment and reads one back as that wall-clock time.

#include <kwh/modbus/profile.hpp>
#include <kwh/util/error.hpp>
#include <kwh/util/time.hpp>

#include <cstdint>
#include <span>
#include <vector>

namespace kwh::modbus {

// The words that set the clock to `t`. Error(Exit::data) for a time the format cannot hold
// (bcd: years 2000..2099; ymdhms: up to 65535; unix: up to 2^32 - 1).
Result<std::vector<std::uint16_t>> encode_clock(const ClockSpec& clock, WordOrder order, UnixTime t);

// The time `words` (clock.words() of them) hold. Error(Exit::data), naming what is wrong, for a
// date that does not exist ("2026-13-01"), a nibble that is not BCD, or the wrong number of words.
Result<UnixTime> decode_clock(const ClockSpec& clock, WordOrder order, std::span<const std::uint16_t> words);

// The time a DL/T 645 meter's date (DI 04000101, YYMMDDWW) and time (04000102, hhmmss) say,
// each as the number its BCD digits make; the weekday is ignored. Error(Exit::data) for a date
// or time that does not exist.
Result<UnixTime> dlt645_clock(std::int64_t date_yymmddww, std::int64_t time_hhmmss);

} // namespace kwh::modbus
