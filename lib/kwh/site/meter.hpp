#pragma once
// Meters: devices at a unit address behind a gateway, read through a profile (kwh-meter(1)).
// A meter that has history (readings, charges, events, commands, assignments) is never deleted:
// removing it marks it removed, so that statements and reports stay explainable.

#include <kwh/modbus/profile.hpp>
#include <kwh/site/gateway.hpp>
#include <kwh/storage/database.hpp>
#include <kwh/util/time.hpp>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kwh::site {

// auto: prepaid, opened on arrears; protect: never opened automatically; off: held open.
enum class RelayMode { automatic, protect, off };
std::string_view to_string(RelayMode m);
std::optional<RelayMode> parse_relay_mode(std::string_view s);

struct Meter {
  std::int64_t id = 0; // 0 until stored
  std::string name;    // the operator's meter ID
  std::int64_t gateway_id = 0;
  std::string gateway; // the gateway's name (filled in by the functions below)
  int unit = 1;        // 1..247 (a DL/T 645 meter: unused, 1)
  std::optional<std::string> address; // a DL/T 645 meter's 12-digit address
  // The multi-user device (an ADF400L) this meter is a circuit of, named per gateway: meters
  // with the same device on the same gateway are circuits of one physical device.
  std::optional<std::string> device;
  std::string profile; // the profile's name, or the path of its file
  std::string kind = "electricity"; // electricity | water
  std::optional<std::string> building;
  std::optional<std::string> room;
  RelayMode relay_mode = RelayMode::automatic;
  std::string relay_state = "unknown"; // on | off | unknown
  std::optional<std::string> relay_reason;
  std::optional<std::int64_t> overload_w;
  std::optional<std::int64_t> max_power_w;
  std::string status = "unknown"; // unknown | online | offline (kept by kwhd)
  std::optional<UnixTime> status_since;
  int failed_polls = 0;
  std::optional<UnixTime> removed; // set once removed
  UnixTime created = 0;

  bool in_service() const { return !removed.has_value(); }
};

// What `meter add` takes: everything but the profile is checked against the database.
struct MeterSpec {
  std::string name;
  std::string gateway;
  int unit = 0;                       // Modbus: required
  std::optional<std::string> address; // DL/T 645: required, 12 digits
  std::optional<std::string> device;  // a circuit of this multi-user device (Modbus)
  std::string profile;                // a profile name or a FILE.toml path
  std::optional<std::string> kind;    // default: the profile's
  std::optional<std::string> building;
  std::optional<std::string> room;
  RelayMode relay_mode = RelayMode::automatic;
  std::optional<std::int64_t> overload_w;
};

// What `meter set` may change; unset fields stay. An empty building or room clears it.
struct MeterChange {
  std::optional<std::string> gateway;
  std::optional<int> unit;
  std::optional<std::string> address; // DL/T 645 meters only
  std::optional<std::string> device;  // Modbus meters only
  bool no_device = false;             // no longer a circuit of a device
  std::optional<std::string> profile;
  std::optional<std::string> kind;
  std::optional<std::string> building;
  std::optional<std::string> room;
  std::optional<RelayMode> relay_mode;
  std::optional<std::int64_t> overload_w; // 0 clears it
};

// Whether unit ranges [a, a + a_units) and [b, b + b_units) share an address.
bool units_overlap(int a, int a_units, int b, int b_units);
// "unit 5", or "units 4..6" for a meter that occupies three.
std::string units_text(int unit, int units);

// Loads the profile a meter names (built-ins, then `folders`; or a file path). Error(no_input)
// when it cannot be found, Error(config) when it is bad.
modbus::Profile load_profile(std::string_view name_or_path, const std::vector<std::string>& folders);
// The profile of a stored meter: as load_profile, falling back to the text stored with the
// meter in the profiles table when the file has since gone.
modbus::Profile meter_profile(storage::Database& db, const Meter& m, const std::vector<std::string>& folders);

// Profiles loaded once each, for commands that add or check many meters (`kwh meter
// import`): load() is load_profile, units() how many unit addresses a stored meter's profile
// occupies (1 when it cannot be loaded any more). A profile that fails to load is not kept: it
// fails again, with the same error, each time it is asked for.
class ProfileCache {
public:
  explicit ProfileCache(std::vector<std::string> folders) : m_folders(std::move(folders)) {}
  const modbus::Profile& load(std::string_view name_or_path);
  int units(storage::Database& db, const std::string& profile);
  const std::vector<std::string>& folders() const { return m_folders; }

private:
  std::vector<std::string> m_folders;
  std::map<std::string, modbus::Profile, std::less<>> m_loaded;
  std::map<std::string, int, std::less<>> m_units;
};

// What meters.profile records for a profile given as `name_or_path`: the profile's name for
// built-ins and profiles found in the folders; the absolute path of a file named directly.
std::string profile_reference(std::string_view name_or_path, const modbus::Profile& p);

// Adds a meter. Nothing is read from the bus: a meter can be added before it is installed.
// Errors: usage for a bad field; no_input for an unknown gateway or profile; config for a bad
// profile; data when the ID is taken or another in-service meter has the gateway and unit (or
// one of the units the profile occupies: a three-phase circuit of an ADF400L takes three).
Meter add_meter(storage::Database& db, const MeterSpec& spec, const std::vector<std::string>& profile_folders);
// The same in the caller's transaction, with the caller's profiles.
Meter add_meter_in(storage::Database& db, const MeterSpec& spec, ProfileCache& profiles);

std::optional<Meter> find_meter(storage::Database& db, std::string_view name);
std::optional<Meter> find_meter(storage::Database& db, std::int64_t id);
// As find_meter, but Error(no_input) "no meter NAME" when there is none.
Meter get_meter(storage::Database& db, std::string_view name);
// As get_meter, and Error(data) when the meter has been removed.
Meter get_meter_in_service(storage::Database& db, std::string_view name);

struct MeterFilter {
  std::optional<std::string> status; // online | offline | unknown
  std::optional<std::string> gateway;
  std::optional<std::string> building;
  std::optional<std::string> account; // meters with an open assignment to this account
  bool include_removed = false;
};
// In name order. An unknown gateway in the filter is Error(no_input).
std::vector<Meter> list_meters(storage::Database& db, const MeterFilter& filter = {});

// Applies a change to an in-service meter, with add_meter's checks; returns the stored meter.
Meter update_meter(storage::Database& db, std::string_view name, const MeterChange& change,
                   const std::vector<std::string>& profile_folders);
// The same in the caller's transaction, with the caller's profiles.
Meter update_meter_in(storage::Database& db, std::string_view name, const MeterChange& change, ProfileCache& profiles);

// Sets the relay mode of in-service meters, all in one transaction (`kwh relay auto|protect`).
void set_relay_mode(storage::Database& db, const std::vector<std::int64_t>& meter_ids, RelayMode mode);
// The same inside the caller's transaction.
void set_relay_mode_in(storage::Database& db, const std::vector<std::int64_t>& meter_ids, RelayMode mode);

enum class Removal { deleted, marked_removed };
// Removes a meter: deleted when it has no history, else marked removed (its ID stays taken).
// Refused with Error(data) while an account has it open (naming the account).
Removal remove_meter(storage::Database& db, std::string_view name);

// The account (its name) that has the meter open now, if any.
std::optional<std::string> open_account(storage::Database& db, std::int64_t meter_id);

} // namespace kwh::site
