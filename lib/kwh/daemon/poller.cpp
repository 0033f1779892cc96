#include <kwh/daemon/poller.hpp>

#include <kwh/crypto/hmac.hpp>
#include <kwh/daemon/log.hpp>
#include <kwh/dlt645/frame.hpp>
#include <kwh/dlt645/identifiers.hpp>
#include <kwh/site/issue.hpp>
#include <kwh/site/live.hpp>
#include <kwh/modbus/clock.hpp>
#include <kwh/modbus/value.hpp>

#include <fmt/format.h>

#include <charconv>

namespace kwh::daemon {

namespace asio = boost::asio;
using transport::Failure;
using transport::Request;
using Clock = std::chrono::steady_clock;

namespace {

class TransportBus final : public MeterBus {
public:
  TransportBus(asio::io_context& io, const transport::GatewaySpec& spec) : m_bus(io, spec) {}
  void submit(Request req, transport::Bus::Handler done) override { m_bus.submit(std::move(req), std::move(done)); }
  void close() override { m_bus.close(); }
  std::uint64_t stale_replies() const override { return m_bus.status().stale_frames_dropped; }

private:
  transport::Bus m_bus;
};

Request read_request(std::uint8_t unit, const modbus::ReadRequest& r) {
  switch (r.table) {
  case modbus::Table::coil: return Request::read_coils(unit, r.address, r.count);
  case modbus::Table::discrete: return Request::read_discrete(unit, r.address, r.count);
  case modbus::Table::input: return Request::read_input(unit, r.address, r.count);
  case modbus::Table::holding: break;
  }
  return Request::read_holding(unit, r.address, r.count);
}

std::vector<std::uint16_t> data_of(const transport::Response& r) {
  if (r.bits.empty()) return r.words;
  std::vector<std::uint16_t> words;
  words.reserve(r.bits.size());
  for (bool b : r.bits) words.push_back(b ? 1 : 0);
  return words;
}

PollResult result_of(const Failure& f) {
  switch (f.kind) {
  case Failure::Kind::timeout: return PollResult::timeout;
  case Failure::Kind::exception: return PollResult::exception;
  case Failure::Kind::bad_frame: return PollResult::bad_frame;
  case Failure::Kind::connection_refused:
  case Failure::Kind::connection_lost: break;
  }
  return PollResult::connection;
}

bool is_connection(const Failure& f) {
  return f.kind == Failure::Kind::connection_refused || f.kind == Failure::Kind::connection_lost;
}

std::string words_text(const std::vector<std::uint16_t>& words) {
  std::string s;
  for (auto w : words) {
    if (!s.empty()) s += ' ';
    s += fmt::format("0x{:04X}", w);
  }
  return s;
}

// DL/T 645: a read of one data identifier from the meter at `meter.address`.
Request dlt645_read(const MeterTarget& meter, std::uint32_t di) { return site::dlt645_read_request(meter.address, di); }
using DltRead = site::Dlt645Read;
using site::decode_dlt645_read;

constexpr std::uint32_t k_status_word_3 = 0x04000503;

// 8 hex digits as 4 bytes, in the order written (crypto::from_hex does the digits).
std::optional<std::array<std::uint8_t, 4>> hex4(const std::string& text) {
  auto bytes = crypto::from_hex(text);
  if (!bytes || bytes->size() != 4) return std::nullopt;
  std::array<std::uint8_t, 4> out{};
  std::copy(bytes->begin(), bytes->end(), out.begin());
  return out;
}

// DL/T 645 relay control (0x1C): trip, close (directly, or allowed to close at the meter), protect on or off,
// with the gateway's password and operator code, valid for ten minutes of site time.
std::optional<Request> dlt645_control(const MeterTarget& meter, const GatewayTarget& gateway,
                                      dlt645::RelayAction action, std::string& error) {
  auto address = dlt645::Address::parse(meter.address);
  auto password = hex4(gateway.password);
  auto code = hex4(gateway.operator_code);
  if (!address || !password || !code) {
    error = fmt::format("meter {}: its address, or gateway {}'s password or operator code, is not valid", meter.name,
                        gateway.name);
    return std::nullopt;
  }
  dlt645::RelayCommand c;
  c.action = action;
  c.password = *password;
  c.operator_code = *code;
  c.valid_until = to_local(now() + 600);
  try {
    return Request::raw_frame(dlt645::encode_frame(dlt645::relay_request(*address, c)));
  } catch (const Error& e) {
    error = e.what();
    return std::nullopt;
  }
}

// Writing a setting: "name=value" with the value in the setting's canonical unit.
std::optional<Request> setting_request(std::uint8_t unit, const modbus::Profile& p, const std::string& argument,
                                       std::string& error) {
  // Words worked out when the command was queued (site/issue.hpp): a tariff's prices or plan.
  if (auto w = site::parse_write_argument(argument)) return Request::write_registers(unit, w->address, std::move(w->words));
  auto eq = argument.find('=');
  if (eq == std::string::npos) {
    error = fmt::format("set: '{}' is not name=value", argument);
    return std::nullopt;
  }
  std::string name = argument.substr(0, eq), text = argument.substr(eq + 1);
  const auto* spec = p.find_setting(name);
  if (!spec) {
    error = fmt::format("set: profile {} has no setting '{}'", p.name, name);
    return std::nullopt;
  }
  double value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size()) {
    error = fmt::format("set: '{}' is not a number", text);
    return std::nullopt;
  }
  try {
    auto words = modbus::encode(*spec, value, p.word_order);
    if (spec->table == modbus::Table::coil) return Request::write_coil(unit, spec->address, words.at(0) != 0);
    if (spec->single_write && words.size() == 1) return Request::write_register(unit, spec->address, words[0]);
    return Request::write_registers(unit, spec->address, std::move(words));
  } catch (const Error& e) {
    error = fmt::format("set {}: {}", name, e.what());
    return std::nullopt;
  }
}

} // namespace

std::unique_ptr<MeterBus> make_transport_bus(asio::io_context& io, const transport::GatewaySpec& spec) {
  if (!transport::uses_libmodbus(spec)) return std::make_unique<TransportBus>(io, spec);
  // A serial line whose RS-485 direction kwh drives by RTS: libmodbus's RTU backend on a thread
  // of its own (transport/rtu_libmodbus.hpp), as transport::make_bus builds it.
  class LibmodbusBus final : public MeterBus {
  public:
    explicit LibmodbusBus(std::unique_ptr<transport::BusBase> bus) : m_bus(std::move(bus)) {}
    void submit(Request req, transport::Bus::Handler done) override { m_bus->submit(std::move(req), std::move(done)); }
    void close() override { m_bus->close(); }
    std::uint64_t stale_replies() const override { return m_bus->status().stale_frames_dropped; }

  private:
    std::unique_ptr<transport::BusBase> m_bus;
  };
  return std::make_unique<LibmodbusBus>(transport::make_bus(io, spec));
}

GatewayPoller::GatewayPoller(asio::io_context& io, GatewayTarget target, std::unique_ptr<MeterBus> bus,
                             PollSettings settings, PollerEvents& events, std::uint32_t seed)
    : m_io(io), m_target(std::move(target)), m_bus(std::move(bus)), m_settings(settings), m_events(events),
      m_rng(seed), m_timer(io), m_command_timer(io), m_backoff(settings.reconnect_base, settings.reconnect_cap) {
  for (std::size_t i = 0; i < m_target.meters.size(); ++i) m_by_id[m_target.meters[i].id] = i;
  m_state.resize(m_target.meters.size());
}

const std::vector<modbus::ReadRequest>& GatewayPoller::plan_of(std::size_t meter) const {
  const auto& own = m_state[meter].plan;
  return own ? *own : m_target.meters[meter].model->plan;
}

GatewayPoller::~GatewayPoller() {
  m_aborted = true;
  if (m_bus) m_bus->close();
}

// A bus handler that reaches this poller only while it exists and only for the request it
// was made for.
template <typename F> transport::Bus::Handler GatewayPoller::guard(F f) {
  return [weak = weak_from_this(), run = m_run_id, f = std::move(f)](transport::Outcome<transport::Response> o) {
    auto self = weak.lock();
    if (!self || self->m_aborted || run != self->m_run_id) return;
    f(*self, std::move(o));
  };
}

void GatewayPoller::start_cycle(UnixTime t, std::chrono::milliseconds window) {
  if (m_aborted) return;
  if (!m_polls.empty()) {
    m_skipped += m_polls.size();
    log("gateway {}: the previous cycle was not finished; {} polls skipped", m_target.name, m_polls.size());
    m_polls.clear();
  }
  if (m_target.meters.empty()) return;
  ++m_cycles;
  // A device's circuits share one slot; each other meter has its own.
  const auto groups = poll_groups();
  const auto n = groups.size();
  if (window / static_cast<long>(n) < m_settings.min_slot) window = std::chrono::milliseconds(0);
  auto offsets = spread_offsets(n, window, m_rng);
  const auto base = Clock::now();
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t meter : groups[i]) m_polls.push_back(PollJob{meter, t, base + offsets[i]});
  pump();
}

std::vector<std::vector<std::size_t>> GatewayPoller::poll_groups() const {
  std::vector<std::vector<std::size_t>> groups;
  std::unordered_map<std::string, std::size_t> by_device;
  for (std::size_t i = 0; i < m_target.meters.size(); ++i) {
    const auto& device = m_target.meters[i].device;
    if (device.empty()) {
      groups.push_back({i});
      continue;
    }
    auto [it, added] = by_device.emplace(device, groups.size());
    if (added) groups.emplace_back();
    groups[it->second].push_back(i);
  }
  // Within a device: the circuits that answered most recently first, so that a circuit that is
  // dead alone cannot make a live device look silent; among equals the one tried longest ago, so
  // that the first circuit tried changes while the device is silent.
  for (auto& g : groups)
    std::stable_sort(g.begin(), g.end(), [this](std::size_t a, std::size_t b) {
      const auto &sa = m_state[a], &sb = m_state[b];
      if (sa.answered != sb.answered) return sa.answered > sb.answered;
      return sa.tried < sb.tried;
    });
  return groups;
}

void GatewayPoller::queue_command(QueuedCommand command) {
  if (m_aborted) {
    m_events.command_done(command, CommandOutcome{false, "kwhd is reloading", {}, false});
    return;
  }
  m_commands.push_back(std::move(command));
  pump();
}

void GatewayPoller::drain() {
  m_polls.clear();
  while (!m_commands.empty()) {
    auto c = std::move(m_commands.front());
    m_commands.pop_front();
    m_events.command_done(c, CommandOutcome{false, "kwhd stopped before carrying it out", {}, false});
  }
  m_timer.cancel();
  m_armed.reset();
  if (!m_busy) m_events.idle(m_target);
}

void GatewayPoller::abort() {
  drain();
  if (m_command) {
    auto c = m_command->command;
    m_command.reset();
    m_events.command_done(c, CommandOutcome{false, "interrupted: kwhd stopped or reloaded", {}, false});
  }
  m_poll.reset();
  m_busy = false;
  m_aborted = true;
  ++m_run_id;
  m_command_timer.cancel();
  m_bus->close();
}

void GatewayPoller::arm(Clock::time_point due) {
  if (m_armed && *m_armed <= due) return;
  m_armed = due;
  m_timer.expires_at(due);
  m_timer.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
    if (ec) return;
    if (auto self = weak.lock()) {
      self->m_armed.reset();
      self->pump();
    }
  });
}

void GatewayPoller::pump() {
  while (!m_busy && !m_aborted) {
    if (!m_commands.empty()) {
      auto c = std::move(m_commands.front());
      m_commands.pop_front();
      start_command(std::move(c));
      continue;
    }
    if (m_polls.empty()) {
      m_events.idle(m_target);
      return;
    }
    const auto now = Clock::now();
    const auto job = m_polls.front();
    if (job.due > now) {
      arm(job.due);
      return;
    }
    m_polls.pop_front();
    if (now < m_reconnect_at) {
      fail_unreachable(job);
      continue;
    }
    if (const auto& device = m_target.meters[job.meter].device; !device.empty()) {
      auto it = m_devices.find(device);
      if (it != m_devices.end() && it->second.silent == job.t) {
        fail_silent_device(job);
        continue;
      }
    }
    start_poll(job);
  }
}

void GatewayPoller::fail_unreachable(const PollJob& job) {
  PollOutcome o;
  o.result = PollResult::connection;
  o.error = m_last_connection_error.empty() ? std::string("gateway unreachable") : m_last_connection_error;
  if (!m_target.meters[job.meter].device.empty()) o.device_done = device_done(job.meter, job.t);
  m_events.polled(m_target, m_target.meters[job.meter], std::move(o));
}

void GatewayPoller::fail_silent_device(const PollJob& job) {
  PollOutcome o;
  o.result = PollResult::timeout;
  o.error = m_devices[m_target.meters[job.meter].device].why;
  o.device_done = device_done(job.meter, job.t);
  m_events.polled(m_target, m_target.meters[job.meter], std::move(o));
}

bool GatewayPoller::device_done(std::size_t meter, UnixTime t) const {
  if (m_polls.empty()) return true;
  const auto& next = m_polls.front();
  return next.t != t || m_target.meters[next.meter].device != m_target.meters[meter].device;
}

void GatewayPoller::start_poll(const PollJob& job) {
  const auto& meter = m_target.meters[job.meter];
  m_state[job.meter].tried = m_cycles;
  m_busy = true;
  m_poll = PollRun{job.meter, job.t, 0, 0, {}, Clock::now(), m_bus->stale_replies()};
  m_poll->values.resize(meter.model->profile.values.size());
  if (plan_of(job.meter).empty()) {
    PollOutcome o;
    o.result = PollResult::bad_frame;
    o.error = "the profile has nothing to read";
    finish_poll(std::move(o));
    return;
  }
  send_read();
}

void GatewayPoller::send_read() {
  const auto& meter = m_target.meters[m_poll->meter];
  const auto& rr = plan_of(m_poll->meter)[m_poll->request];
  if (dlt645()) {
    const auto& spec = meter.model->profile.values[rr.values.at(0)];
    m_bus->submit(dlt645_read(meter, spec.di),
                  guard([](GatewayPoller& self, transport::Outcome<transport::Response> o) { self.on_read(std::move(o)); }));
    return;
  }
  m_bus->submit(read_request(meter.unit, rr),
                guard([](GatewayPoller& self, transport::Outcome<transport::Response> o) { self.on_read(std::move(o)); }));
}

void GatewayPoller::on_read(transport::Outcome<transport::Response> o) {
  if (!m_poll) return;
  const auto& meter = m_target.meters[m_poll->meter];
  const auto& model = *meter.model;
  if (!o) {
    const auto& f = o.failure();
    if (is_connection(f)) {
      connection_failed(f);
    } else if (f.kind != Failure::Kind::exception && m_poll->tries < m_settings.retries) {
      // Timeouts and garbled replies may pass; an exception reply will be the same again.
      ++m_poll->tries;
      send_read();
      return;
    }
    if (f.kind == Failure::Kind::exception && (f.exception_code == 2 || f.exception_code == 3)) {
      connection_ok();
      refused(f);
      return;
    }
    PollOutcome out;
    out.result = result_of(f);
    out.error = f.describe();
    finish_poll(std::move(out));
    return;
  }
  connection_ok();
  const auto& plan = plan_of(m_poll->meter);
  const auto& rr = plan[m_poll->request];
  if (dlt645()) {
    const std::size_t index = rr.values.at(0);
    std::optional<modbus::Value> value;
    std::string why;
    switch (decode_dlt645_read(meter.address, model.profile.values[index], *o, value, why)) {
    case DltRead::value: m_poll->values[index] = std::move(value); break;
    case DltRead::refused: note_refused(index, why); break;
    case DltRead::bad:
      if (m_poll->tries < m_settings.retries) {
        ++m_poll->tries;
        send_read();
        return;
      }
      PollOutcome out;
      out.result = PollResult::bad_frame;
      out.error = why;
      finish_poll(std::move(out));
      return;
    }
  } else {
    std::vector<std::uint16_t> bit_words; // reads of registers need no copy
    if (!o->bits.empty()) bit_words = data_of(*o);
    const auto& data = o->bits.empty() ? o->words : bit_words;
    for (std::size_t i : rr.values)
      m_poll->values[i] = modbus::decode_from(rr, data, model.profile.values[i], model.profile.word_order);
  }
  m_poll->tries = 0;
  if (++m_poll->request < plan.size()) {
    send_read();
    return;
  }
  finish_reads();
}

void GatewayPoller::finish_reads() {
  const auto& meter = m_target.meters[m_poll->meter];
  const auto& model = *meter.model;
  PollOutcome out;
  PolledReading reading;
  reading.meter_id = meter.id;
  reading.time = m_poll->t;
  for (std::size_t i = 0; i < m_poll->values.size(); ++i) {
    if (!m_poll->values[i]) continue;
    auto v = std::move(*m_poll->values[i]);
    v.name = model.profile.values[i].name;
    if (v.name == modbus::k_relay_status_value) {
      // The state the meter reports; news when it differs from its last report (or is the first).
      reading.relay_closed = model.profile.relay_closed(v.real);
      auto& last = m_state[m_poll->meter].relay;
      if (reading.relay_closed) {
        reading.relay_news = last != reading.relay_closed;
        last = reading.relay_closed;
      }
    }
    reading.values.push_back(std::move(v));
  }
  const auto* total = model.profile.total();
  bool has_total = false;
  for (const auto& v : reading.values) has_total = has_total || (total && v.name == total->name && v.integer);
  if (!has_total) {
    out.result = PollResult::bad_frame;
    out.error = fmt::format("{} could not be decoded from what the meter sent", total ? total->name : "the total");
  } else {
    out.reading = std::move(reading);
  }
  finish_poll(std::move(out));
}

bool GatewayPoller::refused(const Failure& f) {
  const std::size_t index = m_poll->meter;
  const auto& meter = m_target.meters[index];
  const auto& profile = meter.model->profile;
  auto plan = plan_of(index); // a copy: the meter gets its own
  const auto rr = plan[m_poll->request];
  std::vector<modbus::ReadRequest> split;
  if (rr.values.size() > 1) {
    // Only what the values need: no unmapped register in between, else one read per value.
    std::vector<modbus::ValueSpec> specs;
    for (std::size_t i : rr.values) specs.push_back(profile.values[i]);
    split = modbus::plan_reads(specs, 9600, 0);
    if (split.size() <= 1) split = modbus::plan_one_per_value(specs);
    for (auto& r : split)
      for (auto& v : r.values) v = rr.values[v];
    log("meter {} (gateway {}, unit {}) refused a read of {} registers {}..{} ({}); reading its values in {} "
        "requests from now on",
        meter.name, m_target.name, meter.unit, modbus::to_string(rr.table), rr.address, rr.address + rr.count - 1,
        f.describe(), split.size());
    plan.erase(plan.begin() + static_cast<std::ptrdiff_t>(m_poll->request));
    plan.insert(plan.begin() + static_cast<std::ptrdiff_t>(m_poll->request), split.begin(), split.end());
    m_state[index].plan = std::move(plan);
  } else {
    // The value's own read: it is missing from this reading (never zero), the others are read.
    note_refused(rr.values.empty() ? 0 : rr.values[0], f.describe());
    ++m_poll->request;
  }
  m_poll->tries = 0;
  ++m_run_id;
  if (m_poll->request < plan_of(index).size()) send_read();
  else finish_reads();
  return true;
}

void GatewayPoller::note_refused(std::size_t value, const std::string& why) {
  const auto& meter = m_target.meters[m_poll->meter];
  auto& refused = m_state[m_poll->meter].refused;
  if (std::find(refused.begin(), refused.end(), value) != refused.end()) return;
  refused.push_back(value);
  log("meter {} (gateway {}, {}) refused the read of {} ({}); it is missing from its readings", meter.name,
      m_target.name, where(meter), meter.model->profile.values.at(value).name, why);
}

std::string GatewayPoller::where(const MeterTarget& meter) const {
  return dlt645() ? "address " + meter.address : fmt::format("unit {}", meter.unit);
}

bool GatewayPoller::dlt645() const { return m_target.spec.protocol == transport::Protocol::dlt645; }

void GatewayPoller::finish_poll(PollOutcome outcome) {
  outcome.seconds = std::chrono::duration<double>(Clock::now() - m_poll->started).count();
  outcome.stale_replies = m_bus->stale_replies() - m_poll->stale_before;
  const std::size_t meter = m_poll->meter;
  if (outcome.reading) m_state[meter].answered = m_cycles;
  if (const auto& device = m_target.meters[meter].device; !device.empty()) {
    // A circuit that answered (an exception reply too) proves the device is there; a timeout
    // before any did says it is not.
    auto& d = m_devices[device];
    const UnixTime t = m_poll->t;
    if (d.cycle != t) {
      d.answered_before = d.answered && d.answered == d.cycle;
      d.cycle = t;
      d.timeouts = 0;
    }
    if (outcome.reading || outcome.result == PollResult::exception) {
      d.answered = t;
    } else if (outcome.result == PollResult::timeout && d.answered != t &&
               ++d.timeouts >= (d.answered_before ? 2 : 1)) {
      d.silent = t;
      d.why = fmt::format("not tried: device {} did not answer ({} {}: {})", device, m_target.meters[meter].name,
                          where(m_target.meters[meter]), outcome.error);
    }
    outcome.device_done = device_done(meter, t);
  }
  m_poll.reset();
  m_busy = false;
  ++m_run_id;
  m_events.polled(m_target, m_target.meters[meter], std::move(outcome));
  pump();
}

void GatewayPoller::connection_failed(const Failure& f) {
  const auto delay = m_backoff.next(m_rng);
  m_reconnect_at = Clock::now() + delay;
  if (m_backoff.attempts() == 1)
    log("gateway {} unreachable ({}): {}; trying again with backoff", m_target.name, m_target.spec.describe(),
        f.describe());
  m_last_connection_error = "gateway unreachable: " + f.describe();
}

void GatewayPoller::connection_ok() {
  if (m_backoff.attempts() > 0) {
    log("gateway {} reachable again after {} failed attempts", m_target.name, m_backoff.attempts());
    m_backoff.reset();
    m_last_connection_error.clear();
  }
  m_reconnect_at = {};
}

void GatewayPoller::start_command(QueuedCommand command) {
  auto it = m_by_id.find(command.meter_id);
  if (it == m_by_id.end()) {
    m_events.command_done(command, CommandOutcome{false, "the meter is not polled by this gateway", {}, true});
    return;
  }
  const auto& meter = m_target.meters[it->second];
  const auto& p = meter.model->profile;
  CommandRun run;
  run.meter = it->second;
  std::string error;
  if (command.action == "relay_on" || command.action == "relay_off") {
    run.on = command.action == "relay_on";
    if (!p.relay) {
      m_events.command_done(command, CommandOutcome{false, fmt::format("profile {} has no [relay]", p.name), {}, true});
      return;
    }
    if (dlt645()) {
      auto req = dlt645_control(meter, m_target,
                                !run.on                  ? dlt645::RelayAction::trip
                                : p.relay->close_allowed ? dlt645::RelayAction::close_allowed
                                                         : dlt645::RelayAction::close,
                                error);
      if (!req) {
        m_events.command_done(command, CommandOutcome{false, error, {}, true});
        return;
      }
      run.write = std::move(*req);
    }
    const auto& words = run.on ? p.relay->on : p.relay->off;
    if (!dlt645() && words.empty()) {
      m_events.command_done(
          command, CommandOutcome{false, fmt::format("profile {}: [relay] {} is empty", p.name, run.on ? "on" : "off"), {}, true});
      return;
    }
    // A DL/T 645 meter's frame is made above; a Modbus meter's words are written here.
    if (!dlt645() && p.relay->table == modbus::Table::coil)
      run.write = Request::write_coil(meter.unit, p.relay->address, words[0] != 0);
    else if (!dlt645() && p.relay->single_write && words.size() == 1)
      run.write = Request::write_register(meter.unit, p.relay->address, words[0]);
    else if (!dlt645())
      run.write = Request::write_registers(meter.unit, p.relay->address, words);
  } else if (command.action == "sync_time") {
    if (!p.clock) {
      m_events.command_done(command, CommandOutcome{false, fmt::format("profile {} names no [clock]", p.name), {}, true});
      return;
    }
    run.command = std::move(command);
    m_busy = true;
    m_command = std::move(run);
    clock_step();
    return;
  } else if (command.action == "set" && command.argument && dlt645()) {
    // DL/T 645 protect (保电) on or off: relay control 3A / 3B, done when the meter answers 9C.
    const auto& arg = *command.argument;
    if (arg != "protect=on" && arg != "protect=off") {
      m_events.command_done(command, CommandOutcome{false, fmt::format("a DL/T 645 meter takes no setting '{}'", arg), {}, true});
      return;
    }
    auto req = dlt645_control(meter, m_target, arg == "protect=on" ? dlt645::RelayAction::protect_on : dlt645::RelayAction::protect_off,
                              error);
    if (!req) {
      m_events.command_done(command, CommandOutcome{false, error, {}, true});
      return;
    }
    run.write = std::move(*req);
  } else if (command.action == "set" && command.argument && !dlt645()) {
    auto req = setting_request(meter.unit, p, *command.argument, error);
    if (!req) {
      m_events.command_done(command, CommandOutcome{false, error, {}, true});
      return;
    }
    run.write = std::move(*req);
  } else {
    m_events.command_done(command, CommandOutcome{false, fmt::format("kwhd cannot carry out '{}'", command.action), {}, true});
    return;
  }
  run.command = std::move(command);
  m_busy = true;
  m_command = std::move(run);
  m_bus->submit(m_command->write, guard([](GatewayPoller& self, transport::Outcome<transport::Response> o) {
                  self.on_command_reply(std::move(o));
                }));
}

void GatewayPoller::on_command_reply(transport::Outcome<transport::Response> o) {
  if (!m_command) return;
  const auto& meter = m_target.meters[m_command->meter];
  const auto& write = m_command->write;
  if (m_command->step == 0) {
    if (!o && o.failure().kind == Failure::Kind::exception && m_command->command.action == "set" &&
        m_command->command.argument && site::parse_write_argument(*m_command->command.argument)) {
      // Words worked out beforehand (a purchase, a tariff) that the meter refuses: it may hold
      // them already (a purchase taken on an attempt whose reply was lost is refused the second
      // time). What it holds decides, read back below.
      m_command->refused = o.failure().describe();
      m_command->step = 1;
      ++m_run_id;
      m_bus->submit(Request::read_holding(meter.unit, write.address, static_cast<std::uint16_t>(write.values.size())),
                    guard([](GatewayPoller& self, transport::Outcome<transport::Response> r) {
                      self.on_command_reply(std::move(r));
                    }));
      return;
    }
    if (!o) {
      if (is_connection(o.failure())) connection_failed(o.failure());
      finish_command(CommandOutcome{false, fmt::format("{} (gateway {}, unit {}): {}", meter.name, m_target.name,
                                                       meter.unit, o.failure().describe()),
                                    {}, false});
      return;
    }
    connection_ok();
    const auto& p = meter.model->profile;
    if (dlt645()) {
      // The meter's own answer to the control frame first: 9C, or an error word.
      auto address = dlt645::Address::parse(meter.address);
      auto frame = dlt645::decode_frame(o->frame);
      std::optional<Error> refused;
      if (!address || !frame) refused = !address ? address.error() : frame.error();
      else refused = dlt645::check_relay_reply(*frame, *address);
      if (refused) {
        finish_command(CommandOutcome{false, fmt::format("{} (gateway {}, {}): {}", meter.name, m_target.name,
                                                         where(meter), refused->what()),
                                      {}, false});
        return;
      }
    }
    if (dlt645() && m_command->command.action == "set") {
      // Protect on or off: the meter's 9C is all there is to read back.
      finish_command(CommandOutcome{true, {}, m_command->command.argument.value_or(""), false});
      return;
    }
    if (m_command->command.action != "set" && p.relay && p.relay->status) {
      // The meter says where it reports the relay's state: the command is done when that agrees.
      m_command->step = 1;
      read_relay_status();
      return;
    }
    // Read back what was written, where the meter allows it.
    m_command->step = 1;
    ++m_run_id;
    Request back = write.function == transport::Function::write_single_coil
                       ? Request::read_coils(meter.unit, write.address, 1)
                       : Request::read_holding(meter.unit, write.address,
                                               static_cast<std::uint16_t>(std::max<std::size_t>(write.values.size(), 1)));
    m_bus->submit(back, guard([](GatewayPoller& self, transport::Outcome<transport::Response> r) {
                    self.on_command_reply(std::move(r));
                  }));
    return;
  }
  CommandOutcome out;
  out.ok = true;
  if (!o && m_command->refused) {
    out.ok = false;
    out.error = fmt::format("{} (gateway {}, unit {}): {}", meter.name, m_target.name, meter.unit, *m_command->refused);
  } else if (!o) {
    out.readback = "unreadable";
  } else {
    auto back = data_of(*o);
    bool same = write.function == transport::Function::write_single_coil
                    ? (!back.empty() && (back[0] != 0) == (write.values.at(0) != 0))
                    : back == write.values;
    const auto& p = meter.model->profile;
    if (m_command->command.action == "set") {
      out.readback = words_text(back);
      if (!same && m_command->refused) {
        // Refused, and the meter holds something else: no retry changes its mind.
        out.ok = false;
        out.permanent = true;
        out.error = fmt::format("{}: the meter refused the write ({}) and holds {}", meter.name, *m_command->refused,
                                words_text(back));
      } else if (!same) {
        out.ok = false;
        out.error = fmt::format("{}: the setting reads back {} after writing it", meter.name, words_text(back));
      } else if (m_command->refused) {
        out.readback += " (the meter had it already)";
      }
    } else if (same) {
      out.readback = m_command->on ? "on" : "off";
    } else {
      const auto& other = m_command->on ? p.relay->off : p.relay->on;
      bool opposite = p.relay->table == modbus::Table::coil ? (!back.empty() && !other.empty() && (back[0] != 0) == (other[0] != 0))
                                                             : back == other;
      if (opposite) {
        out.ok = false;
        out.error = fmt::format("{}: the relay still reads {} after switching it {} (read back {})", meter.name,
                                m_command->on ? "off" : "on", m_command->on ? "on" : "off", words_text(back));
      } else {
        out.readback = "unknown (" + words_text(back) + ")";
      }
    }
  }
  finish_command(out);
}

void GatewayPoller::read_relay_status() {
  const auto& meter = m_target.meters[m_command->meter];
  const auto& st = *meter.model->profile.relay->status;
  ++m_run_id;
  ++m_command->status_reads;
  modbus::ReadRequest rr{st.table, st.address, 1, {}};
  m_bus->submit(dlt645() ? dlt645_read(meter, k_status_word_3) : read_request(meter.unit, rr), guard([](GatewayPoller& self, transport::Outcome<transport::Response> o) {
                  self.on_relay_status(std::move(o));
                }));
}

// A relay takes a moment to move: the state is read up to k_status_reads times, k_status_wait
// apart, before the command is said to have failed.
namespace {
constexpr int k_status_reads = 8;
constexpr std::chrono::milliseconds k_status_wait{250};
} // namespace

void GatewayPoller::on_relay_status(transport::Outcome<transport::Response> o) {
  if (!m_command) return;
  const auto& meter = m_target.meters[m_command->meter];
  const auto& st = *meter.model->profile.relay->status;
  const char* want = m_command->on ? "on" : "off";
  std::optional<bool> closed;
  std::string answer;
  if (!o) {
    if (is_connection(o.failure())) connection_failed(o.failure());
    answer = o.failure().describe();
  } else if (dlt645()) {
    connection_ok();
    std::optional<modbus::Value> word;
    modbus::ValueSpec spec;
    spec.name = "status_word_3";
    spec.di = k_status_word_3;
    if (decode_dlt645_read(meter.address, spec, *o, word, answer) == DltRead::value && word && word->integer) {
      const auto raw = static_cast<std::uint16_t>(*word->integer);
      closed = st.closed(raw);
      answer = fmt::format("{} (status word 3 0x{:04X})", closed ? (*closed ? "on" : "off") : "neither on nor off", raw);
    }
  } else {
    connection_ok();
    auto data = data_of(*o);
    if (!data.empty()) {
      closed = st.closed(data[0]);
      answer = fmt::format("{} (relay_status 0x{:04X})", closed ? (*closed ? "on" : "off") : "neither on nor off", data[0]);
    } else {
      answer = "an empty reply";
    }
  }
  if (closed == m_command->on) {
    m_state[m_command->meter].relay = closed;
    finish_command(CommandOutcome{true, {}, want, false});
    return;
  }
  if (m_command->status_reads < k_status_reads && (o || !is_connection(o.failure()))) {
    ++m_run_id;
    m_command_timer.expires_after(k_status_wait);
    m_command_timer.async_wait([weak = weak_from_this(), run = m_run_id](boost::system::error_code ec) {
      auto self = weak.lock();
      if (ec || !self || self->m_aborted || run != self->m_run_id || !self->m_command) return;
      self->read_relay_status();
    });
    return;
  }
  if (closed) m_state[m_command->meter].relay = closed;
  finish_command(CommandOutcome{false,
                                fmt::format("{}: switched {}, but the meter reports the relay {} after {} ms", meter.name,
                                            want, answer, k_status_wait.count() * (m_command->status_reads - 1)),
                                closed ? (*closed ? "on" : "off") : "unknown", false});
}

namespace {
constexpr std::uint32_t k_clock_date = 0x04000101, k_clock_time = 0x04000102;
// A clock this close to kwh's after it was set is right (the request itself takes a moment).
constexpr std::int64_t k_clock_tolerance = 2;
// DL/T 645 meters take a broadcast time only this close to their own clock.
constexpr std::int64_t k_broadcast_window = 300;
} // namespace

void GatewayPoller::clock_step() {
  const auto& meter = m_target.meters[m_command->meter];
  const auto& clock = *meter.model->profile.clock;
  const int step = m_command->step;
  Request req;
  if (dlt645()) {
    if (step == 2) {
      req = Request::raw_frame(dlt645::encode_frame(dlt645::broadcast_time_request(to_local(now()))), true);
    } else {
      req = dlt645_read(meter, step == 0 || step == 3 ? k_clock_date : k_clock_time);
    }
  } else if (step == 1) {
    auto words = modbus::encode_clock(clock, meter.model->profile.word_order, now());
    if (!words) {
      finish_command(CommandOutcome{false, fmt::format("{}: {}", meter.name, words.error().what()), {}, true});
      return;
    }
    req = Request::write_registers(meter.unit, clock.address, std::move(*words));
  } else {
    req = Request::read_holding(meter.unit, clock.address, static_cast<std::uint16_t>(clock.words()));
  }
  ++m_run_id;
  m_bus->submit(std::move(req), guard([](GatewayPoller& self, transport::Outcome<transport::Response> o) {
                  self.on_clock_reply(std::move(o));
                }));
}

void GatewayPoller::on_clock_reply(transport::Outcome<transport::Response> o) {
  if (!m_command) return;
  const auto& meter = m_target.meters[m_command->meter];
  const auto& profile = meter.model->profile;
  const int step = m_command->step;
  auto failed = [&](const std::string& why, bool permanent = false) {
    CommandOutcome out{false, fmt::format("{} ({}, {}): {}", meter.name, m_target.name, where(meter), why), {}, permanent};
    out.drift_before = m_command->drift_before;
    out.drift_alarm = out.drift_before && std::llabs(*out.drift_before) > m_settings.max_drift.count();
    finish_command(out);
  };
  if (!o) {
    if (is_connection(o.failure())) connection_failed(o.failure());
    failed(o.failure().describe());
    return;
  }
  connection_ok();
  const UnixTime received = now();
  // The drift a read step found, when it is the step that completes a reading of the clock.
  std::optional<std::int64_t> drift;
  if (dlt645()) {
    if (step != 2) {
      modbus::ValueSpec spec;
      const bool date = step == 0 || step == 3;
      spec.name = date ? "clock_date" : "clock_time";
      spec.di = date ? k_clock_date : k_clock_time;
      std::optional<modbus::Value> value;
      std::string why;
      if (decode_dlt645_read(meter.address, spec, *o, value, why) != DltRead::value || !value || !value->integer) {
        failed(why.empty() ? "the meter's clock could not be read" : why);
        return;
      }
      if (date) {
        m_command->dlt645_date = *value->integer;
      } else {
        auto t = modbus::dlt645_clock(m_command->dlt645_date, *value->integer);
        if (!t) {
          failed(t.error().what());
          return;
        }
        drift = *t - received;
      }
    }
  } else if (step != 1) {
    auto t = modbus::decode_clock(*profile.clock, profile.word_order, data_of(*o));
    if (!t) {
      failed(t.error().what());
      return;
    }
    drift = *t - received;
  }
  const int last = dlt645() ? 4 : 2;
  if (drift && step < last) m_command->drift_before = drift;
  if (step < last) {
    ++m_command->step;
    clock_step();
    return;
  }
  const std::int64_t before = m_command->drift_before.value_or(0), after = drift.value_or(0);
  CommandOutcome out;
  out.drift_before = m_command->drift_before;
  out.drift_after = drift;
  out.drift_alarm = std::llabs(before) > m_settings.max_drift.count();
  out.readback = fmt::format("clock {:+} s, set, now {:+} s", before, after);
  if (std::llabs(after) <= k_clock_tolerance) {
    out.ok = true;
  } else if (dlt645()) {
    // A meter ignores a broadcast time more than 5 minutes from its own clock: no retry helps.
    out.error = fmt::format("{} ({}, {}): its clock is still {:+} s off after broadcast time (a DL/T 645 meter takes "
                            "a broadcast only within {} minutes of its own clock, and once a day)",
                            meter.name, m_target.name, where(meter), after, k_broadcast_window / 60);
    out.permanent = std::llabs(before) > k_broadcast_window;
  } else {
    out.error = fmt::format("{} ({}, {}): its clock reads {:+} s off after setting it", meter.name, m_target.name,
                            where(meter), after);
  }
  finish_command(out);
}

void GatewayPoller::finish_command(const CommandOutcome& outcome) {
  auto c = std::move(m_command->command);
  m_command.reset();
  m_busy = false;
  ++m_run_id;
  m_events.command_done(c, outcome);
  pump();
}

} // namespace kwh::daemon
