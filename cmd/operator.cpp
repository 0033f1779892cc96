// kwh operator: manage operators and their roles. Also the check every command goes through
// before it runs (the operator's role) and the audit entry written after a change.

#include "context.hpp"

#include <kwh/audit/log.hpp>
#include <kwh/auth/commands.hpp>
#include <kwh/auth/file_mode.hpp>
#include <kwh/auth/operators.hpp>
#include <kwh/util/time.hpp>

#include <filesystem>

namespace kwh::cli {

ChosenCommand chosen_command(const CLI::App& app) {
  ChosenCommand chosen;
  const CLI::App* leaf = &app;
  for (auto subs = leaf->get_subcommands(); !subs.empty(); subs = leaf->get_subcommands()) {
    leaf = subs.front();
    if (!chosen.path.empty()) chosen.path += ' ';
    chosen.path += leaf->get_name();
  }
  for (const CLI::Option* opt : leaf->get_options()) {
    if (!opt->get_positional() || opt->count() == 0) continue;
    for (const auto& value : opt->results()) {
      if (!chosen.subject.empty()) chosen.subject += ' ';
      chosen.subject += value;
    }
  }
  return chosen;
}

void authorize(Context& ctx, const ChosenCommand& chosen) {
  ctx.command_path = chosen.path;
  ctx.command_subject = chosen.subject;
  if (auto config_path = config::resolve_config_path(ctx.config_option))
    auth::refuse_world_writable(*config_path, Exit::config);
  ctx.operator_name = auth::current_login();
  const auth::CommandRule rule = auth::command_rule(chosen.path);
  if (!rule.uses_database) return;
  const std::string what = "'kwh " + chosen.path + "'";
  if (chosen.path == "init") {
    // How a site starts: a new database, or one without operators, may be set up by anyone
    // who can write it. Once there are operators, only an admin may migrate it.
    const std::string path = ctx.database_path();
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) return;
    auto db = storage::Database::open(path, storage::OpenMode::existing);
    if (db->user_version() < 1) return;
    ctx.operator_name = auth::authorize(*db, ctx.operator_name, rule.needs, what).name;
    return;
  }
  ctx.operator_name = auth::authorize(ctx.db(), ctx.operator_name, rule.needs, what).name;
}

namespace {

audit::Entry audit_entry(const Context& ctx) {
  audit::Entry entry;
  entry.time = now();
  entry.operator_name = ctx.operator_name;
  entry.action = ctx.command_path;
  if (!ctx.command_subject.empty()) entry.subject = ctx.command_subject;
  entry.command = ctx.command_line;
  return entry;
}

} // namespace

void Context::audit_now(std::optional<std::string> detail) {
  audit::Entry entry = audit_entry(*this);
  entry.detail = std::move(detail);
  audit::append(db(), entry);
  audit_written = true;
}

void record_audit(Context& ctx, const ChosenCommand& chosen) {
  const auth::CommandRule rule = auth::command_rule(chosen.path);
  if (!rule.changes || !rule.uses_database || ctx.audit_written) return;
  try {
    audit::append(ctx.db(), audit_entry(ctx));
  } catch (const Error& e) {
    fail(e.code(), "'kwh {}' was done, but its audit entry could not be written: {}", chosen.path, e.what());
  }
}

namespace {

output::Json operator_json(const auth::Operator& op) {
  return output::Json::object()
      .set("name", op.name)
      .set("role", std::string(auth::role_name(op.role)))
      .set("created", format_time(op.created));
}

void add_operator_add(CLI::App& group, Context& ctx) {
  auto* sub = group.add_subcommand("add", "add an operator (a login name) with a role");
  auto name = std::make_shared<std::string>();
  auto role = std::make_shared<std::string>();
  sub->add_option("NAME", *name, "the operator's login name")->required();
  sub->add_option("--role", *role, "admin, cashier or viewer")
      ->required()
      ->type_name("ROLE")
      ->check(CLI::IsMember({"admin", "cashier", "viewer"}));
  sub->callback([&ctx, name, role] {
    ctx.action = [&ctx, name, role] {
      auto& db = ctx.db();
      storage::Transaction tx(db);
      bool first = !auth::has_operators(db);
      auto op = auth::add_operator(db, *name, *auth::parse_role(*role), now());
      tx.commit();
      if (ctx.format() == output::Format::json) {
        ctx.print(operator_json(op));
      } else if (!ctx.quiet) {
        ctx.out() << "added " << op.name << " as " << auth::role_name(op.role) << '\n';
      }
      if (first && op.name != ctx.operator_name)
        std::cerr << "kwh: note: " << ctx.operator_name << " is not an operator; from now on only operators can use "
                  << db.path() << '\n';
      return 0;
    };
  });
}

void add_operator_list(CLI::App& group, Context& ctx) {
  auto* sub = group.add_subcommand("list", "list the operators and their roles");
  sub->callback([&ctx] {
    ctx.action = [&ctx] {
      output::Table t;
      t.columns = {{"name"}, {"role"}, {"created", output::Kind::time}};
      for (const auto& op : auth::list_operators(ctx.db()))
        t.add({op.name, std::string(auth::role_name(op.role)), format_time(op.created)});
      ctx.print(t);
      return 0;
    };
  });
}

void add_operator_remove(CLI::App& group, Context& ctx) {
  auto* sub = group.add_subcommand("remove", "remove an operator");
  auto name = std::make_shared<std::string>();
  sub->add_option("NAME", *name, "the operator's login name")->required();
  sub->callback([&ctx, name] {
    ctx.action = [&ctx, name] {
      auto& db = ctx.db();
      storage::Transaction tx(db);
      auth::remove_operator(db, *name);
      tx.commit();
      if (ctx.format() == output::Format::json) ctx.print(output::Json::object().set("removed", *name));
      else if (!ctx.quiet) ctx.out() << "removed " << *name << '\n';
      return 0;
    };
  });
}

} // namespace

void add_operator(CLI::App& app, Context& ctx) {
  auto* group = app.add_subcommand("operator", "manage operators and their roles");
  group->require_subcommand(1);
  add_operator_add(*group, ctx);
  add_operator_list(*group, ctx);
  add_operator_remove(*group, ctx);
}

} // namespace kwh::cli
