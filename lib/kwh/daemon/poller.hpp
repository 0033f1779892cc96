#pragma once
// One gateway's bus, as the daemon drives it: a serial queue of jobs (polls of its meters,
// and commands, which go ahead of polls), one request on the bus at a time. Gateways run in
// parallel on one io_context; nothing here blocks or touches the database.
//
// A poll reads the meter's planned requests in turn; a request that times out or comes back
// garbled is tried again up to [poll] retries times, so a dead meter costs at most its timeout
// × (1 + retries). When the gateway cannot be reached the poller backs off (exponential, with
// jitter) and fails the polls that fall due meanwhile without touching the network.
//
// The circuits of one multi-user device (meters with the same MeterTarget::device) are polled
// one after another in one slot of the cycle, the circuits that answered most recently first.
// When one of them gets no answer (a timeout) before any circuit of the device answered in
// that cycle (two of them, when the device answered in its previous cycle, so that a circuit
// that dies alone cannot silence a live device), the device is taken to be silent: its other
// circuits are failed for that cycle without the bus, so that a dead device of 36 circuits
// costs one timeout a cycle (two in the first), not 36.

#include <kwh/daemon/commands.hpp>
#include <kwh/daemon/metrics.hpp>
#include <kwh/daemon/roster.hpp>
#include <kwh/daemon/schedule.hpp>
#include <kwh/daemon/writer.hpp>
#include <kwh/transport/bus.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <unordered_map>

namespace kwh::daemon {

// The requests a poller sends: transport::Bus in the daemon, a fake in unit tests.
class MeterBus {
public:
  virtual ~MeterBus() = default;
  // `done` is called exactly once, later, from the io_context.
  virtual void submit(transport::Request req, transport::Bus::Handler done) = 0;
  // Drops the connection; what is queued completes with connection_lost.
  virtual void close() = 0;
  // Replies dropped so far because they came after their request had failed (late ones).
  virtual std::uint64_t stale_replies() const { return 0; }
};

std::unique_ptr<MeterBus> make_transport_bus(boost::asio::io_context& io, const transport::GatewaySpec& spec);

struct PollOutcome {
  std::optional<PolledReading> reading; // set when the meter answered
  PollResult result = PollResult::ok;
  std::string error;                    // when it did not: one line
  double seconds = 0;                   // time on the bus, retries included
  std::uint64_t stale_replies = 0;      // late replies to earlier requests dropped meanwhile
  // A circuit of a device: this was the last of the device's polls in this cycle.
  bool device_done = false;
};

// What a poller reports. Called on the io_context's thread.
class PollerEvents {
public:
  virtual ~PollerEvents() = default;
  virtual void polled(const GatewayTarget& gateway, const MeterTarget& meter, PollOutcome outcome) = 0;
  virtual void command_done(const QueuedCommand& command, const CommandOutcome& outcome) = 0;
  // The poller has nothing queued or running.
  virtual void idle(const GatewayTarget& gateway) = 0;
};

struct PollSettings {
  int retries = 1;
  std::chrono::milliseconds reconnect_base{500};
  std::chrono::milliseconds reconnect_cap{30'000};
  // Below this much time per poll, a cycle's polls are not spread but sent back to back.
  std::chrono::milliseconds min_slot{5};
  // A meter's clock further off than this when a sync_time reads it: CommandOutcome::drift_alarm.
  std::chrono::seconds max_drift{60};
};

class GatewayPoller : public std::enable_shared_from_this<GatewayPoller> {
public:
  GatewayPoller(boost::asio::io_context& io, GatewayTarget target, std::unique_ptr<MeterBus> bus,
                PollSettings settings, PollerEvents& events, std::uint32_t seed);
  ~GatewayPoller();
  GatewayPoller(const GatewayPoller&) = delete;
  GatewayPoller& operator=(const GatewayPoller&) = delete;

  // Queues one poll of every meter, stamped `t`, spread over `window` from now with jitter.
  // Polls of the previous cycle still waiting are dropped (counted in polls_skipped).
  void start_cycle(UnixTime t, std::chrono::milliseconds window);
  // Queues a command for one of this gateway's meters, ahead of the polls.
  void queue_command(QueuedCommand command);
  // Drops the queued polls; queued commands are reported as failed (to be tried again); what
  // is on the bus finishes and is reported.
  void drain();
  // As drain, and gives up what is on the bus too (it is reported as failed, not awaited),
  // then closes the connection. Nothing is reported after this.
  void abort();

  bool idle() const { return !m_busy && m_polls.empty() && m_commands.empty(); }
  const GatewayTarget& target() const { return m_target; }
  bool has_meter(std::int64_t meter_id) const { return m_by_id.count(meter_id) != 0; }

private:
  struct PollJob {
    std::size_t meter = 0;
    UnixTime t = 0;
    std::chrono::steady_clock::time_point due;
  };
  // What the poller learns about one meter while it runs.
  struct MeterState {
    // Its own read plan, once the meter refused a merged read (exception 2 or 3) and the read
    // was split; otherwise the model's.
    std::optional<std::vector<modbus::ReadRequest>> plan;
    // The relay state it reported last ([relay.status]); nullopt before its first report.
    std::optional<bool> relay;
    // Values whose own read it refused (logged once each).
    std::vector<std::size_t> refused;
    // The cycles (m_cycles) in which it last answered, and in which it was last tried.
    std::uint64_t answered = 0, tried = 0;
  };
  // One multi-user device's circuits: the cycle (its stamp) its polls are in, whether it answered
  // in the one before, the cycles it last answered in and fell silent in (with why), and the
  // circuits that timed out this cycle before any answered.
  struct DeviceCycle {
    std::optional<UnixTime> cycle, answered, silent;
    bool answered_before = false;
    int timeouts = 0;
    std::string why;
  };
  struct PollRun {
    std::size_t meter = 0;
    UnixTime t = 0;
    std::size_t request = 0;
    int tries = 0;
    std::vector<std::optional<modbus::Value>> values;
    std::chrono::steady_clock::time_point started;
    std::uint64_t stale_before = 0; // the bus's stale_replies() when the poll started
  };
  struct CommandRun {
    QueuedCommand command;
    std::size_t meter = 0;
    int step = 0; // 0 write, 1 read back
    transport::Request write;
    bool on = false;
    int status_reads = 0; // reads of [relay.status] so far, waiting for the relay to move
    // sync_time: the drift read before setting the clock, and a DL/T 645 date read (YYMMDDWW)
    // waiting for its time.
    std::optional<std::int64_t> drift_before;
    std::int64_t dlt645_date = 0;
    // A set command's words that the meter refused (an exception), then read back to see
    // whether it holds them already.
    std::optional<std::string> refused;
  };

  void pump();
  void arm(std::chrono::steady_clock::time_point due);
  void start_poll(const PollJob& job);
  void send_read();
  void on_read(transport::Outcome<transport::Response> o);
  void finish_reads(); // every request of the poll was answered or given up: report the reading
  const std::vector<modbus::ReadRequest>& plan_of(std::size_t meter) const;
  // The meter refused the poll's current request (exception 2 or 3): split it, or give up
  // its value. False when there is nothing to split or skip (the poll fails).
  bool refused(const transport::Failure& f);
  void note_refused(std::size_t value, const std::string& why); // logged once per meter and value
  std::string where(const MeterTarget& meter) const;            // "unit 3" or "address 123456789012"
  bool dlt645() const;
  void read_relay_status();
  void on_relay_status(transport::Outcome<transport::Response> o);
  void finish_poll(PollOutcome outcome);
  void fail_unreachable(const PollJob& job);
  void fail_silent_device(const PollJob& job);
  // Whether the job after the one just finished is not another circuit of `meter`'s device in
  // the same cycle.
  bool device_done(std::size_t meter, UnixTime t) const;
  // The meter indices in polling order: a device's circuits together, most recently answered first.
  std::vector<std::vector<std::size_t>> poll_groups() const;
  void start_command(QueuedCommand command);
  void on_command_reply(transport::Outcome<transport::Response> o);
  // sync_time, step by step. Modbus: read the [clock], write it, read it back. DL/T 645: read
  // the date and time, broadcast the time, read them again.
  void clock_step();
  void on_clock_reply(transport::Outcome<transport::Response> o);
  void finish_command(const CommandOutcome& outcome);
  void connection_failed(const transport::Failure& f);
  void connection_ok();
  template <typename F> transport::Bus::Handler guard(F f);

  boost::asio::io_context& m_io;
  GatewayTarget m_target;
  std::unique_ptr<MeterBus> m_bus;
  PollSettings m_settings;
  PollerEvents& m_events;
  std::mt19937 m_rng;
  boost::asio::steady_timer m_timer;
  boost::asio::steady_timer m_command_timer; // between reads of a relay's state after a switch
  std::vector<MeterState> m_state;           // by index into m_target.meters
  std::optional<std::chrono::steady_clock::time_point> m_armed;
  std::unordered_map<std::int64_t, std::size_t> m_by_id;
  std::deque<PollJob> m_polls;
  std::deque<QueuedCommand> m_commands;
  bool m_busy = false;
  bool m_aborted = false;
  std::optional<PollRun> m_poll;
  std::optional<CommandRun> m_command;
  Backoff m_backoff;
  std::chrono::steady_clock::time_point m_reconnect_at{};
  std::string m_last_connection_error;
  std::uint64_t m_run_id = 0; // which request a reply belongs to, so that an aborted one is ignored
  std::uint64_t m_skipped = 0;
  std::uint64_t m_cycles = 0;
  std::unordered_map<std::string, DeviceCycle> m_devices; // by device name

public:
  std::uint64_t skipped() const { return m_skipped; }
};

} // namespace kwh::daemon
