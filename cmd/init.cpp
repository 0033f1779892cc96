// kwh init: create or migrate the database. Safe to run again.

#include "context.hpp"

#include <kwh/auth/file_mode.hpp>
#include <kwh/readings/maintenance.hpp>
#include <kwh/storage/database.hpp>
#include <kwh/util/time.hpp>
#include <kwh/web/link.hpp>

#include <filesystem>

#include <sys/stat.h>

namespace kwh::cli {

void add_init(CLI::App& app, Context& ctx) {
  auto* sub = app.add_subcommand("init", "create or migrate the database");
  sub->callback([&ctx] {
    ctx.action = [&ctx] {
      namespace fs = std::filesystem;
      const std::string path = ctx.database_path();
      fs::path folder = fs::path(path).parent_path();
      std::error_code ec;
      if (!folder.empty() && !fs::exists(folder, ec)) {
        fs::create_directories(folder, ec);
        if (ec) fail(Exit::failed, "cannot create database folder {}: {}", folder.string(), ec.message());
        auth::secure_new_folder(folder.string());
      }
      bool existed = fs::exists(path, ec);
      // Files SQLite creates for a new database (it, -wal, -shm) are never readable by others,
      // not even for a moment; secure_database_files() then sets group kwh and mode 0660.
      struct RestoreUmask {
        mode_t mask;
        ~RestoreUmask() { ::umask(mask); }
      } restore{::umask(007)};
      auto db = storage::Database::open(path, storage::OpenMode::create);
      if (!existed) auth::secure_database_files(path);
      int before = db->user_version();
      // Version 4 moves the readings of version 3 into blocks, in its own transaction.
      int applied = storage::migrate(*db, std::nullopt, {{4, [](storage::Database& d) { readings::adopt_rows(d); }}});
      storage::check_minor_units(*db, ctx.minor_units());
      {
        // The decimals of money are fixed when the database is made: amounts already stored
        // would change their meaning otherwise.
        storage::Transaction tx(*db);
        db->prepare("INSERT OR IGNORE INTO settings(key, value) VALUES ('minor_units', ?1), ('created', ?2)")
            .bind_all(std::to_string(ctx.minor_units()), format_time(now()))
            .run();
        tx.commit();
      }
      if (!existed) auth::secure_database_files(path); // the -wal and -shm files exist by now
      // The key of kwh serve's login links (mode 0600). The database is made either way; a key
      // that cannot be made now is made on first use, or that use says why not.
      try {
        web::load_or_create_secret(config::resolve_secret_path(ctx.config(), path), path);
      } catch (const Error& e) {
        std::cerr << "kwh: warning: " << e.what() << "\n";
      }
      int after = db->user_version();
      // A database that is already current is left as it was, and the audit says nothing.
      if (existed && applied == 0) ctx.audit_written = true;
      output::Json o = output::Json::object();
      o.set("database", path);
      o.set("created", !existed);
      o.set("schema_version", after);
      o.set("migrations_applied", applied);
      if (ctx.format() == output::Format::json) {
        ctx.print(o);
      } else if (!ctx.quiet) {
        if (!existed) ctx.out() << "created " << path << " (schema version " << after << ")\n";
        else if (applied) ctx.out() << "migrated " << path << " from schema version " << before << " to " << after << "\n";
        else ctx.out() << path << " is up to date (schema version " << after << ")\n";
      }
      return 0;
    };
  });
}

} // namespace kwh::cli
