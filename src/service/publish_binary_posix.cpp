// The old way of publishing an event: run containerd's own binary as `publish`, the event on
// its stdin. Used only when TTRPC_ADDRESS cannot be reached.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <cstring>
#include <vector>

#include "backend/reaper.hpp"
#include "common/deadline.hpp"
#include "service/events.hpp"

namespace runhcs::service {

boost::asio::awaitable<std::string> run_publish_binary(const publisher_options& options,
                                                       std::string topic, std::string any_bytes) {
  namespace asio = boost::asio;
  if (options.publish_binary.empty()) {
    co_return std::string("no publish binary");
  }
  std::vector<std::string> args = {
      options.publish_binary, "--address", options.containerd_address, "publish", "--topic", topic,
      "--namespace",          options.ns};
  std::vector<char*> argv;
  for (auto& a : args) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);
  // The event is small; a pipe holds 64 KiB, so it is written whole before the child runs.
  if (any_bytes.size() > 60 * 1024) {
    co_return std::string("event too large for the publish binary");
  }
  int in[2];
  if (::pipe2(in, O_CLOEXEC) < 0) {
    co_return fmt::format("pipe: {}", std::strerror(errno));
  }
  std::size_t written = 0;
  while (written < any_bytes.size()) {
    ssize_t n = ::write(in[1], any_bytes.data() + written, any_bytes.size() - written);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      break;
    }
    written += static_cast<std::size_t>(n);
  }
  ::close(in[1]);
  int null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  auto executor = co_await asio::this_coro::executor;
  auto the_reaper = backend::reaper::instance(executor);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(in[0], 0);
    ::dup2(null_fd, 1);
    ::dup2(null_fd, 2);
    ::signal(SIGPIPE, SIG_DFL);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  int fork_errno = errno;
  ::close(in[0]);
  ::close(null_fd);
  if (pid < 0) {
    co_return fmt::format("fork: {}", std::strerror(fork_errno));
  }
  auto status = std::make_shared<std::optional<int>>();
  auto done = std::make_shared<asio::steady_timer>(executor, asio::steady_timer::time_point::max());
  the_reaper->expect(pid, [status, done](int wait_status) {
    *status = wait_status;
    done->cancel();
  });
  asio::steady_timer limit(executor, steady_clock::now() + options.binary_timeout);
  limit.async_wait([done](boost::system::error_code ec) {
    if (!ec) {
      done->cancel();
    }
  });
  if (!*status) {
    co_await done->async_wait(asio::as_tuple(asio::use_awaitable));
  }
  limit.cancel();
  if (!*status) {
    ::kill(pid, SIGKILL);  // the reaper still collects it
    co_return fmt::format("{} publish timed out after {}ms", options.publish_binary,
                          options.binary_timeout.count());
  }
  int s = **status;
  if (WIFEXITED(s) && WEXITSTATUS(s) == 0) {
    co_return std::string{};
  }
  co_return fmt::format("{} publish failed: {}", options.publish_binary,
                        WIFEXITED(s) ? fmt::format("exit status {}", WEXITSTATUS(s))
                                     : fmt::format("signal {}", WTERMSIG(s)));
}

}  // namespace runhcs::service
