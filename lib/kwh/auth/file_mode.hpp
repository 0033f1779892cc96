#pragma once
// File permissions of the configuration and the database. Roles are only as strong as these:
// whoever can write the database file can change it with sqlite3 (the audit chain then shows
// it, see audit/log.hpp), and whoever can write the configuration can point kwh elsewhere.
//
// The intended set-up: a system group `kwh`; the database folder 2770 and the database (and its
// -wal and -shm files) 0660, owned by that group; operators are members of the group.

#include <kwh/util/error.hpp>

#include <string>

namespace kwh::auth {

// The name of the group that owns kwh's files when it exists.
inline constexpr const char* k_group = "kwh";

// Throws Error(code) with one line, e.g. "/etc/kwh/kwh.toml is world-writable; fix with
// chmod o-w /etc/kwh/kwh.toml", when `path` exists and anyone may write it. A missing file is
// not an error here.
void refuse_world_writable(const std::string& path, Exit code);

// For `kwh init`: a folder it has just created gets mode 2770 (0770 when there is no kwh
// group), group kwh when that group exists.
void secure_new_folder(const std::string& folder);
// For `kwh init`: the database file gets mode 0660 and group kwh when that group exists; its
// -wal and -shm files, where they exist, get the same group and mode. Failures to change the
// group (not permitted for this user) are ignored: the mode still keeps others out.
void secure_database_files(const std::string& path);

} // namespace kwh::auth
