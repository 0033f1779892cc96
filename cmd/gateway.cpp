// kwh gateway: manage gateways: the paths to buses of meters.

#include "context.hpp"
#include "import.hpp"

#include <kwh/site/gateway.hpp>
#include <kwh/site/live.hpp>
#include <kwh/site/meter.hpp>
#include <kwh/transport/client.hpp>
#include <kwh/util/time.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>


namespace kwh::cli {

namespace {

std::string serial_text(const site::Gateway& g) {
  if (g.transport != site::Transport::rtu_serial) return "";
  return fmt::format("{} 8{}{}", g.baud.value_or(9600), g.parity.value_or('N'), g.stop_bits.value_or(1));
}

output::Json opt_json(const std::optional<int>& v) { return v ? output::Json(*v) : output::Json(); }

output::Json gateway_json(storage::Database& db, const site::Gateway& g) {
  auto meters = output::Json::array();
  for (const auto& name : site::meters_on_gateway(db, g.id)) meters.push(name);
  auto o = output::Json::object();
  o.set("name", g.name);
  o.set("transport", std::string(transport::kind_name(g.transport)));
  o.set("protocol", site::protocol_name(g.protocol));
  o.set("address", g.address);
  o.set("baud", opt_json(g.baud));
  o.set("parity", g.parity ? output::Json(std::string(1, *g.parity)) : output::Json());
  o.set("stop_bits", opt_json(g.stop_bits));
  o.set("timeout_ms", opt_json(g.timeout_ms));
  o.set("gap_ms", g.gap_ms);
  o.set("rts", g.rts ? output::Json(*g.rts) : output::Json());
  o.set("rts_delay_us", opt_json(g.rts_delay_us));
  // Whether a password is set, never the password.
  o.set("password", g.password ? output::Json("set") : output::Json());
  o.set("status", g.status);
  o.set("status_since", g.status_since ? output::Json(format_time(*g.status_since)) : output::Json());
  o.set("created", format_time(g.created));
  o.set("retired", g.retired ? output::Json(format_time(*g.retired)) : output::Json());
  o.set("meters", std::move(meters));
  return o;
}

struct AddOptions {
  std::string name;
  std::optional<std::string> tcp, rtu_over_tcp, rtu, dlt645_tcp, dlt645;
  std::optional<int> baud, stop_bits, timeout_ms, rts_delay_us;
  std::optional<std::string> parity, password, operator_code, rts;
  int gap_ms = 0;
};

site::Gateway gateway_from(const AddOptions& o) {
  int given = int(o.tcp.has_value()) + int(o.rtu_over_tcp.has_value()) + int(o.rtu.has_value()) +
              int(o.dlt645_tcp.has_value()) + int(o.dlt645.has_value());
  if (given != 1)
    fail(Exit::usage, "gateway add {}: give exactly one of --tcp, --rtu-over-tcp, --rtu, --dlt645-tcp or --dlt645", o.name);
  site::Gateway g;
  g.name = o.name;
  if (o.dlt645_tcp) {
    g.protocol = transport::Protocol::dlt645;
    g.transport = site::Transport::rtu_over_tcp;
    g.address = *o.dlt645_tcp;
  } else if (o.dlt645) {
    g.protocol = transport::Protocol::dlt645;
    g.transport = site::Transport::rtu_serial;
    g.address = *o.dlt645;
  } else if (o.tcp) {
    g.transport = site::Transport::tcp;
    g.address = *o.tcp;
  } else if (o.rtu_over_tcp) {
    g.transport = site::Transport::rtu_over_tcp;
    g.address = *o.rtu_over_tcp;
  } else {
    g.transport = site::Transport::rtu_serial;
    g.address = *o.rtu;
  }
  g.baud = o.baud;
  if (o.parity) {
    if (o.parity->size() != 1) fail(Exit::usage, "--parity must be N, E or O, not '{}'", *o.parity);
    g.parity = static_cast<char>(std::toupper(static_cast<unsigned char>((*o.parity)[0])));
  }
  g.stop_bits = o.stop_bits;
  g.timeout_ms = o.timeout_ms;
  g.gap_ms = o.gap_ms;
  g.password = o.password;
  g.operator_code = o.operator_code;
  g.rts = o.rts;
  g.rts_delay_us = o.rts_delay_us;
  return g;
}

void add_add(CLI::App* parent, Context& ctx) {
  auto o = std::make_shared<AddOptions>();
  auto* sub = parent->add_subcommand("add", "add a gateway");
  sub->add_option("name", o->name, "the gateway's name")->required()->type_name("NAME");
  auto* tcp = sub->add_option("--tcp", o->tcp, "Modbus TCP gateway")->type_name("HOST:PORT");
  auto* rot = sub->add_option("--rtu-over-tcp", o->rtu_over_tcp, "Modbus RTU framed over a raw TCP socket")
                  ->type_name("HOST:PORT");
  auto* rtu = sub->add_option("--rtu", o->rtu, "Modbus RTU on a local serial port")->type_name("DEVICE");
  auto* dtcp = sub->add_option("--dlt645-tcp", o->dlt645_tcp, "DL/T 645-2007 meters behind a serial server (raw TCP)")
                   ->type_name("HOST:PORT");
  auto* dser = sub->add_option("--dlt645", o->dlt645, "DL/T 645-2007 meters on a local serial port")->type_name("DEVICE");
  tcp->excludes(rot)->excludes(rtu)->excludes(dtcp)->excludes(dser);
  rot->excludes(rtu)->excludes(dtcp)->excludes(dser);
  rtu->excludes(dtcp)->excludes(dser);
  dtcp->excludes(dser);
  sub->add_option("--baud", o->baud, "serial speed (--rtu 9600, --dlt645 2400 by default)")->type_name("N");
  sub->add_option("--parity", o->parity, "serial parity N, E or O (--rtu N, --dlt645 E by default)")->type_name("N|E|O");
  sub->add_option("--stop-bits", o->stop_bits, "serial stop bits 1 or 2 (default 1)")->type_name("1|2");
  sub->add_option("--rts", o->rts, "RS-485 direction by RTS while sending: up or down (serial only)")
      ->check(CLI::IsMember({"up", "down"}))
      ->type_name("up|down");
  sub->add_option("--rts-delay-us", o->rts_delay_us, "with --rts: microseconds before and after sending")->type_name("N");
  sub->add_option("--password", o->password, "DL/T 645: the relay commands' password, PA P0 P1 P2 (default 02000000)")
      ->type_name("HEX8");
  sub->add_option("--operator-code", o->operator_code, "DL/T 645: the operator code (default 00000000)")->type_name("HEX8");
  sub->add_option("--timeout-ms", o->timeout_ms, "response timeout (default: [poll] timeout)")->type_name("N");
  sub->add_option("--gap-ms", o->gap_ms, "silence between requests on the bus (default 0)")->type_name("N");
  sub->callback([&ctx, o] {
    ctx.action = [&ctx, o] {
      site::Gateway g = gateway_from(*o);
      auto& db = ctx.db();
      g = site::add_gateway(db, g);
      if (ctx.format() == output::Format::json) ctx.print(gateway_json(db, g));
      else if (ctx.quiet) ctx.out() << g.name << '\n';
      else ctx.out() << "added gateway " << g.name << " (" << g.spec(ctx.config().poll.timeout).describe() << ")\n";
      return 0;
    };
  });
}

void add_list(CLI::App* parent, Context& ctx) {
  auto all = std::make_shared<bool>(false);
  auto* sub = parent->add_subcommand("list", "list gateways");
  sub->add_flag("--all", *all, "retired gateways too");
  sub->callback([&ctx, all] {
    ctx.action = [&ctx, all] {
      auto& db = ctx.db();
      output::Table t;
      t.columns = {{"gateway"},
                   {"transport"},
                   {"protocol"},
                   {"address"},
                   {"serial"},
                   {"timeout_ms", output::Kind::integer},
                   {"gap_ms", output::Kind::integer},
                   {"status", output::Kind::status},
                   {"meters", output::Kind::integer},
                   {"retired", output::Kind::time}};
      for (const auto& g : site::list_gateways(db)) {
        if (g.retired && !*all) continue;
        t.add({g.name, std::string(transport::kind_name(g.transport)), std::string(site::protocol_name(g.protocol)), g.address, serial_text(g), opt_json(g.timeout_ms),
               g.gap_ms, g.status, static_cast<std::int64_t>(site::meters_on_gateway(db, g.id).size()),
               g.retired ? output::Json(format_time(*g.retired)) : output::Json()});
      }
      ctx.print(t);
      return 0;
    };
  });
}

void add_show(CLI::App* parent, Context& ctx) {
  auto name = std::make_shared<std::string>();
  auto* sub = parent->add_subcommand("show", "show one gateway");
  sub->add_option("name", *name, "the gateway")->required()->type_name("NAME");
  sub->callback([&ctx, name] {
    ctx.action = [&ctx, name] {
      auto& db = ctx.db();
      ctx.print(gateway_json(db, site::get_gateway(db, *name)));
      return 0;
    };
  });
}

void add_remove(CLI::App* parent, Context& ctx) {
  auto name = std::make_shared<std::string>();
  auto* sub = parent->add_subcommand("remove", "remove a gateway that has no meters");
  sub->add_option("name", *name, "the gateway")->required()->type_name("NAME");
  sub->callback([&ctx, name] {
    ctx.action = [&ctx, name] {
      site::remove_gateway(ctx.db(), *name);
      if (ctx.format() == output::Format::json)
        ctx.print(output::Json::object().set("name", *name).set("removed", true));
      else if (ctx.quiet) ctx.out() << *name << '\n';
      else ctx.out() << "removed gateway " << *name << '\n';
      return 0;
    };
  });
}

void add_retire(CLI::App* parent, Context& ctx) {
  auto name = std::make_shared<std::string>();
  auto* sub = parent->add_subcommand("retire", "take a gateway with history out of service (its meters too)");
  sub->add_option("name", *name, "the gateway")->required()->type_name("NAME");
  sub->footer("The gateway is polled no more and leaves gateway list (see --all); its meters leave service\n"
              "(marked removed, pending commands cancelled). Readings, events and ledger entries stay for\n"
              "reports and statements. Meters on open accounts must be detached or moved first.");
  sub->callback([&ctx, name] {
    ctx.action = [&ctx, name] {
      auto g = site::retire_gateway(ctx.db(), *name);
      if (ctx.format() == output::Format::json)
        ctx.print(output::Json::object().set("name", g.name).set("retired", format_time(*g.retired)));
      else if (ctx.quiet) ctx.out() << g.name << '\n';
      else ctx.out() << "retired gateway " << g.name << '\n';
      return 0;
    };
  });
}

void add_test(CLI::App* parent, Context& ctx) {
  auto name = std::make_shared<std::string>();
  auto* sub = parent->add_subcommand("test", "check that a gateway and its meters answer");
  sub->add_option("name", *name, "the gateway")->required()->type_name("NAME");
  sub->callback([&ctx, name] {
    ctx.action = [&ctx, name] {
      auto& db = ctx.db();
      site::Gateway g = site::get_gateway(db, *name);
      transport::Client client(g.spec(ctx.config().poll.timeout));
      auto probes = site::probe_gateway(db, client, g, ctx.config().profiles);
      output::Table t;
      t.columns = {{"meter"}, {"unit", output::Kind::integer}, {"result", output::Kind::status},
                   {"ms", output::Kind::integer}, {"detail"}};
      std::vector<std::string> silent;
      const site::Probe* first = nullptr;
      for (const auto& p : probes) {
        t.add({p.meter, p.unit, p.answered ? "ok" : p.unreachable ? "offline" : "failed", p.ms, p.detail});
        if (!p.unreachable) continue;
        silent.push_back(p.meter.empty() ? g.name : fmt::format("{} (unit {})", p.meter, p.unit));
        if (!first) first = &p;
      }
      ctx.print(t);
      if (first && first->meter.empty()) fail(Exit::unavailable, "{}", first->detail);
      if (first)
        fail(Exit::unavailable, "gateway {} ({}): {} of {} meters did not answer: {}; first: {}", g.name, g.address,
             silent.size(), probes.size(), fmt::join(silent, ", "), first->detail);
      return 0;
    };
  });
}

} // namespace

void add_gateway(CLI::App& app, Context& ctx) {
  auto* sub = app.add_subcommand("gateway", "manage gateways: the paths to buses of meters");
  sub->require_subcommand(1);
  add_add(sub, ctx);
  add_import(sub, ctx, import::Kind::gateways);
  add_list(sub, ctx);
  add_show(sub, ctx);
  add_remove(sub, ctx);
  add_retire(sub, ctx);
  add_test(sub, ctx);
}

} // namespace kwh::cli
