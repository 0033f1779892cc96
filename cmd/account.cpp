// kwh account: open, list, show, attach and detach meters, close accounts, print login links.

#include "context.hpp"
#include "import.hpp"

#include <kwh/billing/account.hpp>
#include <kwh/billing/credit.hpp>
#include <kwh/billing/debt.hpp>
#include <kwh/billing/payment.hpp>
#include <kwh/util/time.hpp>
#include <kwh/web/link.hpp>

#include <charconv>

namespace kwh::cli {

namespace {

// The operator authorize() found; the login name when run without it (tests).
std::string operator_of(const Context& ctx) {
  return ctx.operator_name.empty() ? billing::operator_name() : ctx.operator_name;
}

output::Json opt_money(Context& ctx, const std::optional<std::int64_t>& v) {
  return v ? output::Json(ctx.money(*v)) : output::Json();
}

output::Json account_json(Context& ctx, const billing::Account& a) {
  auto o = output::Json::object();
  o.set("id", a.name);
  o.set("name", a.holder);
  o.set("status", a.status);
  o.set("balance", ctx.money(a.balance));
  o.set("tariff", a.tariff);
  auto meters = output::Json::array();
  for (const auto& m : a.meters) meters.push(m);
  o.set("meters", meters);
  o.set("alarm1", opt_money(ctx, a.alarm1));
  o.set("alarm2", opt_money(ctx, a.alarm2));
  o.set("credit_limit", ctx.money(a.credit_limit));
  o.set("phone", a.phone ? output::Json(*a.phone) : output::Json());
  o.set("language", a.language ? output::Json(*a.language) : output::Json());
  o.set("opened", format_time(a.opened));
  o.set("closed", a.closed ? output::Json(format_time(*a.closed)) : output::Json());
  o.set("emergency_credit", ctx.money(billing::emergency_amount(ctx.config(), a.emergency_credit)));
  o.set("emergency_owed", ctx.money(a.emergency_owed));
  std::int64_t debt = 0;
  auto debts = output::Json::array();
  for (const auto& d : billing::list_debts(ctx.db(), a.name, true)) {
    debt += d.remaining;
    // Each debt still owed, with its schedule: a share of each sale and/or a fixed amount.
    auto j = output::Json::object();
    j.set("debt", d.id).set("remaining", ctx.money(d.remaining)).set("amount", ctx.money(d.amount));
    j.set("recover_share", d.share ? output::Json(*d.share) : output::Json());
    j.set("fixed", d.fixed ? output::Json(ctx.money(*d.fixed)) : output::Json());
    j.set("every", d.fixed ? output::Json(billing::period_name(d.period)) : output::Json());
    j.set("next_due", d.fixed && d.next_due ? output::Json(format_time(*d.next_due)) : output::Json());
    j.set("note", d.note);
    debts.push(std::move(j));
  }
  o.set("debt", ctx.money(debt));
  o.set("debts", std::move(debts));
  return o;
}

UnixTime parse_time_option(const std::optional<std::string>& text, const char* option) {
  if (!text) return now();
  auto t = parse_time(*text);
  if (!t) fail(Exit::data, "{}: {}", option, t.error().what());
  return *t;
}

} // namespace

void add_account(CLI::App& app, Context& ctx) {
  auto* group = app.add_subcommand("account", "open, list, show and close accounts");
  group->require_subcommand(1);

  // open
  struct OpenOptions {
    std::string id, name, tariff;
    std::vector<std::string> meters;
    std::optional<std::string> alarm1, alarm2, credit_limit, phone, language, opened, emergency_credit;
  };
  auto oo = std::make_shared<OpenOptions>();
  auto* open = group->add_subcommand("open", "open an account");
  open->add_option("id", oo->id, "the account ID")->required()->type_name("ID");
  open->add_option("--name", oo->name, "the customer's name")->required()->type_name("NAME");
  open->add_option("--tariff", oo->tariff, "its tariff")->required()->type_name("T");
  open->add_option("--meter", oo->meters, "a meter of the account (repeatable)")->type_name("M");
  open->add_option("--alarm1", oo->alarm1, "first balance alarm level")->type_name("MONEY");
  open->add_option("--alarm2", oo->alarm2, "second balance alarm level (at or below alarm1)")->type_name("MONEY");
  open->add_option("--credit-limit", oo->credit_limit, "how far below zero before arrears (default 0)")
      ->type_name("MONEY");
  open->add_option("--phone", oo->phone, "the customer's phone")->type_name("P");
  open->add_option("--language", oo->language, "the customer's language for messages, e.g. en or zh (default: the "
                                               "site's)")
      ->type_name("TAG");
  open->add_option("--emergency-credit", oo->emergency_credit,
                   "emergency credit it may take (default [billing] emergency_credit; 0: none)")
      ->type_name("MONEY");
  open->add_option("--opened", oo->opened, "when it starts (default now), e.g. for migrated history")
      ->type_name("TIME");
  open->callback([&ctx, oo] {
    ctx.action = [&ctx, oo] {
      billing::OpenAccount r;
      r.id = oo->id;
      r.holder = oo->name;
      r.tariff = oo->tariff;
      r.meters = oo->meters;
      if (oo->alarm1) r.alarm1 = ctx.parse_money(*oo->alarm1, true);
      if (oo->alarm2) r.alarm2 = ctx.parse_money(*oo->alarm2, true);
      if (oo->credit_limit) r.credit_limit = ctx.parse_money(*oo->credit_limit);
      r.phone = oo->phone;
      r.language = oo->language;
      if (oo->emergency_credit) r.emergency_credit = ctx.parse_money(*oo->emergency_credit);
      r.opened = parse_time_option(oo->opened, "--opened");
      auto& db = ctx.db();
      storage::Transaction tx(db);
      auto a = billing::open_account(db, r);
      tx.commit();
      if (ctx.format() == output::Format::json) ctx.print(account_json(ctx, a));
      else if (ctx.quiet) ctx.out() << a.name << '\n';
      else
        ctx.out() << "opened account " << a.name << " (" << a.holder << ") on tariff " << a.tariff << " with "
                  << a.meters.size() << " meter(s); status " << a.status << "\n";
      return 0;
    };
  });

  add_import(group, ctx, import::Kind::accounts);

  // list
  auto status = std::make_shared<std::optional<std::string>>();
  auto* list = group->add_subcommand("list", "list accounts");
  list->add_option("--status", *status, "only accounts with this status")
      ->type_name("ok|alarm1|alarm2|emergency|arrears|closed")
      ->check(CLI::IsMember({"ok", "alarm1", "alarm2", "emergency", "arrears", "closed"}));
  list->callback([&ctx, status] {
    ctx.action = [&ctx, status] {
      auto& db = ctx.db();
      output::Table t;
      t.columns = {{"account"},          {"name"},           {"status", output::Kind::status},
                   {"balance", output::Kind::money}, {"tariff"}, {"meters"},
                   {"alarm1", output::Kind::money},  {"alarm2", output::Kind::money},
                   {"credit_limit", output::Kind::money}, {"phone"}, {"emergency_owed", output::Kind::money},
                   {"language"}};
      for (const auto& a : billing::list_accounts(db, *status)) {
        std::string meters;
        for (const auto& m : a.meters) meters += (meters.empty() ? "" : " ") + m;
        t.add({a.name, a.holder, a.status, ctx.money(a.balance), a.tariff, meters, opt_money(ctx, a.alarm1),
               opt_money(ctx, a.alarm2), ctx.money(a.credit_limit), a.phone ? output::Json(*a.phone) : output::Json(),
               ctx.money(a.emergency_owed), a.language ? output::Json(*a.language) : output::Json()});
      }
      ctx.print(t);
      return 0;
    };
  });

  // show
  auto show_id = std::make_shared<std::string>();
  auto* show = group->add_subcommand("show", "show an account");
  show->add_option("id", *show_id, "the account ID")->required()->type_name("ID");
  show->callback([&ctx, show_id] {
    ctx.action = [&ctx, show_id] {
      auto a = billing::find_account(ctx.db(), *show_id);
      auto o = account_json(ctx, a);
      if (ctx.format() == output::Format::table) {
        std::string meters;
        for (const auto& m : a.meters) meters += (meters.empty() ? "" : " ") + m;
        o.set("meters", meters);
        // One line: "1: 50.00 left, 25% of each sale (old arrears); 2: ...".
        std::string debts;
        for (const auto& d : billing::list_debts(ctx.db(), a.name, true)) {
          std::string how = d.share ? fmt::format("{}% of each sale", *d.share) : std::string();
          if (d.fixed)
            how += fmt::format("{}{} a {}", how.empty() ? "" : " and ", ctx.money(*d.fixed), billing::period_name(d.period));
          debts += fmt::format("{}{}: {} left, {} ({})", debts.empty() ? "" : "; ", d.id, ctx.money(d.remaining), how,
                               d.note);
        }
        o.set("debts", debts);
      }
      ctx.print(o);
      return 0;
    };
  });

  // attach / detach
  struct MeterOptions {
    std::string id, meter;
    std::optional<std::string> time;
  };
  for (bool attach : {true, false}) {
    auto mo = std::make_shared<MeterOptions>();
    auto* sub = group->add_subcommand(attach ? "attach" : "detach",
                                      attach ? "attach a meter to an account"
                                             : "detach a meter from an account (billed up to then)");
    sub->add_option("id", mo->id, "the account ID")->required()->type_name("ID");
    sub->add_option("meter", mo->meter, "the meter ID")->required()->type_name("METER");
    sub->add_option("--time", mo->time, "when (default now)")->type_name("TIME");
    sub->callback([&ctx, mo, attach] {
      ctx.action = [&ctx, mo, attach] {
        UnixTime t = parse_time_option(mo->time, "--time");
        auto& db = ctx.db();
        storage::Transaction tx(db);
        if (attach) billing::attach_meter(db, mo->id, mo->meter, t);
        else billing::detach_meter(db, mo->id, mo->meter, t);
        tx.commit();
        if (!ctx.quiet && ctx.format() == output::Format::table)
          ctx.out() << (attach ? "attached meter " : "detached meter ") << mo->meter << (attach ? " to " : " from ")
                    << "account " << mo->id << " at " << format_time(t) << "\n";
        else if (ctx.format() == output::Format::json)
          ctx.print(account_json(ctx, billing::find_account(db, mo->id)));
        return 0;
      };
    });
  }

  // link: a single-use login link for the tenant's page (kwh-serve(1)).
  struct LinkOptions {
    std::string id;
    std::optional<std::string> ttl;
    bool revoke = false;
  };
  auto lo = std::make_shared<LinkOptions>();
  auto* link = group->add_subcommand("link", "print a single-use login link to the tenant's page (kwh serve)");
  link->add_option("id", lo->id, "the account ID")->required()->type_name("ID");
  link->add_option("--ttl", lo->ttl, "how long the link works (default [serve] link_ttl, 48h; 5m .. 30d)")
      ->type_name("DURATION");
  link->add_flag("--revoke", lo->revoke, "void every link and session of the account instead");
  link->callback([&ctx, lo] {
    ctx.action = [&ctx, lo] {
      auto& db = ctx.db();
      if (lo->revoke) {
        if (lo->ttl) fail(Exit::usage, "--ttl and --revoke do not go together");
        storage::Transaction tx(db);
        const auto generation = web::revoke_links(db, lo->id);
        ctx.audit_now();
        tx.commit();
        if (ctx.format() == output::Format::json)
          ctx.print(output::Json::object().set("account", lo->id).set("revoked", true).set("generation", generation));
        else if (!ctx.quiet)
          ctx.out() << "revoked every login link and session of account " << lo->id << "\n";
        return 0;
      }
      const auto& cfg = ctx.config();
      std::chrono::seconds ttl = cfg.serve.link_ttl;
      if (lo->ttl) {
        auto d = parse_duration(*lo->ttl);
        if (!d) fail(Exit::usage, "--ttl: {}", d.error().what());
        if (*d < std::chrono::minutes(5) || *d > std::chrono::hours(24 * 30))
          fail(Exit::usage, "--ttl: {} is outside 5m to 30d", *lo->ttl);
        ttl = std::chrono::duration_cast<std::chrono::seconds>(*d);
      }
      const std::string base = cfg.serve.base_url.empty() ? "http://" + cfg.serve.listen : cfg.serve.base_url;
      const std::string key = web::load_or_create_secret(config::resolve_secret_path(cfg, ctx.database_path()),
                                                         ctx.database_path());
      auto issued = web::issue_link(db, key, base, lo->id, ttl, now());
      if (ctx.format() == output::Format::json)
        ctx.print(output::Json::object()
                      .set("account", issued.account)
                      .set("name", issued.holder)
                      .set("url", issued.url)
                      .set("expires", format_time(issued.expires)));
      else
        ctx.out() << issued.url << "\n";
      return 0;
    };
  });

  // credit: emergency credit (billing/credit.hpp).
  auto credit_id = std::make_shared<std::string>();
  auto* credit = group->add_subcommand("credit", "grant an account its emergency credit, repaid from its next sale");
  credit->add_option("id", *credit_id, "the account ID")->required()->type_name("ID");
  credit->callback([&ctx, credit_id] {
    ctx.action = [&ctx, credit_id] {
      auto& db = ctx.db();
      const int mu = ctx.minor_units();
      auto g = billing::grant_emergency(db, ctx.config(), *credit_id, operator_of(ctx), now(),
                                        [&ctx] { ctx.audit_now(); });
      if (ctx.format() == output::Format::json)
        ctx.print(output::Json::object()
                      .set("account", g.account)
                      .set("granted", g.amount.format(mu))
                      .set("balance", g.balance.format(mu))
                      .set("status", g.status)
                      .set("relay_commands", static_cast<std::int64_t>(g.commands.size()))
                      .set("time", format_time(g.time)));
      else if (ctx.quiet) ctx.out() << g.amount.format(mu) << '\n';
      else
        ctx.out() << "granted account " << g.account << " emergency credit of " << g.amount.format(mu) << "; balance "
                  << g.balance.format(mu) << ", status " << g.status
                  << (g.commands.empty() ? "" : "; its relays close again") << "\n";
      return 0;
    };
  });

  // debt: debts recorded apart from the balance (billing/debt.hpp): `debt add ID MONEY` records
  // one, `debt list [ID]` lists them.
  struct DebtOptions {
    std::string id, amount, note;
    std::optional<std::string> recover, fixed, every;
    bool all = false;
  };
  auto dop = std::make_shared<DebtOptions>();
  auto* debt = group->add_subcommand("debt", "record and list debts owed apart from the balance");
  debt->require_subcommand(1);
  auto* debt_add = debt->add_subcommand("add", "record a debt, recovered from sales and/or by a fixed amount");
  debt_add->add_option("id", dop->id, "the account ID")->required()->type_name("ID");
  debt_add->add_option("amount", dop->amount, "what is owed")->required()->type_name("MONEY");
  debt_add->add_option("--note", dop->note, "what it is for")->required()->type_name("TEXT");
  debt_add->add_option("--recover", dop->recover, "the share of every sale it takes, e.g. 25%")->type_name("PERCENT");
  debt_add->add_option("--fixed", dop->fixed, "an amount recovered every --every while the account is open")
      ->type_name("MONEY");
  debt_add->add_option("--every", dop->every, "week or month (with --fixed)")
      ->type_name("week|month")
      ->check(CLI::IsMember({"week", "month"}));
  auto print_debts = [](Context& c, const std::vector<billing::Debt>& debts) {
    output::Table t;
    t.columns = {{"debt"},      {"account"}, {"created"},        {"amount", output::Kind::money},
                 {"recovered", output::Kind::money}, {"remaining", output::Kind::money},
                 {"recover_share"}, {"fixed", output::Kind::money}, {"every"}, {"next_due"}, {"note"}};
    for (const auto& d : debts)
      t.add({d.id, d.account, format_time(d.created), c.money(d.amount), c.money(d.amount - d.remaining),
             c.money(d.remaining), d.share ? output::Json(fmt::format("{}%", *d.share)) : output::Json(),
             d.fixed ? output::Json(c.money(*d.fixed)) : output::Json(),
             d.period == billing::DebtPeriod::none ? output::Json() : output::Json(billing::period_name(d.period)),
             d.next_due ? output::Json(format_time(*d.next_due)) : output::Json(), d.note});
    c.print(t);
  };
  debt_add->callback([&ctx, dop, print_debts] {
    ctx.action = [&ctx, dop, print_debts] {
      billing::NewDebt r;
      r.account = dop->id;
      r.amount = ctx.parse_money(dop->amount);
      r.note = dop->note;
      if (dop->recover) {
        std::string p = *dop->recover;
        if (!p.empty() && p.back() == '%') p.pop_back();
        int v = 0;
        auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), v);
        if (p.empty() || ec != std::errc() || end != p.data() + p.size())
          fail(Exit::usage, "--recover: '{}' is not a percentage like 25%", *dop->recover);
        r.share = v;
      }
      if (dop->fixed) r.fixed = ctx.parse_money(*dop->fixed);
      if (dop->every) r.period = *dop->every == "week" ? billing::DebtPeriod::week : billing::DebtPeriod::month;
      r.operator_name = operator_of(ctx);
      r.time = now();
      auto& db = ctx.db();
      storage::Transaction tx(db);
      auto d = billing::add_debt(db, ctx.config(), r);
      ctx.audit_now();
      tx.commit();
      if (ctx.format() == output::Format::table && !ctx.quiet)
        ctx.out() << "recorded debt " << d.id << " of " << ctx.money(d.amount) << " on account " << d.account << "\n";
      else if (ctx.quiet) ctx.out() << d.id << "\n";
      else print_debts(ctx, {d});
      return 0;
    };
  });
  auto* debt_list = debt->add_subcommand("list", "list the debts not yet recovered (of one account, or all)");
  debt_list->add_option("id", dop->id, "the account ID (default: every account)")->type_name("ID");
  debt_list->add_flag("--all", dop->all, "also debts already recovered");
  debt_list->callback([&ctx, dop, print_debts] {
    ctx.action = [&ctx, dop, print_debts] {
      print_debts(ctx, billing::list_debts(ctx.db(), dop->id, !dop->all));
      return 0;
    };
  });

  // close
  struct CloseOptions {
    std::string id;
    bool refund = false;
  };
  auto co = std::make_shared<CloseOptions>();
  auto* close = group->add_subcommand("close", "close an account (needs a zero balance, or --refund)");
  close->add_option("id", co->id, "the account ID")->required()->type_name("ID");
  close->add_flag("--refund", co->refund, "refund a positive balance first");
  close->callback([&ctx, co] {
    ctx.action = [&ctx, co] {
      auto& db = ctx.db();
      auto res = billing::close_account(db, ctx.config(), co->id, co->refund, operator_of(ctx), now());
      if (ctx.format() == output::Format::json) {
        auto o = account_json(ctx, billing::find_account(db, co->id));
        o.set("refund", res.refund ? output::Json(res.refund->amount.format(ctx.minor_units())) : output::Json());
        o.set("receipt", res.refund ? output::Json(res.refund->receipt) : output::Json());
        ctx.print(o);
      } else if (!ctx.quiet) {
        ctx.out() << "closed account " << co->id;
        if (res.refund)
          ctx.out() << "; refunded " << res.refund->amount.format(ctx.minor_units()) << " on receipt "
                    << res.refund->receipt;
        ctx.out() << "\n";
      }
      return 0;
    };
  });
}

} // namespace kwh::cli
