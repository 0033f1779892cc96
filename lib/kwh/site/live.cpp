#include <kwh/site/live.hpp>

#include <kwh/site/command.hpp>
#include <kwh/dlt645/frame.hpp>
#include <kwh/dlt645/identifiers.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <thread>

namespace kwh::site {

namespace {

std::uint8_t unit_of(const Meter& m) { return static_cast<std::uint8_t>(m.unit); }

std::vector<std::uint16_t> bits_to_words(const std::vector<bool>& bits) {
  std::vector<std::uint16_t> words;
  words.reserve(bits.size());
  for (bool b : bits) words.push_back(b ? 1 : 0);
  return words;
}

// One planned read over the bus: the words (bits as 0/1 words), or the transport's Failure.
transport::Outcome<std::vector<std::uint16_t>> try_read(transport::Client& client, const Meter& m,
                                                        const modbus::ReadRequest& r) {
  using modbus::Table;
  auto bits = [](transport::Outcome<std::vector<bool>> o) -> transport::Outcome<std::vector<std::uint16_t>> {
    if (!o) return o.failure();
    return bits_to_words(*o);
  };
  switch (r.table) {
  case Table::holding: return client.read_holding(unit_of(m), r.address, r.count);
  case Table::input: return client.read_input(unit_of(m), r.address, r.count);
  case Table::coil: return bits(client.read_coils(unit_of(m), r.address, r.count));
  case Table::discrete: return bits(client.read_discrete(unit_of(m), r.address, r.count));
  }
  return std::vector<std::uint16_t>{};
}

std::string words_text(const std::vector<std::uint16_t>& words) {
  std::string s;
  for (auto w : words) {
    if (!s.empty()) s += ' ';
    s += fmt::format("0x{:04X}", w);
  }
  return s;
}

} // namespace

const modbus::Value* LiveReading::find(std::string_view name) const {
  for (const auto& v : values)
    if (v.name == name) return &v;
  return nullptr;
}

output::Json value_json(const modbus::Value& v) {
  if (modbus::is_integer_quantity(v.name) && v.integer) return output::Json(*v.integer);
  return output::Json(v.real);
}

output::Json values_json(const LiveReading& r) {
  auto o = output::Json::object();
  for (const auto& v : r.values) o.set(v.name, value_json(v));
  return o;
}

std::string bus_name(const Meter& m) {
  if (m.address) return fmt::format("meter {} (gateway {}, address {})", m.name, m.gateway, *m.address);
  return fmt::format("meter {} (gateway {}, unit {})", m.name, m.gateway, m.unit);
}

transport::Request dlt645_read_request(const std::string& address_text, std::uint32_t di) {
  auto address = dlt645::Address::parse(address_text);
  if (!address) throw address.error();
  return transport::Request::raw_frame(dlt645::encode_frame(dlt645::read_request(*address, di)));
}

Dlt645Read decode_dlt645_read(const std::string& address_text, const modbus::ValueSpec& spec,
                              const transport::Response& r, std::optional<modbus::Value>& out, std::string& why) {
  auto address = dlt645::Address::parse(address_text);
  auto frame = dlt645::decode_frame(r.frame);
  if (!address || !frame) {
    why = !address ? address.error().what() : frame.error().what();
    return Dlt645Read::bad;
  }
  if (auto word = dlt645::error_word(*frame); word && frame->address == *address) {
    why = dlt645::describe_error_word(*word);
    return Dlt645Read::refused;
  }
  auto reply = dlt645::decode_read_reply(*frame, *address, spec.di);
  if (!reply) {
    why = reply.error().what();
    return Dlt645Read::bad;
  }
  const auto* id = dlt645::find_identifier(spec.di);
  if (!id) {
    why = fmt::format("{}: kwh cannot decode identifier 0x{:08X}", spec.name, spec.di);
    return Dlt645Read::refused;
  }
  auto v = dlt645::decode_value(*id, reply->value);
  if (!v) {
    why = fmt::format("{}: {}", spec.name, v.error().what());
    return Dlt645Read::bad;
  }
  out = modbus::Value{spec.name, v->real, v->integer};
  return Dlt645Read::value;
}

namespace {

// A DL/T 645 meter read now: one request per data identifier; a refused one is missing.
std::vector<std::optional<modbus::Value>> read_dlt645(transport::Client& client, const Meter& m, const modbus::Profile& p) {
  std::vector<std::optional<modbus::Value>> decoded(p.values.size());
  if (!m.address) fail(Exit::config, "meter {} has no DL/T 645 address", m.name);
  for (std::size_t i = 0; i < p.values.size(); ++i) {
    auto o = client.call(dlt645_read_request(*m.address, p.values[i].di));
    if (!o) throw transport::to_error(o.failure(), bus_name(m));
    std::string why;
    if (decode_dlt645_read(*m.address, p.values[i], *o, decoded[i], why) == Dlt645Read::bad)
      fail(Exit::unavailable, "{}: {}", bus_name(m), why);
  }
  return decoded;
}

} // namespace

LiveReading read_live(transport::Client& client, const Meter& m, const modbus::Profile& p) {
  LiveReading out;
  if (p.protocol == "dlt645") {
    auto decoded = read_dlt645(client, m, p);
    out.time = now();
    for (std::size_t i = 0; i < decoded.size(); ++i)
      if (decoded[i]) out.values.push_back(std::move(*decoded[i]));
    if (const auto* total = p.total(); total && !out.find(total->name))
      fail(Exit::failed, "{}: the meter did not give {}", bus_name(m), total->name);
    return out;
  }
  std::vector<std::optional<modbus::Value>> decoded(p.values.size());
  // As kwhd does: a merged read the meter refuses (exception 2 or 3) is split into the reads its
  // values need; a value whose own read is refused is missing.
  auto plan = modbus::plan_reads(p);
  std::deque<modbus::ReadRequest> todo(plan.begin(), plan.end());
  while (!todo.empty()) {
    auto request = std::move(todo.front());
    todo.pop_front();
    auto data = try_read(client, m, request);
    if (!data) {
      const auto& f = data.failure();
      const bool refused = f.kind == transport::Failure::Kind::exception && (f.exception_code == 2 || f.exception_code == 3);
      if (!refused) throw transport::to_error(f, bus_name(m));
      if (request.values.size() > 1) {
        std::vector<modbus::ValueSpec> specs;
        for (std::size_t i : request.values) specs.push_back(p.values[i]);
        auto split = modbus::plan_reads(specs, 9600, 0);
        if (split.size() <= 1) split = modbus::plan_one_per_value(specs);
        for (auto it = split.rbegin(); it != split.rend(); ++it) {
          for (auto& v : it->values) v = request.values[v];
          todo.push_front(std::move(*it));
        }
      }
      continue;
    }
    for (std::size_t i : request.values)
      decoded[i] = modbus::decode_from(request, *data, p.values[i], p.word_order);
  }
  out.time = now();
  for (std::size_t i = 0; i < decoded.size(); ++i) {
    if (!decoded[i]) continue;
    modbus::Value v = std::move(*decoded[i]);
    v.name = p.values[i].name;
    out.values.push_back(std::move(v));
  }
  if (const auto* total = p.total(); total && !out.find(total->name))
    fail(Exit::failed, "{}: {} could not be decoded from what the meter sent", bus_name(m), total->name);
  return out;
}

void store_values(storage::Database& db, const Meter& m, const LiveReading& r) {
  db.prepare("INSERT INTO meter_values(meter_id, t, \"values\") VALUES (?1, ?2, ?3) "
             "ON CONFLICT(meter_id) DO UPDATE SET t = excluded.t, \"values\" = excluded.\"values\" "
             "WHERE excluded.t >= meter_values.t")
      .bind_all(m.id, r.time, values_json(r).dump(-1))
      .run();
}

std::optional<LiveReading> stored_values(storage::Database& db, std::int64_t meter_id) {
  auto st = db.prepare("SELECT v.t, j.key, j.value, j.type FROM meter_values v, json_each(v.\"values\") j "
                       "WHERE v.meter_id = ?1 ORDER BY j.id");
  st.bind(1, meter_id);
  std::optional<LiveReading> out;
  while (st.step()) {
    if (!out) {
      out.emplace();
      out->time = st.get_int(0);
    }
    modbus::Value v;
    v.name = st.get_text(1);
    std::string type = st.get_text(3);
    if (type == "integer") {
      v.integer = st.get_int(2);
      v.real = static_cast<double>(*v.integer);
    } else if (type == "real") {
      v.real = st.get_double(2);
    } else {
      continue; // null or text: not a value
    }
    out->values.push_back(std::move(v));
  }
  if (!out) {
    // Read once with no values at all: still a time.
    auto t = db.prepare("SELECT t FROM meter_values WHERE meter_id = ?1");
    t.bind(1, meter_id);
    if (t.step()) {
      out.emplace();
      out->time = t.get_int(0);
    }
  }
  return out;
}

const modbus::RelaySpec& relay_of(const Meter& m, const modbus::Profile& p) {
  if (!p.relay) fail(Exit::data, "meter {} has no relay: its profile {} has no [relay] section", m.name, p.name);
  return *p.relay;
}

transport::Request relay_write_request(const Meter& m, const modbus::Profile& p, bool on) {
  const auto& relay = relay_of(m, p);
  const auto& words = on ? relay.on : relay.off;
  if (words.empty()) fail(Exit::config, "profile {}: [relay] {} is empty", p.name, on ? "on" : "off");
  if (relay.table == modbus::Table::coil) return transport::Request::write_coil(unit_of(m), relay.address, words[0] != 0);
  if (relay.single_write && words.size() == 1)
    return transport::Request::write_register(unit_of(m), relay.address, words[0]);
  return transport::Request::write_registers(unit_of(m), relay.address, words);
}

transport::Request relay_read_request(const Meter& m, const modbus::Profile& p) {
  const auto& relay = relay_of(m, p);
  if (relay.table == modbus::Table::coil) return transport::Request::read_coils(unit_of(m), relay.address, 1);
  auto n = std::max(relay.on.size(), relay.off.size());
  return transport::Request::read_holding(unit_of(m), relay.address, static_cast<std::uint16_t>(std::max<std::size_t>(n, 1)));
}

namespace {

std::vector<std::uint16_t> back_words(const modbus::RelaySpec& relay, const transport::Response& back) {
  return relay.table == modbus::Table::coil ? bits_to_words(back.bits) : back.words;
}

// Whether the read-back holds these words: a coil's bit as a bit, registers word for word over
// the words written.
bool holds(const modbus::RelaySpec& relay, const std::vector<std::uint16_t>& back, const std::vector<std::uint16_t>& want) {
  if (want.empty() || back.size() < want.size()) return false;
  if (relay.table == modbus::Table::coil) return (back[0] != 0) == (want[0] != 0);
  return std::equal(want.begin(), want.end(), back.begin());
}

} // namespace

std::string relay_readback_state(const modbus::RelaySpec& relay, const transport::Response& back) {
  auto words = back_words(relay, back);
  if (holds(relay, words, relay.on)) return "on";
  if (holds(relay, words, relay.off)) return "off";
  return "unknown";
}

std::string readback_text(const modbus::RelaySpec& relay, const transport::Response& back) {
  if (relay.table == modbus::Table::coil) return back.bits.empty() ? "" : (back.bits[0] ? "1" : "0");
  return words_text(back.words);
}

RelaySwitch switch_relay(transport::Client& client, const Meter& m, const modbus::Profile& p, bool on) {
  if (p.protocol == "dlt645")
    fail(Exit::usage, "meter {}: DL/T 645 relays are switched by kwhd (with the gateway's password); drop --direct",
         m.name);
  const auto& relay = relay_of(m, p);
  auto written = client.call(relay_write_request(m, p, on));
  if (!written) throw transport::to_error(written.failure(), bus_name(m));

  RelaySwitch result;
  result.on = on;
  if (relay.status) {
    // The meter says where it reports the relay: done when that agrees, read up to 8 times
    // 250 ms apart while the relay moves (as kwhd does).
    const auto& st = *relay.status;
    const char* want = on ? "on" : "off";
    std::string answer;
    for (int i = 0; i < 8; ++i) {
      if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(250));
      transport::Request rq;
      switch (st.table) {
      case modbus::Table::coil: rq = transport::Request::read_coils(unit_of(m), st.address, 1); break;
      case modbus::Table::discrete: rq = transport::Request::read_discrete(unit_of(m), st.address, 1); break;
      case modbus::Table::input: rq = transport::Request::read_input(unit_of(m), st.address, 1); break;
      case modbus::Table::holding: rq = transport::Request::read_holding(unit_of(m), st.address, 1); break;
      }
      auto back = client.call(rq);
      if (!back) {
        answer = back.failure().describe();
        continue;
      }
      auto words = modbus::is_bit_table(st.table) ? bits_to_words(back->bits) : back->words;
      if (words.empty()) continue;
      auto closed = st.closed(words[0]);
      result.readback_words = words_text({words[0]});
      answer = fmt::format("{} (relay_status {})", closed ? (*closed ? "on" : "off") : "neither on nor off",
                           result.readback_words);
      if (closed == on) {
        result.readback = want;
        return result;
      }
    }
    fail(Exit::failed, "{}: switched {}, but the meter reports the relay {}", bus_name(m), want, answer);
  }
  // Many meters' relay registers read back; some are write-only (an exception reply).
  auto back = client.call(relay_read_request(m, p));
  if (!back) {
    result.readback = "unreadable";
    return result;
  }
  result.readback = relay_readback_state(relay, *back);
  result.readback_words = readback_text(relay, *back);
  const char* want = on ? "on" : "off";
  if (result.readback != want && result.readback != "unknown")
    fail(Exit::failed, "{}: the relay still reads {} after switching it {} (read back {})", bus_name(m),
         result.readback, want, result.readback_words);
  return result;
}

void record_relay(storage::Database& db, const Meter& m, bool on, const std::string& reason) {
  const char* state = on ? "on" : "off";
  db.prepare("UPDATE meters SET relay_state = ?2, relay_reason = ?3 WHERE id = ?1")
      .bind_all(m.id, state, on ? std::optional<std::string>() : std::optional<std::string>(reason))
      .run();
  std::optional<std::int64_t> account_id;
  {
    auto st = db.prepare("SELECT account_id FROM assignments WHERE meter_id = ?1 AND valid_to IS NULL");
    st.bind(1, m.id);
    if (st.step()) account_id = st.get_int(0);
  }
  db.prepare("INSERT INTO events(time, kind, gateway_id, meter_id, account_id, detail) "
             "VALUES (?1, 'relay_changed', ?2, ?3, ?4, ?5)")
      .bind_all(now(), m.gateway_id, m.id, account_id, fmt::format("{} -> {} ({})", m.relay_state, state, reason))
      .run();
}

RelaySwitch switch_now(storage::Database& db, transport::Client& client, const Meter& m, const modbus::Profile& p,
                       bool on, const std::string& operator_name) {
  NewCommand c{.meter_id = m.id, .action = on ? "relay_on" : "relay_off", .operator_name = operator_name};
  RelaySwitch result;
  try {
    result = switch_relay(client, m, p, on);
  } catch (const Error& e) {
    storage::Transaction tx(db);
    record_direct_command(db, c, false, std::string(e.what()), std::nullopt);
    tx.commit();
    throw;
  }
  storage::Transaction tx(db);
  record_relay(db, m, on, "operator");
  record_direct_command(db, c, true, std::nullopt,
                        result.readback_words.empty() ? std::nullopt : std::optional<std::string>(result.readback_words));
  tx.commit();
  return result;
}

std::vector<Probe> probe_gateway(storage::Database& db, transport::Client& client, const Gateway& g,
                                 const std::vector<std::string>& profile_folders) {
  using clock = std::chrono::steady_clock;
  auto ms_since = [](clock::time_point start) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - start).count();
  };
  std::vector<Probe> out;
  for (const auto& m : list_meters(db, MeterFilter{.gateway = g.name})) {
    Probe probe;
    probe.meter = m.name;
    probe.unit = m.unit;
    auto start = clock::now();
    try {
      auto profile = meter_profile(db, m, profile_folders);
      if (profile.values.empty()) fail(Exit::config, "profile {} has no values", profile.name);
      const auto& v = profile.values.front();
      modbus::ReadRequest r{v.table, v.address, static_cast<std::uint16_t>(v.words()), {0}};
      if (auto o = try_read(client, m, r); !o) throw transport::to_error(o.failure(), bus_name(m));
      probe.answered = true;
      probe.detail = fmt::format("read {}", v.name);
    } catch (const Error& e) {
      probe.unreachable = e.code() == Exit::unavailable;
      probe.detail = e.what();
    }
    probe.ms = ms_since(start);
    out.push_back(std::move(probe));
  }
  if (out.empty()) {
    Probe probe;
    auto start = clock::now();
    auto r = client.read_holding(1, 0, 1);
    probe.ms = ms_since(start);
    probe.answered = r || r.failure().kind == transport::Failure::Kind::exception;
    probe.unreachable = !probe.answered;
    probe.detail = r ? "unit 1 answered" : fmt::format("gateway {} ({}): {}", g.name, g.address, r.failure().describe());
    out.push_back(std::move(probe));
  }
  return out;
}

} // namespace kwh::site
