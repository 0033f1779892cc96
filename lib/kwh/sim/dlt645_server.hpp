#pragma once
// `kwh sim --protocol dlt645`: the fleet's meters as DL/T 645-2007 meters behind transparent
// serial servers. What a meter answers to a frame is here, as functions from a frame to a frame
// (no sockets), so that the unit tests feed requests directly; server.cpp carries the bytes and
// injects the faults.
//
// Meter m (1-based, across all gateways, dealt to gateways as for Modbus) has the address
// format("{:012}", m): 000000000001, 000000000002, ... A request for an address that is not on
// the gateway's bus, a broadcast, or a frame from a meter (a reply) gets no answer, as on a bus.
// Wildcard bytes (AA) reach the one meter of the bus they match, and nobody when several match.
//
// Answered:
// - 11H read data: every identifier of dlt645::identifiers() the fleet produces, in the
//   identifier's format (energy floored to 0.01 kWh, the total the sum of the four bands shown);
//   status word 3 has bit 4 (k_status3_relay_off) set while the relay is open, the other bits 0.
//   Other identifiers: an error reply, "no requested data".
// - 1CH relay control: the password PA P0 P1 P2 must be the simulator's (else an error reply,
//   "wrong password or not authorised"); N1 1AH trips (opens), 1BH and 1CH close at once, alarm
//   and protect (2AH, 2BH, 3AH, 3BH) are accepted and change nothing. The operator code and the
//   valid-until time are not checked. Reply 9CH without data.
// - 13H read address: the meter's address.
// - 08H broadcast time (dlt645_broadcast_time): no reply; each meter of the bus whose own clock
//   is within 5 minutes of the time sent takes it, the others ignore it, as the standard says.
//   The meters' clocks run in real time (Fleet::meter_clock), not at the simulated speed; reads
//   of the date (04000101) and time (04000102) show them.
// Any other function gets an error reply, "other error".

#include <kwh/dlt645/frame.hpp>
#include <kwh/sim/fleet.hpp>

#include <array>
#include <cstdint>
#include <optional>

namespace kwh::sim {

// The address of meter `index` (0-based): 000000000001 for index 0.
dlt645::Address dlt645_address(int index);

// The meter that `request` is addressed to among the meters first .. first + count - 1 (0-based
// indexes: one gateway's bus), or nullopt when none is (or several are).
std::optional<int> dlt645_addressee(const dlt645::Frame& request, int first, int count);

// How far from its own clock a broadcast time may be for a meter to take it (DL/T 645: 5 min).
inline constexpr std::int64_t k_broadcast_window = 300;

// A broadcast time frame heard by meters first .. first + count - 1 (one gateway's bus).
void dlt645_broadcast_time(Fleet& fleet, int first, int count, const dlt645::Frame& request,
                           Fleet::Clock::time_point at);

// What meter `index` of `fleet` answers to `request` at `at`: the reply, or nullopt for none.
// `password` is PA P0 P1 P2, in the order sent, that relay control must carry.
std::optional<dlt645::Frame> dlt645_answer(Fleet& fleet, int index, const dlt645::Frame& request,
                                           const std::array<std::uint8_t, 4>& password, Fleet::Clock::time_point at);

} // namespace kwh::sim
