// Atomic bundle file writes on POSIX: O_EXCL temp file, write, fsync, rename.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <random>
#include <string>

#include "shim/bundle_files.hpp"

namespace runhcs::shim {
namespace {

error os_error(std::string_view what, const std::filesystem::path& path) {
  std::error_code code(errno, std::generic_category());
  return {code, std::string(what) + " " + path.string() + ": " + code.message()};
}

// A name no other writer uses: the target's name, our pid and a random suffix.
std::filesystem::path temp_path_for(const std::filesystem::path& path) {
  std::random_device random;
  return path.parent_path() / ("." + path.filename().string() + "." + std::to_string(::getpid()) +
                               "." + std::to_string(random()) + ".tmp");
}

}  // namespace

result<void> write_file_atomic(const std::filesystem::path& path, std::string_view content) {
  auto temp = temp_path_for(path);
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    return os_error("open", temp);
  }
  auto fail = [&](std::string_view what, const std::filesystem::path& subject) {
    error e = os_error(what, subject);
    if (fd >= 0) {
      ::close(fd);
    }
    ::unlink(temp.c_str());
    return e;
  };
  // The umask must not narrow the mode containerd expects.
  if (::fchmod(fd, 0644) != 0) {
    return fail("chmod", temp);
  }
  std::size_t written = 0;
  while (written < content.size()) {
    ssize_t n = ::write(fd, content.data() + written, content.size() - written);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return fail("write", temp);
    }
    written += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    return fail("sync", temp);
  }
  int closed = ::close(fd);
  fd = -1;
  if (closed != 0) {
    return fail("close", temp);
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    return fail("rename", path);
  }
  return {};
}

}  // namespace runhcs::shim
