#include <kwh/output/file.hpp>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace kwh::output {

// A buffer in front of OutputFile::write, so that a report streamed row by row makes few
// system calls. A failed write throws out of the stream (badbit is in its exceptions), so a
// long report stops at the first error instead of running on into a bad stream.
struct OutputFile::Stream : std::streambuf {
  explicit Stream(OutputFile& file) : m_file(file), m_out(this) {
    setp(m_buf.data(), m_buf.data() + m_buf.size());
    m_out.exceptions(std::ios::badbit);
  }
  int_type overflow(int_type c) override {
    drain();
    if (!traits_type::eq_int_type(c, traits_type::eof())) {
      *pptr() = traits_type::to_char_type(c);
      pbump(1);
    }
    return traits_type::not_eof(c);
  }
  int sync() override {
    drain();
    return 0;
  }
  void drain() {
    std::string_view pending(pbase(), static_cast<std::size_t>(pptr() - pbase()));
    setp(m_buf.data(), m_buf.data() + m_buf.size());
    m_file.write(pending);
  }

  OutputFile& m_file;
  std::array<char, 64 * 1024> m_buf{};
  std::ostream m_out;
};

OutputFile::OutputFile(std::string path, std::string what) : m_path(std::move(path)), m_what(std::move(what)) {
  struct stat st{};
  const bool exists = ::lstat(m_path.c_str(), &st) == 0;
  if (!exists && errno != ENOENT) fail_with(Exit::failed, std::strerror(errno));
  if (exists && S_ISLNK(st.st_mode))
    fail_with(Exit::data, "it is a symbolic link, which kwh does not follow; name the file itself");
  if (exists && S_ISDIR(st.st_mode)) fail_with(Exit::data, "it is a folder");

  if (exists && !S_ISREG(st.st_mode)) {
    // A device or a FIFO: opened as it is, without O_CREAT or O_TRUNC, and O_NOFOLLOW in case a
    // link was put in its place since lstat.
    m_fd = ::open(m_path.c_str(), O_WRONLY | O_NOCTTY | O_NOFOLLOW | O_CLOEXEC);
    if (m_fd < 0) fail_with(errno == ELOOP ? Exit::data : Exit::failed, std::strerror(errno));
    struct stat now{};
    if (::fstat(m_fd, &now) != 0 || now.st_dev != st.st_dev || now.st_ino != st.st_ino)
      fail_with(Exit::failed, "it was replaced while it was being opened");
    m_opened = true;
    return;
  }

  // A file, or nothing yet: a new file beside it. mkostemp creates it with O_EXCL, so it never
  // follows a link either.
  m_tmp = m_path + ".XXXXXX";
  m_fd = ::mkostemp(m_tmp.data(), O_CLOEXEC);
  if (m_fd < 0) {
    int err = errno;
    m_tmp.clear();
    fail_with(Exit::failed, std::strerror(err));
  }
  if (exists) {
    // Keep the owner where we may (root rewriting a user's report), then the mode.
    struct stat own{};
    if (::fstat(m_fd, &own) == 0 && (own.st_uid != st.st_uid || own.st_gid != st.st_gid) &&
        ::fchown(m_fd, st.st_uid, st.st_gid) != 0)
      (void)::fchown(m_fd, static_cast<uid_t>(-1), st.st_gid);
    ::fchmod(m_fd, st.st_mode & 07777);
  } else {
    mode_t mask = ::umask(0);
    ::umask(mask);
    ::fchmod(m_fd, 0666 & ~mask); // as an ordinary new file would be, not mkstemp's 0600
  }
  m_opened = true;
}

OutputFile::~OutputFile() {
  if (!m_finished) discard();
}

void OutputFile::discard() noexcept {
  if (m_fd >= 0) ::close(m_fd);
  m_fd = -1;
  if (!m_tmp.empty()) ::unlink(m_tmp.c_str());
  m_tmp.clear();
}

void OutputFile::fail_with(Exit code, const std::string& why) {
  // What became of FILE: untouched before it was opened, as it was when a new file was to
  // replace it; a device or FIFO may have had part of it.
  const char* outcome = !m_opened ? "; nothing written" : !m_tmp.empty() ? "; the file is left as it was" : "";
  discard();
  m_finished = true;
  throw Error(code, fmt::format("cannot write {}{}: {}{}", m_what, m_path, why, outcome));
}

void OutputFile::write(std::string_view bytes) {
  if (m_fd < 0) fail_with(Exit::failed, "it is closed");
  while (!bytes.empty()) {
    ssize_t n = ::write(m_fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail_with(Exit::failed, std::strerror(errno));
    if (n == 0) fail_with(Exit::failed, "nothing could be written");
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

std::ostream& OutputFile::stream() {
  if (!m_stream) m_stream = std::make_unique<Stream>(*this);
  return m_stream->m_out;
}

void OutputFile::commit() {
  if (m_stream) m_stream->m_out.flush();
  if (m_fd < 0) fail_with(Exit::failed, "it is closed");
  if (!m_tmp.empty() && ::fsync(m_fd) != 0) fail_with(Exit::failed, std::strerror(errno));
  int fd = m_fd;
  m_fd = -1;
  if (::close(fd) != 0) fail_with(Exit::failed, std::strerror(errno));
  if (!m_tmp.empty()) {
    // Refuse what was put in FILE's place since the constructor looked: rename would replace a
    // link (not its target) or a device node.
    struct stat st{};
    if (::lstat(m_path.c_str(), &st) == 0 && !S_ISREG(st.st_mode))
      fail_with(Exit::data, "it was replaced by something other than a file while it was written");
    if (std::rename(m_tmp.c_str(), m_path.c_str()) != 0) fail_with(Exit::failed, std::strerror(errno));
  }
  m_tmp.clear();
  m_finished = true;
}

void write_file(const std::string& path, const std::function<void(std::ostream&)>& write) {
  OutputFile file(path);
  write(file.stream());
  file.commit();
}

} // namespace kwh::output
