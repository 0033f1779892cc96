#pragma once
// kwhd's runner of event hooks ([hooks], lib/kwh/hooks/). Every second it asks the writer to
// collect what is new (hooks::collect) and to hand over the deliveries that are due, at most
// [hooks] max_running running at once; each runs on a thread of its own (the event loop never
// waits for a program), and its outcome is recorded by a job on the writer. The deliveries
// being run are known to the writer thread alone, so that one is never run twice at once.
//
// A delivery whose program ran but whose outcome kwhd could not record (killed meanwhile) is
// pending at the next start and runs again: programs get KWH_HOOK_ID, the delivery's id, to
// notice that. kwhd stopping waits for the programs running (at most [hooks] timeout).

#include <kwh/config/config.hpp>
#include <kwh/daemon/metrics.hpp>
#include <kwh/daemon/writer.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <list>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

namespace kwh::daemon {

class HookRunner {
public:
  HookRunner(boost::asio::io_context& io, Writer& writer, Metrics& metrics, const config::Config& cfg);
  ~HookRunner();
  HookRunner(const HookRunner&) = delete;
  HookRunner& operator=(const HookRunner&) = delete;

  void start();
  void set_config(const config::Config& cfg);
  // No new program starts after this (the event loop's part of stopping; it does not wait).
  void halt();
  // halt(), and waits for the programs running, whose outcomes go to the writer.
  void stop();

private:
  struct Run {
    std::thread thread;
    std::atomic<bool> done{false};
  };
  void arm();
  void claim();
  void reap();

  boost::asio::io_context& m_io;
  Writer& m_writer;
  Metrics& m_metrics;
  config::Config m_cfg;
  boost::asio::steady_timer m_timer;
  bool m_claiming = false;
  std::atomic<bool> m_stopping{false};
  std::list<Run> m_runs; // event loop only
  // Deliveries being run: read and written on the writer thread only.
  std::shared_ptr<std::set<std::int64_t>> m_running = std::make_shared<std::set<std::int64_t>>();
};

} // namespace kwh::daemon
