// kwh check: verify the database. Exit 0 when clean, 1 with one line per finding.

#include "context.hpp"
#include "progress.hpp"

#include <kwh/audit/log.hpp>
#include <kwh/billing/accumulator_check.hpp>
#include <kwh/billing/debt.hpp>
#include <kwh/ledger/accumulator.hpp>
#include <kwh/ledger/ledger.hpp>
#include <kwh/storage/integrity.hpp>

namespace kwh::cli {

void add_check(CLI::App& app, Context& ctx) {
  auto* sub = app.add_subcommand("check", "verify the database: integrity, balances, ledger and audit chains");
  sub->callback([&ctx] {
    ctx.action = [&ctx] {
      auto& db = ctx.db();
      // The file first, then the money (balances equal their ledger and open accumulators, the
      // ledger chain, no duplicate --ref, the accumulators against their readings), then the
      // audit chain.
      // On a big database each step takes a while: a terminal is told which one is running.
      Progress progress(!ctx.quiet);
      progress.show(fmt::format("kwh: checking {}: the SQLite file", db.path()), true);
      std::vector<std::string> findings = storage::integrity_findings(db);
      progress.show(fmt::format("kwh: checking {}: balances and the ledger chain", db.path()), true);
      for (auto& f : ledger::verify(db)) findings.push_back(std::move(f));
      progress.show(fmt::format("kwh: checking {}: the open accumulators against their readings", db.path()), true);
      for (auto& f : ledger::verify_hashes(db)) findings.push_back(std::move(f));
      for (auto& f : billing::verify_accumulators(db, ctx.config())) findings.push_back(std::move(f));
      for (auto& f : billing::verify_debts(db)) findings.push_back(std::move(f));
      progress.show(fmt::format("kwh: checking {}: the audit chain", db.path()), true);
      for (auto& f : audit::verify(db)) findings.push_back(std::move(f));
      progress.clear();
      if (ctx.format() == output::Format::json) {
        output::Json o = output::Json::object();
        output::Json arr = output::Json::array();
        for (const auto& f : findings) arr.push(f);
        o.set("database", db.path());
        o.set("clean", findings.empty());
        o.set("findings", std::move(arr));
        ctx.print(o);
      } else {
        for (const auto& f : findings) ctx.out() << f << '\n';
        if (findings.empty() && !ctx.quiet) ctx.out() << db.path() << ": clean\n";
      }
      return findings.empty() ? 0 : 1;
    };
  });
}

} // namespace kwh::cli
