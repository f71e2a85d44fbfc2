// Reading stdin on POSIX: pipes and sockets asynchronously with a deadline; regular files
// and the null device synchronously (they cannot block); terminals not at all.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "common/duration.hpp"
#include "shim/runtime_options.hpp"

namespace runhcs::shim {
namespace asio = boost::asio;

namespace {

error too_large() {
  return {errc::invalid_argument, "runtime options on stdin are larger than " +
                                      std::to_string(max_runtime_options_size) + " bytes"};
}

// Points fd 0 at /dev/null so that the writer's end is released.
void close_stdin() {
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_fd >= 0) {
    ::dup2(null_fd, 0);
    ::close(null_fd);
  }
}

result<std::string> read_blocking(int fd) {
  std::string data;
  char buffer[4096];
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      std::error_code ec(errno, std::generic_category());
      return error{ec, "read stdin: " + ec.message()};
    }
    if (n == 0) {
      return data;
    }
    data.append(buffer, static_cast<std::size_t>(n));
    if (data.size() > max_runtime_options_size) {
      return too_large();
    }
  }
}

asio::awaitable<result<std::string>> read_async(int fd, deadline until) {
  asio::posix::stream_descriptor in(co_await asio::this_coro::executor, fd);
  in.non_blocking(true);
  std::string data;
  auto read_all = [&]() -> asio::awaitable<result<std::string>> {
    char buffer[4096];
    for (;;) {
      auto [ec, n] =
          co_await in.async_read_some(asio::buffer(buffer), asio::as_tuple(asio::use_awaitable));
      data.append(buffer, n);
      if (data.size() > max_runtime_options_size) {
        co_return too_large();
      }
      if (ec == asio::error::eof) {
        co_return data;
      }
      if (ec) {
        co_return error{ec, "read stdin: " + ec.message()};
      }
    }
  };
  auto outcome = co_await with_deadline(read_all(), until);
  in.release();  // fd is a duplicate we close ourselves
  if (!outcome) {
    co_return error{errc::stdin_timeout, "timed out reading runtime options from stdin"};
  }
  co_return std::move(*outcome);
}

}  // namespace

asio::awaitable<result<std::string>> read_runtime_options(deadline until) {
  struct stat st {};
  if (::fstat(0, &st) != 0) {
    co_return std::string{};  // no stdin at all: defaults
  }
  result<std::string> data = std::string{};
  if (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)) {
    int fd = ::fcntl(0, F_DUPFD_CLOEXEC, 3);
    if (fd < 0) {
      std::error_code ec(errno, std::generic_category());
      co_return error{ec, "read stdin: " + ec.message()};
    }
    data = co_await read_async(fd, until);
    ::close(fd);
  } else if (!::isatty(0)) {
    data = read_blocking(0);
  }
  close_stdin();
  co_return data;
}

}  // namespace runhcs::shim
