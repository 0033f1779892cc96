#include <kwh/auth/file_mode.hpp>

#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>

namespace kwh::auth {

namespace {

std::optional<gid_t> kwh_group() {
  if (const group* g = getgrnam(k_group)) return g->gr_gid;
  return std::nullopt;
}

// Sets group and mode; a group that cannot be set (we are not its member) is left alone.
void set_group_and_mode(const std::string& path, mode_t mode, std::optional<gid_t> gid) {
  if (gid) {
    if (::chown(path.c_str(), static_cast<uid_t>(-1), *gid) != 0) {
      // Not permitted: keep the current group.
    }
  }
  if (::chmod(path.c_str(), mode) != 0)
    fail(Exit::failed, "cannot set the mode of {}: {}", path, std::strerror(errno));
}

} // namespace

void refuse_world_writable(const std::string& path, Exit code) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return;
  if (st.st_mode & S_IWOTH) fail(code, "{} is world-writable; fix with chmod o-w {}", path, path);
}

void secure_new_folder(const std::string& folder) {
  auto gid = kwh_group();
  set_group_and_mode(folder, gid ? 02770 : 0770, gid);
}

void secure_database_files(const std::string& path) {
  auto gid = kwh_group();
  set_group_and_mode(path, 0660, gid);
  for (const char* suffix : {"-wal", "-shm"}) {
    std::string extra = path + suffix;
    struct stat st {};
    if (::stat(extra.c_str(), &st) == 0) set_group_and_mode(extra, 0660, gid);
  }
}

} // namespace kwh::auth
