#pragma once
// A temporary site database for the site tests: migrated, with a profile file of its own so
// that the tests do not depend on the built-in register maps.

#include "temp_dir.hpp"

#include <kwh/storage/database.hpp>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

namespace kwh::test {

inline const char* k_site_profile = R"toml(
name = "test-em"
kind = "electricity"
word_order = "big"

[values.energy_total]
table = "holding"
address = 0x0000
type = "u32"
scale = 10

[values.power_total]
table = "holding"
address = 0x000D
type = "i16"
scale = 1

[relay]
table = "holding"
address = 0x0057
on = [0x0001, 0x0000]
off = [0x0001, 0x0001]
)toml";

struct SiteDb {
  TempDir dir;
  std::unique_ptr<storage::Database> db;
  std::string profile_path;
  std::vector<std::string> folders;

  SiteDb() {
    db = storage::Database::open(dir.file("kwh.db"), storage::OpenMode::create);
    storage::migrate(*db);
    profile_path = dir.file("test-em.toml");
    write(profile_path, k_site_profile);
    folders = {dir.path().string()};
  }

  static void write(const std::string& path, const std::string& text) {
    std::ofstream f(path);
    f << text;
  }

  std::int64_t count(const std::string& sql) {
    auto st = db->prepare(sql);
    st.step();
    return st.get_int(0);
  }
};

} // namespace kwh::test
