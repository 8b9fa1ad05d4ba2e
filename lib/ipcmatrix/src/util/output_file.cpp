#include "ipcmatrix/util/output_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>
#include <stdexcept>
#include <utility>

#include "ipcmatrix/util/json_file.hpp"
#include "ipcmatrix/util/text.hpp"

namespace ipcmatrix {

namespace {

namespace fs = std::filesystem;

std::string quoted(const std::string& path) { return "'" + escape_control(path) + "'"; }
std::string errno_text(int e) { return std::strerror(e); }

enum class Target { missing, regular, stream };

/// What `path` is, following a symlink only when `follow` (a path the user typed); throws
/// `Err` for what must be refused. A symlink among the files the tool names itself (inside
/// --out) is refused: a results bundle could carry PERFORMANCE_REPORT.md -> ~/.bashrc.
template <class Err>
Target classify(const std::string& path, bool follow) {
  struct stat lst {};
  if (::lstat(path.c_str(), &lst) != 0) {
    const int e = errno;
    if (e == ENOENT) return Target::missing;
    throw Err("cannot use " + quoted(path) + ": " + errno_text(e));
  }
  if (S_ISLNK(lst.st_mode) && !follow)
    throw Err(quoted(path) + " is a symbolic link: refusing to write through it (remove it, or use another directory)");
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    const int e = errno;
    if (S_ISLNK(lst.st_mode)) throw Err(quoted(path) + " is a dangling symbolic link: refusing to write through it");
    throw Err("cannot use " + quoted(path) + ": " + errno_text(e));
  }
  if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode)) return Target::stream;
  if (S_ISREG(st.st_mode)) return Target::regular;
  if (S_ISDIR(st.st_mode)) throw Err(quoted(path) + " is a directory, not a file");
  throw Err(quoted(path) + " is neither a regular file, a FIFO nor a character device: refusing to write it");
}

std::string random_suffix() {
  std::random_device rd;
  return std::to_string(::getpid()) + "." + std::to_string(rd());
}

/// The directory a new file at `path` goes into (the temporary must live there for rename()).
fs::path parent_of(const fs::path& path) {
  const fs::path parent = path.parent_path();
  return parent.empty() ? fs::path(".") : parent;
}

/// Creates and removes a file in dir: the only proof of writability that holds for root and
/// for read-only or special filesystems alike.
void probe_dir(const fs::path& dir, const std::string& for_what) {
  const fs::path probe = dir / (".ipc-matrix-probe." + random_suffix());
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    const int e = errno;
    throw BadInput("cannot write " + for_what + " in " + quoted(dir.string()) + ": " + errno_text(e));
  }
  ::close(fd);
  ::unlink(probe.c_str());
}

void write_fd(int fd, std::string_view text, const std::string& path) {
  std::size_t off = 0;
  while (off < text.size()) {
    const ssize_t n = ::write(fd, text.data() + off, text.size() - off);
    const int e = errno;
    if (n < 0 && e == EINTR) continue;
    if (n <= 0) throw std::runtime_error("cannot write " + quoted(path) + ": " + (n < 0 ? errno_text(e) : "no progress"));
    off += static_cast<std::size_t>(n);
  }
}

void write_fd(int fd, const TextPieces& pieces, const std::string& path) {
  for (std::string_view piece = pieces(); !piece.empty(); piece = pieces()) write_fd(fd, piece, path);
}

void write_stream(const std::string& path, const TextPieces& text) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    const int e = errno;
    throw std::runtime_error("cannot open " + quoted(path) + " for writing: " + errno_text(e));
  }
  try {
    write_fd(fd, text, path);
  } catch (...) {
    ::close(fd);
    throw;
  }
  if (::close(fd) != 0 && errno != EINTR) {
    const int e = errno;
    throw std::runtime_error("cannot write " + quoted(path) + ": " + errno_text(e));
  }
}

void write_atomically(const fs::path& path, const TextPieces& text) {
  const fs::path tmp = parent_of(path) / ("." + path.filename().string() + ".tmp." + random_suffix());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) {
    const int e = errno;
    throw std::runtime_error("cannot create a temporary file beside " + quoted(path.string()) + ": " + errno_text(e));
  }
  try {
    write_fd(fd, text, path.string());
    const int rc = ::close(fd);
    const int e = errno;
    fd = -1;  // closed whatever close() returned: never close the number twice
    if (rc != 0) throw std::runtime_error("cannot write " + quoted(path.string()) + ": " + errno_text(e));
  } catch (...) {
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = errno_text(errno);
    ::unlink(tmp.c_str());
    throw std::runtime_error("cannot replace " + quoted(path.string()) + ": " + why);
  }
}

}  // namespace

void check_output_file(const std::string& path) {
  if (path.empty() || path == "-") return;
  switch (classify<BadInput>(path, /*follow=*/true)) {
    case Target::stream:
      if (::access(path.c_str(), W_OK) != 0) {
        const int e = errno;
        throw BadInput("cannot write " + quoted(path) + ": " + errno_text(e));
      }
      return;
    case Target::regular:
      probe_dir(parent_of(fs::canonical(path)), quoted(path));
      return;
    case Target::missing: {
      const fs::path dir = parent_of(path);
      std::error_code ec;
      if (!fs::is_directory(dir, ec)) throw BadInput("cannot write " + quoted(path) + ": no directory " + quoted(dir.string()));
      probe_dir(dir, quoted(path));
      return;
    }
  }
}

void prepare_output_dir(const std::string& dir) {
  if (dir.empty()) return;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw BadInput("cannot create the output directory " + quoted(dir) + ": " + ec.message());
  if (!fs::is_directory(dir, ec)) throw BadInput("the output directory " + quoted(dir) + " is not a directory");
  probe_dir(dir, "reports");
}

void write_output_file(const std::string& path, std::string_view text, bool follow_symlink) {
  bool given = false;
  write_output_file(
      path, [&]() { return std::exchange(given, true) ? std::string_view() : text; }, follow_symlink);
}

void write_output_file(const std::string& path, const TextPieces& text, bool follow_symlink) {
  switch (classify<std::runtime_error>(path, follow_symlink)) {
    case Target::stream:
      return write_stream(path, text);
    case Target::regular:
      // Through a symlink: replace the file it points to, keep the link.
      return write_atomically(fs::canonical(path), text);
    case Target::missing:
      return write_atomically(path, text);
  }
}

}  // namespace ipcmatrix
