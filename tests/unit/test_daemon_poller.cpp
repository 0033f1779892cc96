#include <kwh/daemon/poller.hpp>
#include <kwh/modbus/planner.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <thread>

using namespace kwh;
using namespace kwh::daemon;
using namespace std::chrono_literals;
using transport::Failure;
using transport::Function;
using transport::Request;
using transport::Response;

namespace {

const char* k_profile = R"(
name = "test-meter"
kind = "electricity"
word_order = "big"
[values.energy_total]
table = "holding"
address = 0
type = "u32"
scale = 10
[values.power_total]
table = "holding"
address = 2
type = "i16"
scale = 1
[values.voltage_a]
table = "input"
address = 0
type = "u16"
scale = 0.1
[relay]
table = "holding"
address = 0x57
on = [0x0001]
off = [0x0000]
)";

// A meter that reports its relay: the second word of the control pair, 0 while power flows.
// Its values leave holes (2..3, 5..9) that a strict meter refuses to be read across.
const char* k_status_profile = R"(
name = "status-meter"
kind = "electricity"
[values.energy_total]
table = "holding"
address = 0
type = "u32"
scale = 10
[values.power_total]
table = "holding"
address = 4
type = "i16"
[values.voltage_a]
table = "holding"
address = 10
type = "u16"
scale = 0.1
[relay]
table = "holding"
address = 0x57
on = [1, 0]
off = [1, 1]
[relay.status]
table = "holding"
address = 0x58
on = 0
off = 1
)";

// A bus of meters in memory: registers per unit, and what each unit does when asked.
class FakeBus final : public MeterBus {
public:
  enum class Mode { answer, timeout, exception, refuse, ignore_writes, strict };
  explicit FakeBus(boost::asio::io_context& io) : m_io(io) {}

  void submit(Request req, transport::Bus::Handler done) override {
    requests.push_back(req);
    boost::asio::post(m_io, [this, req, done] { done(answer(req)); });
  }
  void close() override { ++closed; }

  transport::Outcome<Response> answer(const Request& req) {
    Mode mode = refuse_all ? Mode::refuse : (modes.count(req.unit) ? modes[req.unit] : Mode::answer);
    if (mode == Mode::timeout) return Failure::timeout("no reply within 500 ms");
    if (mode == Mode::exception) return Failure::exception(4);
    if (mode == Mode::strict && transport::is_read(req.function))
      for (std::uint16_t i = 0; i < req.count; ++i)
        if (!holding[req.unit].count(static_cast<std::uint16_t>(req.address + i))) return Failure::exception(2);
    if (mode == Mode::refuse) return Failure::refused("connection refused");
    auto& regs = req.function == Function::read_input ? input[req.unit] : holding[req.unit];
    Response r;
    switch (req.function) {
    case Function::read_holding:
    case Function::read_input:
      for (std::uint16_t i = 0; i < req.count; ++i) r.words.push_back(regs[static_cast<std::uint16_t>(req.address + i)]);
      break;
    case Function::write_single_register:
    case Function::write_multiple_registers:
      if (mode != Mode::ignore_writes)
        for (std::size_t i = 0; i < req.values.size(); ++i)
          regs[static_cast<std::uint16_t>(req.address + i)] = req.values[i];
      break;
    default: return Failure::exception(1);
    }
    return r;
  }

  std::vector<Request> requests;
  std::map<std::uint8_t, Mode> modes;
  std::map<std::uint8_t, std::map<std::uint16_t, std::uint16_t>> holding, input;
  bool refuse_all = false;
  int closed = 0;

private:
  boost::asio::io_context& m_io;
};

struct Recorder final : PollerEvents {
  struct Poll {
    std::string meter;
    PollOutcome outcome;
  };
  void polled(const GatewayTarget&, const MeterTarget& m, PollOutcome o) override { polls.push_back({m.name, std::move(o)}); }
  void command_done(const QueuedCommand& c, const CommandOutcome& o) override { commands.emplace_back(c, o); }
  void idle(const GatewayTarget&) override { ++idles; }
  std::vector<Poll> polls;
  std::vector<std::pair<QueuedCommand, CommandOutcome>> commands;
  int idles = 0;
};

struct Rig {
  boost::asio::io_context io;
  FakeBus* bus = nullptr;
  Recorder events;
  std::shared_ptr<GatewayPoller> poller;

  explicit Rig(int meters, PollSettings settings = {}, const char* profile = k_profile) {
    auto model = std::make_shared<Model>();
    model->profile = modbus::parse_profile(profile, "test");
    model->plan = modbus::plan_reads(model->profile);
    GatewayTarget g;
    g.id = 1;
    g.name = "g1";
    for (int i = 1; i <= meters; ++i) {
      MeterTarget m;
      m.id = 100 + i;
      m.name = "M" + std::to_string(i);
      m.gateway_id = 1;
      m.unit = static_cast<std::uint8_t>(i);
      m.model = model;
      g.meters.push_back(m);
    }
    auto fake = std::make_unique<FakeBus>(io);
    bus = fake.get();
    poller = std::make_shared<GatewayPoller>(io, std::move(g), std::move(fake), settings, events, 42);
  }
  void run() {
    io.restart();
    io.run_for(5s);
  }
};

} // namespace

TEST_CASE("Poller: a poll reads every planned request and gives one reading at the cycle's time") {
  Rig rig(2);
  rig.bus->holding[1] = {{0, 0x0001}, {1, 0x0002}, {2, 0xFFFE}}; // 65538 × 10 Wh, -2 W
  rig.bus->input[1] = {{0, 2301}};
  rig.bus->holding[2] = {{0, 0}, {1, 5}};
  rig.poller->start_cycle(1'800'000'000, 0ms);
  rig.run();
  REQUIRE(rig.events.polls.size() == 2);
  const auto& p = rig.events.polls[0];
  CHECK(p.meter == "M1");
  REQUIRE(p.outcome.reading);
  CHECK(p.outcome.result == PollResult::ok);
  CHECK(p.outcome.reading->meter_id == 101);
  CHECK(p.outcome.reading->time == 1'800'000'000);
  std::map<std::string, modbus::Value> values;
  for (const auto& v : p.outcome.reading->values) values[v.name] = v;
  CHECK(values.at("energy_total").integer == 655'380);
  CHECK(values.at("power_total").integer == -2);
  CHECK(values.at("voltage_a").real == doctest::Approx(230.1));
  CHECK(rig.events.polls[1].outcome.reading);
  // Two tables: two requests per meter.
  CHECK(rig.bus->requests.size() == 4);
  CHECK(rig.poller->idle());
}

TEST_CASE("Poller: a dead meter costs its tries and stores nothing; the others are still read") {
  PollSettings s;
  s.retries = 2;
  Rig rig(3, s);
  rig.bus->modes[2] = FakeBus::Mode::timeout;
  rig.poller->start_cycle(1'800'000'000, 0ms);
  rig.run();
  REQUIRE(rig.events.polls.size() == 3);
  CHECK(rig.events.polls[0].outcome.reading);
  CHECK_FALSE(rig.events.polls[1].outcome.reading);
  CHECK(rig.events.polls[1].outcome.result == PollResult::timeout);
  CHECK(rig.events.polls[1].outcome.error.find("timeout") != std::string::npos);
  CHECK(rig.events.polls[2].outcome.reading);
  int to_unit2 = 0;
  for (const auto& r : rig.bus->requests) to_unit2 += r.unit == 2;
  CHECK(to_unit2 == 3); // the first request, tried 1 + 2 times; the second never sent
}

TEST_CASE("Poller: an exception reply is not retried and counts as exception") {
  Rig rig(1);
  rig.bus->modes[1] = FakeBus::Mode::exception;
  rig.poller->start_cycle(1, 0ms);
  rig.run();
  REQUIRE(rig.events.polls.size() == 1);
  CHECK(rig.events.polls[0].outcome.result == PollResult::exception);
  CHECK(rig.bus->requests.size() == 1);
}

TEST_CASE("Poller: an unreachable gateway backs off and fails the polls that fall due without the network") {
  Rig rig(5);
  rig.bus->refuse_all = true;
  rig.poller->start_cycle(1, 0ms);
  rig.run();
  REQUIRE(rig.events.polls.size() == 5);
  for (const auto& p : rig.events.polls) CHECK(p.outcome.result == PollResult::connection);
  CHECK(rig.bus->requests.size() == 1); // one connect attempt, then back off
  // Once the gateway is back and the backoff has passed, polls go out again.
  rig.bus->refuse_all = false;
  rig.events.polls.clear();
  std::this_thread::sleep_for(600ms); // the first backoff is at most 500 ms
  rig.poller->start_cycle(2, 0ms);
  rig.run();
  REQUIRE(rig.events.polls.size() == 5);
  for (const auto& p : rig.events.polls) CHECK(p.outcome.reading);
}

TEST_CASE("Poller: polls spread over the window take about the window") {
  Rig rig(4);
  auto started = std::chrono::steady_clock::now();
  rig.poller->start_cycle(1, 200ms);
  rig.run();
  auto took = std::chrono::steady_clock::now() - started;
  CHECK(rig.events.polls.size() == 4);
  // Slot 3 of 4 over 200 ms starts at 150 ms at least.
  CHECK(took >= 150ms);
}

TEST_CASE("Poller: a command goes ahead of queued polls, writes the relay words and reads them back") {
  Rig rig(3);
  rig.bus->holding[2][0x57] = 1;
  rig.poller->start_cycle(1, 0ms);
  QueuedCommand c;
  c.id = 9;
  c.meter_id = 102;
  c.action = "relay_off";
  c.attempts = 1;
  rig.poller->queue_command(c);
  rig.run();
  REQUIRE(rig.events.commands.size() == 1);
  CHECK(rig.events.commands[0].second.ok);
  CHECK(rig.events.commands[0].second.readback == "off");
  CHECK(rig.bus->holding[2][0x57] == 0);
  // The first poll was already on the bus; the command went next, before the other two polls.
  REQUIRE(rig.bus->requests.size() >= 4);
  CHECK(rig.bus->requests[2].function == Function::write_multiple_registers);
  CHECK(rig.bus->requests[2].unit == 2);
  CHECK(rig.events.polls.size() == 3);
}

TEST_CASE("Poller: a relay that reads back unchanged is a failed command") {
  Rig rig(1);
  rig.bus->holding[1][0x57] = 1;
  rig.bus->modes[1] = FakeBus::Mode::ignore_writes;
  QueuedCommand c;
  c.id = 1;
  c.meter_id = 101;
  c.action = "relay_off";
  rig.poller->queue_command(c);
  rig.run();
  REQUIRE(rig.events.commands.size() == 1);
  CHECK_FALSE(rig.events.commands[0].second.ok);
  CHECK(rig.events.commands[0].second.error.find("still reads on") != std::string::npos);
}

TEST_CASE("Poller: a command for a meter it does not know, or an action it cannot do, fails without the bus") {
  Rig rig(1);
  QueuedCommand unknown;
  unknown.meter_id = 999;
  unknown.action = "relay_on";
  rig.poller->queue_command(unknown);
  QueuedCommand odd;
  odd.meter_id = 101;
  odd.action = "sync_time";
  rig.poller->queue_command(odd);
  rig.run();
  REQUIRE(rig.events.commands.size() == 2);
  CHECK_FALSE(rig.events.commands[0].second.ok);
  CHECK(rig.events.commands[1].second.permanent);
  CHECK(rig.bus->requests.empty());
}

TEST_CASE("Poller: a new cycle drops the polls the previous one could not finish") {
  Rig rig(3);
  rig.poller->start_cycle(1, 0ms);
  rig.poller->start_cycle(2, 0ms); // the first poll is on the bus; two are waiting
  rig.run();
  CHECK(rig.poller->skipped() == 2);
  REQUIRE(rig.events.polls.size() == 4);
  CHECK(rig.events.polls[0].outcome.reading->time == 1);
  CHECK(rig.events.polls[3].outcome.reading->time == 2);
}

TEST_CASE("Poller: abort reports the command on the bus and nothing after") {
  Rig rig(1);
  QueuedCommand c;
  c.id = 3;
  c.meter_id = 101;
  c.action = "relay_on";
  rig.poller->queue_command(c);
  rig.poller->start_cycle(1, 0ms);
  rig.poller->abort();
  rig.run();
  REQUIRE(rig.events.commands.size() == 1);
  CHECK_FALSE(rig.events.commands[0].second.ok);
  CHECK(rig.events.polls.empty());
  CHECK(rig.bus->closed >= 1);
}

TEST_CASE("Poller: a merged read the meter refuses (exception 2) is split and remembered; a refused value is missing") {
  Rig rig(1, {}, k_status_profile);
  rig.bus->modes[1] = FakeBus::Mode::strict;
  // Mapped: energy_total, power_total, the relay pair. voltage_a (10) is not there at all.
  rig.bus->holding[1] = {{0, 0}, {1, 1234}, {4, 150}, {0x57, 1}, {0x58, 0}};
  REQUIRE(rig.poller->target().meters[0].model->plan.size() == 2); // 0..10 merged, and 0x58
  rig.poller->start_cycle(1, 0ms);
  rig.run();
  REQUIRE(rig.events.polls.size() == 1);
  const auto& o = rig.events.polls[0].outcome;
  CHECK(o.result == PollResult::ok);
  REQUIRE(o.reading);
  std::map<std::string, modbus::Value> values;
  for (const auto& v : o.reading->values) values[v.name] = v;
  CHECK(values.at("energy_total").integer == 12'340);
  CHECK(values.at("power_total").integer == 150);
  CHECK(values.count("voltage_a") == 0); // missing, never zero
  CHECK(o.reading->relay_closed == true);
  CHECK(o.reading->relay_news);
  // 0..10 refused; then 0..1, 4, 10 (refused) and 0x58.
  CHECK(rig.bus->requests.size() == 5);
  CHECK(rig.bus->requests[1].address == 0);
  CHECK(rig.bus->requests[1].count == 2);
  CHECK(rig.bus->requests[2].address == 4);

  // The next poll starts from the split: no refused merged read again, the same state no news.
  rig.poller->start_cycle(2, 0ms);
  rig.run();
  REQUIRE(rig.events.polls.size() == 2);
  CHECK(rig.bus->requests.size() == 9);
  CHECK(rig.bus->requests[5].count == 2);
  REQUIRE(rig.events.polls[1].outcome.reading);
  CHECK_FALSE(rig.events.polls[1].outcome.reading->relay_news);
  // A trip at the meter is news.
  rig.bus->holding[1][0x58] = 1;
  rig.poller->start_cycle(3, 0ms);
  rig.run();
  REQUIRE(rig.events.polls.size() == 3);
  REQUIRE(rig.events.polls[2].outcome.reading);
  CHECK(rig.events.polls[2].outcome.reading->relay_closed == false);
  CHECK(rig.events.polls[2].outcome.reading->relay_news);
}

TEST_CASE("Poller: an exception 4 (device failure) is not split: the poll fails") {
  Rig rig(1, {}, k_status_profile);
  rig.bus->modes[1] = FakeBus::Mode::exception;
  rig.poller->start_cycle(1, 0ms);
  rig.run();
  REQUIRE(rig.events.polls.size() == 1);
  CHECK(rig.events.polls[0].outcome.result == PollResult::exception);
  CHECK(rig.bus->requests.size() == 1);
}

TEST_CASE("Poller: with [relay.status] a relay command is done when the meter reports the new state") {
  Rig rig(1, {}, k_status_profile);
  rig.bus->holding[1] = {{0, 0}, {1, 1}, {4, 0}, {10, 2300}, {0x57, 1}, {0x58, 0}};
  QueuedCommand c;
  c.id = 1;
  c.meter_id = 101;
  c.action = "relay_off";
  rig.poller->queue_command(c);
  rig.run();
  REQUIRE(rig.events.commands.size() == 1);
  CHECK(rig.events.commands[0].second.ok);
  CHECK(rig.events.commands[0].second.readback == "off");
  REQUIRE(rig.bus->requests.size() == 2);
  CHECK(rig.bus->requests[1].function == Function::read_holding);
  CHECK(rig.bus->requests[1].address == 0x58);
  // The next poll's report of the same state is no news.
  rig.poller->start_cycle(1, 0ms);
  rig.run();
  REQUIRE(rig.events.polls.size() == 1);
  REQUIRE(rig.events.polls[0].outcome.reading);
  CHECK(rig.events.polls[0].outcome.reading->relay_closed == false);
  CHECK_FALSE(rig.events.polls[0].outcome.reading->relay_news);
}

TEST_CASE("Poller: a meter that keeps reporting the old state fails the command with its answer") {
  Rig rig(1, {}, k_status_profile);
  rig.bus->holding[1] = {{0x57, 1}, {0x58, 0}};
  rig.bus->modes[1] = FakeBus::Mode::ignore_writes;
  QueuedCommand c;
  c.id = 1;
  c.meter_id = 101;
  c.action = "relay_off";
  rig.poller->queue_command(c);
  rig.run();
  REQUIRE(rig.events.commands.size() == 1);
  const auto& o = rig.events.commands[0].second;
  CHECK_FALSE(o.ok);
  CHECK_FALSE(o.permanent);
  CHECK(o.readback == "on");
  CHECK(o.error.find("the meter reports the relay on (relay_status 0x0000)") != std::string::npos);
  CHECK(rig.bus->requests.size() == 9); // the write, then 8 reads of the state
}

namespace {

// Meters 1..n of the rig become circuits of device "D1".
void make_device(Rig& rig, int circuits) {
  GatewayTarget g = rig.poller->target();
  for (int i = 0; i < circuits; ++i) g.meters[static_cast<std::size_t>(i)].device = "D1";
  auto fake = std::make_unique<FakeBus>(rig.io);
  rig.bus = fake.get();
  rig.poller = std::make_shared<GatewayPoller>(rig.io, std::move(g), std::move(fake), PollSettings{}, rig.events, 42);
}

int requests_to(const FakeBus& bus, std::uint8_t unit) {
  int n = 0;
  for (const auto& r : bus.requests) n += r.unit == unit;
  return n;
}

} // namespace

TEST_CASE("Poller: a silent multi-user device costs one timeout a cycle, and its circuits all fail") {
  Rig rig(7);
  make_device(rig, 6); // M1..M6 are circuits of D1, M7 a meter of its own
  for (std::uint8_t u = 1; u <= 6; ++u) rig.bus->modes[u] = FakeBus::Mode::timeout;
  rig.poller->start_cycle(1, 0ms);
  rig.run();
  REQUIRE(rig.events.polls.size() == 7);
  int timeouts = 0, done = 0;
  for (const auto& p : rig.events.polls) {
    if (p.meter == "M7") {
      CHECK(p.outcome.reading);
      CHECK_FALSE(p.outcome.device_done);
      continue;
    }
    CHECK(p.outcome.result == PollResult::timeout);
    timeouts += p.outcome.error.find("not tried: device D1 did not answer") == std::string::npos;
    done += p.outcome.device_done;
  }
  CHECK(timeouts == 1); // one circuit was asked; the other five were not
  CHECK(done == 1);
  // The device's polls were one after another, and its last one says so.
  std::vector<std::string> order;
  for (const auto& p : rig.events.polls) order.push_back(p.meter);
  auto first = std::find_if(order.begin(), order.end(), [](const auto& m) { return m != "M7"; });
  CHECK(std::count(first, first + 6, "M7") == 0);
  int asked = 0;
  for (std::uint8_t u = 1; u <= 6; ++u) asked += requests_to(*rig.bus, u) > 0;
  CHECK(asked == 1);
  // The next cycle asks another circuit first (the one asked is now the last tried).
  const auto* before = &rig.bus->requests.front();
  const std::uint8_t first_unit = before->unit;
  rig.events.polls.clear();
  rig.bus->requests.clear();
  rig.poller->start_cycle(2, 0ms);
  rig.run();
  CHECK(rig.events.polls.size() == 7);
  REQUIRE_FALSE(rig.bus->requests.empty());
  const auto& asked_second = rig.bus->requests.front().unit == 7 ? rig.bus->requests.back() : rig.bus->requests.front();
  CHECK(asked_second.unit != first_unit);
}

TEST_CASE("Poller: one dead circuit of a live device fails alone; an exception does not silence the device") {
  Rig rig(6);
  make_device(rig, 6);
  rig.poller->start_cycle(1, 0ms); // all answer once
  rig.run();
  REQUIRE(rig.events.polls.size() == 6);
  rig.events.polls.clear();
  rig.bus->modes[1] = FakeBus::Mode::timeout;   // the first circuit by unit dies
  rig.bus->modes[2] = FakeBus::Mode::exception; // another answers with an exception
  rig.poller->start_cycle(2, 0ms);
  rig.run();
  REQUIRE(rig.events.polls.size() == 6);
  int read = 0;
  for (const auto& p : rig.events.polls) {
    CAPTURE(p.meter);
    if (p.meter == "M1") CHECK(p.outcome.result == PollResult::timeout);
    else if (p.meter == "M2") CHECK(p.outcome.result == PollResult::exception);
    else read += p.outcome.reading.has_value();
    CHECK(p.outcome.error.find("not tried") == std::string::npos);
  }
  CHECK(read == 4);
  // M1 and M2 failed: now they are asked after the circuits that answered, so they cannot silence them.
  rig.events.polls.clear();
  rig.poller->start_cycle(3, 0ms);
  rig.run();
  REQUIRE(rig.events.polls.size() == 6);
  const auto& last = rig.events.polls[5], &before_last = rig.events.polls[4];
  CHECK(((last.meter == "M1" && before_last.meter == "M2") || (last.meter == "M2" && before_last.meter == "M1")));
  CHECK(last.outcome.device_done);
  CHECK_FALSE(before_last.outcome.device_done);
  int fresh = 0;
  for (const auto& p : rig.events.polls) fresh += p.outcome.reading.has_value();
  CHECK(fresh == 4);
}

TEST_CASE("Poller: a device that answered last cycle is silent only after two circuits time out") {
  Rig rig(4);
  make_device(rig, 4);
  rig.poller->start_cycle(1, 0ms);
  rig.run();
  for (std::uint8_t u = 1; u <= 4; ++u) rig.bus->modes[u] = FakeBus::Mode::timeout;
  rig.events.polls.clear();
  rig.bus->requests.clear();
  rig.poller->start_cycle(2, 0ms);
  rig.run();
  REQUIRE(rig.events.polls.size() == 4);
  auto asked = [&] {
    int n = 0;
    for (std::uint8_t u = 1; u <= 4; ++u) n += requests_to(*rig.bus, u) > 0;
    return n;
  };
  CHECK(asked() == 2); // two circuits asked (each tried twice: retries = 1), two not
  int skipped = 0;
  for (const auto& p : rig.events.polls) {
    CHECK(p.outcome.result == PollResult::timeout);
    skipped += p.outcome.error.find("not tried: device D1") != std::string::npos;
  }
  CHECK(skipped == 2);
  // Still silent: one timeout a cycle from now on.
  rig.bus->requests.clear();
  rig.poller->start_cycle(3, 0ms);
  rig.run();
  CHECK(asked() == 1);
}
