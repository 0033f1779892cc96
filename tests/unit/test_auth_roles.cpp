#include <doctest/doctest.h>

#include "temp_dir.hpp"

#include <kwh/auth/commands.hpp>
#include <kwh/auth/file_mode.hpp>
#include <kwh/auth/operators.hpp>
#include <kwh/storage/database.hpp>

#include <sys/stat.h>

#include <cstdio>
#include <functional>
#include <string>

using namespace kwh;
using namespace kwh::auth;

namespace {

std::unique_ptr<storage::Database> fresh_db(const test::TempDir& d) {
  auto db = storage::Database::open(d.file("kwh.db"), storage::OpenMode::create);
  storage::migrate(*db);
  return db;
}

Exit code_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.code();
  }
  return Exit::ok;
}

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

} // namespace

TEST_CASE("Roles: names parse back and order viewer < cashier < admin") {
  for (Role r : {Role::viewer, Role::cashier, Role::admin}) CHECK(parse_role(role_name(r)) == r);
  CHECK_FALSE(parse_role("root").has_value());
  CHECK_FALSE(parse_role("Admin").has_value());
  CHECK(allows(Role::admin, Role::cashier));
  CHECK(allows(Role::cashier, Role::cashier));
  CHECK_FALSE(allows(Role::viewer, Role::cashier));
  CHECK_FALSE(allows(Role::cashier, Role::admin));
}

TEST_CASE("Roles: the command table gives each command its role") {
  CHECK(command_rule("sell").needs == Role::cashier);
  CHECK(command_rule("refund").needs == Role::cashier);
  CHECK(command_rule("relay off").needs == Role::cashier);
  CHECK(command_rule("relay on").needs == Role::cashier);
  CHECK(command_rule("relay auto").needs == Role::cashier);
  CHECK(command_rule("gateway add").needs == Role::admin);
  CHECK(command_rule("operator add").needs == Role::admin);
  CHECK(command_rule("operator list").needs == Role::viewer);
  CHECK(command_rule("account show").needs == Role::viewer);
  CHECK(command_rule("meter read").needs == Role::viewer);
  CHECK(command_rule("log").needs == Role::viewer);
  CHECK(command_rule("check").needs == Role::viewer);
  // Changes are audited, reads are not.
  CHECK(command_rule("sell").changes);
  CHECK(command_rule("operator remove").changes);
  CHECK_FALSE(command_rule("report sales").changes);
  CHECK_FALSE(command_rule("log").changes);
  // kwh sim opens no database: no role check, no audit.
  CHECK_FALSE(command_rule("sim").uses_database);
  CHECK(command_rule("init").uses_database);
}

TEST_CASE("Roles: a command under a group inherits the group's rule; unknown commands need admin") {
  CHECK(command_rule("report sales").needs == Role::viewer);
  CHECK(command_rule("report statement").needs == Role::viewer);
  auto unknown = command_rule("frobnicate");
  CHECK(unknown.needs == Role::admin);
  CHECK(unknown.changes);
  CHECK(unknown.uses_database);
  // "gateway" has no group entry, so a new gateway command is admin until someone lists it.
  CHECK(command_rule("gateway rename").needs == Role::admin);
  // Every listed path is unique.
  const auto& rules = command_rules();
  for (std::size_t i = 0; i < rules.size(); ++i)
    for (std::size_t j = i + 1; j < rules.size(); ++j) CHECK(rules[i].path != rules[j].path);
}

TEST_CASE("Operators: without operators anyone who opens the database is admin") {
  test::TempDir d;
  auto db = fresh_db(d);
  CHECK_FALSE(has_operators(*db));
  auto op = authorize(*db, "stranger", Role::admin, "'kwh operator add'");
  CHECK(op.name == "stranger");
  CHECK(op.role == Role::admin);
}

TEST_CASE("Operators: an unknown user and a role too low are refused with 77, naming the role") {
  test::TempDir d;
  auto db = fresh_db(d);
  add_operator(*db, "root", Role::admin, 1);
  add_operator(*db, "alice", Role::viewer, 2);
  add_operator(*db, "bob", Role::cashier, 3);

  CHECK(authorize(*db, "alice", Role::viewer, "'kwh log'").role == Role::viewer);
  CHECK(authorize(*db, "bob", Role::cashier, "'kwh sell'").role == Role::cashier);
  CHECK(authorize(*db, "root", Role::admin, "'kwh gateway add'").role == Role::admin);

  CHECK(code_of([&] { authorize(*db, "alice", Role::cashier, "'kwh sell'"); }) == Exit::no_perm);
  CHECK(message_of([&] { authorize(*db, "alice", Role::cashier, "'kwh sell'"); }) ==
        "'kwh sell' needs the cashier role; alice is a viewer");
  CHECK(message_of([&] { authorize(*db, "bob", Role::admin, "'kwh operator add'"); }) ==
        "'kwh operator add' needs the admin role; bob is a cashier");
  CHECK(code_of([&] { authorize(*db, "mallory", Role::viewer, "'kwh log'"); }) == Exit::no_perm);
  CHECK(message_of([&] { authorize(*db, "mallory", Role::viewer, "'kwh log'"); }).find("mallory is not a kwh operator") == 0);
}

TEST_CASE("Operators: the first operator must be an admin, names are login names, no duplicates") {
  test::TempDir d;
  auto db = fresh_db(d);
  CHECK(code_of([&] { add_operator(*db, "alice", Role::viewer, 1); }) == Exit::data);
  CHECK_FALSE(has_operators(*db));
  CHECK(code_of([&] { add_operator(*db, "bad name", Role::admin, 1); }) == Exit::data);
  CHECK(code_of([&] { add_operator(*db, "-rf", Role::admin, 1); }) == Exit::data);
  CHECK(code_of([&] { add_operator(*db, "", Role::admin, 1); }) == Exit::data);
  add_operator(*db, "root", Role::admin, 1);
  add_operator(*db, "alice", Role::viewer, 2);
  CHECK(code_of([&] { add_operator(*db, "alice", Role::admin, 3); }) == Exit::data);
  auto all = list_operators(*db);
  REQUIRE(all.size() == 2);
  CHECK(all[0].name == "alice");
  CHECK(all[0].role == Role::viewer);
  CHECK(all[0].created == 2);
  CHECK(all[1].name == "root");
}

TEST_CASE("Operators: the last admin cannot be removed while others remain; the only one can") {
  test::TempDir d;
  auto db = fresh_db(d);
  add_operator(*db, "root", Role::admin, 1);
  add_operator(*db, "alice", Role::cashier, 2);
  CHECK(code_of([&] { remove_operator(*db, "root"); }) == Exit::data);
  CHECK(find_operator(*db, "root").has_value());
  CHECK(code_of([&] { remove_operator(*db, "nobody"); }) == Exit::no_input);

  add_operator(*db, "carol", Role::admin, 3);
  remove_operator(*db, "root");
  CHECK_FALSE(find_operator(*db, "root").has_value());
  remove_operator(*db, "alice");
  // carol is the only operator left: removing her returns the site to "no operators".
  remove_operator(*db, "carol");
  CHECK_FALSE(has_operators(*db));
}

TEST_CASE("File modes: a world-writable file is refused with the fix named; a missing one is not") {
  test::TempDir d;
  std::string path = d.file("kwh.toml");
  CHECK(code_of([&] { refuse_world_writable(path, Exit::config); }) == Exit::ok);
  { std::FILE* f = std::fopen(path.c_str(), "w"); std::fclose(f); }
  ::chmod(path.c_str(), 0644);
  CHECK(code_of([&] { refuse_world_writable(path, Exit::config); }) == Exit::ok);
  ::chmod(path.c_str(), 0666);
  CHECK(code_of([&] { refuse_world_writable(path, Exit::config); }) == Exit::config);
  CHECK(message_of([&] { refuse_world_writable(path, Exit::config); }) ==
        path + " is world-writable; fix with chmod o-w " + path);
}

TEST_CASE("File modes: a world-writable database is not opened") {
  test::TempDir d;
  { auto db = fresh_db(d); }
  ::chmod(d.file("kwh.db").c_str(), 0666);
  CHECK(code_of([&] { storage::Database::open(d.file("kwh.db")); }) == Exit::failed);
  CHECK(message_of([&] { storage::Database::open(d.file("kwh.db")); }).find("world-writable") != std::string::npos);
}

TEST_CASE("File modes: a new database gets mode 0660, its folder 0770 or 2770") {
  test::TempDir d;
  std::string folder = d.file("site");
  ::mkdir(folder.c_str(), 0755);
  secure_new_folder(folder);
  std::string path = folder + "/kwh.db";
  { auto db = storage::Database::open(path, storage::OpenMode::create); storage::migrate(*db); secure_database_files(path); }
  struct stat st {};
  REQUIRE(::stat(folder.c_str(), &st) == 0);
  CHECK(((st.st_mode & 07777) == 0770 || (st.st_mode & 07777) == 02770));
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0660);
}
