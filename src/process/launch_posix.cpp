// POSIX child launch with posix_spawn: glibc runs it as a CLONE_VFORK clone (no page-table copy,
// exec errors come back as its return value) and does setsid, dup2, chdir and closefrom for us
// in the child. A pidfd (Linux >= 5.3) makes the exit awaitable; without one we poll waitid().
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>
#include <cerrno>
#include <chrono>
#include <string_view>
#include <utility>

#include "process/launch.hpp"
#include "process/launch_posix.hpp"

// posix_spawn_file_actions_addclosefrom_np is what keeps every other fd out of the child.
#if !defined(__GLIBC__) || !__GLIBC_PREREQ(2, 34)
#error "launch_posix.cpp needs glibc 2.34 or later (posix_spawn_file_actions_addclosefrom_np)"
#endif

namespace runhcs::process {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

constexpr std::size_t max_kept_output = 64 * 1024;
// SIGKILL is immediate unless the process sits in an uninterruptible sleep; do not hang then.
constexpr auto reap_after_kill_bound = 2s;
// Polling period for the exit when there is no pidfd: starts short, backs off to the cap.
constexpr auto first_poll = 1ms;
constexpr auto poll_cap = 50ms;

std::atomic<bool> pidfd_disabled{false};

// Go's errno texts are lower case ("no such file or directory"); strerror's start upper case.
std::string errno_text(int err) {
  std::string text = std::generic_category().message(err);
  if (!text.empty() && text[0] >= 'A' && text[0] <= 'Z' &&
      (text.size() < 2 || text[1] < 'A' || text[1] > 'Z')) {
    text[0] = static_cast<char>(text[0] - 'A' + 'a');
  }
  return text;
}

// "<op> <path>: <errno text>", as Go's *PathError words it.
error os_error(int err, std::string_view op, const std::filesystem::path& path) {
  std::string message(op);
  message += ' ';
  message += path.native();
  message += ": ";
  message += errno_text(err);
  return {std::error_code(err, std::system_category()), std::move(message)};
}

error os_error(int err, std::string_view op) {
  return {std::error_code(err, std::system_category()), std::string(op) + ": " + errno_text(err)};
}

class unique_fd {
 public:
  unique_fd() = default;
  explicit unique_fd(int fd) noexcept : fd_(fd) {}
  unique_fd(unique_fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  unique_fd& operator=(unique_fd&& other) noexcept {
    reset(std::exchange(other.fd_, -1));
    return *this;
  }
  ~unique_fd() { reset(); }

  int get() const noexcept { return fd_; }
  int release() noexcept { return std::exchange(fd_, -1); }
  void reset(int fd = -1) noexcept {
    if (fd_ >= 0) {
      ::close(fd_);
    }
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// If one of our fds 0-2 is closed, a new fd can land there and be clobbered by the dup2s that
// set up the child's stdio: move such an fd above 2 (still close-on-exec).
int move_above_stdio(unique_fd& fd) {
  if (fd.get() > STDERR_FILENO) {
    return 0;
  }
  const int moved = ::fcntl(fd.get(), F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
  if (moved < 0) {
    return errno;
  }
  fd.reset(moved);
  return 0;
}

// posix_spawn's attribute and file-action objects, destroyed on every path.
struct spawn_plan {
  posix_spawnattr_t attributes;
  posix_spawn_file_actions_t actions;
  int init_error = 0;

  spawn_plan() {
    init_error = ::posix_spawnattr_init(&attributes);
    if (init_error == 0) {
      init_error = ::posix_spawn_file_actions_init(&actions);
      if (init_error != 0) {
        ::posix_spawnattr_destroy(&attributes);
      }
    }
  }
  ~spawn_plan() {
    if (init_error == 0) {
      ::posix_spawn_file_actions_destroy(&actions);
      ::posix_spawnattr_destroy(&attributes);
    }
  }
  spawn_plan(const spawn_plan&) = delete;
  spawn_plan& operator=(const spawn_plan&) = delete;
};

int prepare(spawn_plan& plan, int stdout_fd, int stderr_fd, const std::filesystem::path& cwd) {
  if (plan.init_error != 0) {
    return plan.init_error;
  }
  // Own session and process group: a signal to start's group does not reach the child, and
  // kill() can take the child's whole group. An empty mask: start's blocked signals stay ours.
  sigset_t no_signals;
  sigemptyset(&no_signals);
  int err =
      ::posix_spawnattr_setflags(&plan.attributes, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK);
  if (err == 0) {
    err = ::posix_spawnattr_setsigmask(&plan.attributes, &no_signals);
  }
  // dup2 clears close-on-exec on fds 1 and 2; stdin (fd 0) is ours as is.
  if (err == 0) {
    err = ::posix_spawn_file_actions_adddup2(&plan.actions, stdout_fd, STDOUT_FILENO);
  }
  if (err == 0) {
    err = ::posix_spawn_file_actions_adddup2(&plan.actions, stderr_fd, STDERR_FILENO);
  }
  if (err == 0 && !cwd.empty()) {
    err = ::posix_spawn_file_actions_addchdir_np(&plan.actions, cwd.c_str());
  }
  // Every fd above 2 goes, whether close-on-exec or not (close_range, or /proc/self/fd on
  // kernels before 5.9: glibc falls back by itself).
  if (err == 0) {
    err = ::posix_spawn_file_actions_addclosefrom_np(&plan.actions, STDERR_FILENO + 1);
  }
  return err;
}

// posix_spawn reports a failed chdir like a failed exec; say which one it was.
std::optional<error> working_directory_error(const std::filesystem::path& cwd) {
  if (cwd.empty()) {
    return std::nullopt;
  }
  struct stat info {};
  if (::stat(cwd.c_str(), &info) != 0) {
    return os_error(errno, "chdir", cwd);
  }
  if (!S_ISDIR(info.st_mode)) {
    return os_error(ENOTDIR, "chdir", cwd);
  }
  if (::access(cwd.c_str(), X_OK) != 0) {
    return os_error(errno, "chdir", cwd);
  }
  return std::nullopt;
}

exit_status from_wait_status(int status) {
  exit_status result;
  if (WIFSIGNALED(status)) {
    result.signal = WTERMSIG(status);
  } else {
    result.code = WEXITSTATUS(status);
  }
  return result;
}

// Reads to EOF, keeping the first max_kept_output bytes. Returns the error that ended it:
// eof, operation_aborted (cancelled), or a read error (which ends the pipe the same way).
asio::awaitable<boost::system::error_code> read_to_end(asio::posix::stream_descriptor& pipe,
                                                       std::string& kept) {
  std::array<char, 16 * 1024> chunk;
  for (;;) {
    auto [ec, n] =
        co_await pipe.async_read_some(asio::buffer(chunk), asio::as_tuple(asio::use_awaitable));
    kept.append(chunk.data(), std::min(n, max_kept_output - kept.size()));
    if (ec) {
      co_return ec;
    }
  }
}

asio::awaitable<boost::system::error_code> wait_readable(asio::posix::stream_descriptor& fd) {
  auto [ec] = co_await fd.async_wait(asio::posix::stream_descriptor::wait_read,
                                     asio::as_tuple(asio::use_awaitable));
  co_return ec;
}

}  // namespace

namespace detail {

void disable_pidfd_for_testing(bool disabled) noexcept {
  pidfd_disabled = disabled;
}

}  // namespace detail

// The child's state. The child is reaped only by kill() (or the destructor): until then the
// zombie keeps its pid, and so its process group id, from being reused, which makes the
// kill(-pid) in kill() safe even after the child has exited.
struct child::impl {
  impl(const asio::any_io_executor& executor, pid_t pid)
      : pid_(pid), stdout_(executor), pidfd_(executor) {}
  ~impl() {
    if (!detached_) {
      kill();
    }
  }
  impl(const impl&) = delete;
  impl& operator=(const impl&) = delete;

  // The exit status if the child has exited, without reaping it.
  std::optional<exit_status> peek() noexcept {
    if (status_ || reaped_) {
      return status_;
    }
    siginfo_t info{};
    int rc = 0;
    do {
      rc = ::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT);
    } while (rc == -1 && errno == EINTR);
    if (rc == -1) {
      // ECHILD: someone else reaped it (SIGCHLD ignored). Its status is lost, and its pid may be
      // reused already, so it must not be signalled any more.
      reaped_ = true;
      status_ = exit_status{.code = -1, .signal = 0};
      return status_;
    }
    if (info.si_pid == 0) {
      return std::nullopt;
    }
    exit_status seen;
    if (info.si_code == CLD_EXITED) {
      seen.code = info.si_status;
    } else {
      seen.signal = info.si_status;
    }
    status_ = seen;
    return status_;
  }

  void kill() noexcept {
    if (reaped_) {
      return;
    }
    // A session leader's process group id is its pid.
    if (::kill(-pid_, SIGKILL) == -1) {
      ::kill(pid_, SIGKILL);
    }
    reap(steady_clock::now() + reap_after_kill_bound);
  }

  // Reaps the child, waiting for it until the bound; past the bound it stays a zombie (init or
  // the subreaper reaps it once we exit).
  void reap(deadline until) noexcept {
    auto pause = std::chrono::microseconds(50);
    for (;;) {
      int status = 0;
      const pid_t rc = ::waitpid(pid_, &status, WNOHANG);
      if (rc == pid_) {
        reaped_ = true;
        if (!status_) {
          status_ = from_wait_status(status);
        }
        return;
      }
      if (rc == -1 && errno == EINTR) {
        continue;
      }
      if (rc == -1) {
        reaped_ = true;
        return;
      }
      const auto now = steady_clock::now();
      if (now >= until) {
        return;
      }
      if (pidfd_.is_open()) {
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(until - now);
        pollfd exited{.fd = pidfd_.native_handle(), .events = POLLIN, .revents = 0};
        ::poll(&exited, 1, static_cast<int>(left.count()));
      } else {
        const auto seconds = std::chrono::floor<std::chrono::seconds>(pause);
        const timespec sleep_for{
            .tv_sec = static_cast<time_t>(seconds.count()),
            .tv_nsec = static_cast<long>(std::chrono::nanoseconds(pause - seconds).count())};
        ::nanosleep(&sleep_for, nullptr);
        pause = std::min<std::chrono::microseconds>(pause * 2, 10ms);
      }
    }
  }

  pid_t pid_;
  asio::posix::stream_descriptor stdout_;  // read end of the child's stdout; closed at EOF
  asio::posix::stream_descriptor pidfd_;   // not open when pidfd_open is unavailable
  std::string output_;                     // what drain_stdout read, up to max_kept_output
  std::optional<exit_status> status_;      // known once the child has exited
  bool reaped_ = false;
  bool detached_ = false;
};

child::child(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
child::child(child&&) noexcept = default;
child& child::operator=(child&&) noexcept = default;
child::~child() = default;

int child::pid() const noexcept {
  return impl_ ? impl_->pid_ : -1;
}

asio::awaitable<drain_outcome> child::drain_stdout(deadline until) {
  impl& state = *impl_;
  if (state.stdout_.is_open()) {
    auto ended = co_await with_deadline(read_to_end(state.stdout_, state.output_), until);
    if (!ended) {
      co_return drain_outcome{drain_outcome::kind::timed_out, state.output_};
    }
    if (*ended == asio::error::operation_aborted) {
      throw boost::system::system_error(*ended, "drain_stdout");
    }
    boost::system::error_code ignored;
    state.stdout_.close(ignored);
  }
  co_return drain_outcome{drain_outcome::kind::eof, state.output_};
}

std::optional<exit_status> child::try_exit_status() {
  return impl_->peek();
}

asio::awaitable<std::optional<exit_status>> child::wait_exit(deadline until) {
  impl& state = *impl_;
  auto pause = std::chrono::duration_cast<steady_clock::duration>(first_poll);
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (;;) {
    if (auto status = state.peek()) {
      co_return status;
    }
    if (steady_clock::now() >= until) {
      co_return std::nullopt;
    }
    if (state.pidfd_.is_open()) {
      auto waited = co_await with_deadline(wait_readable(state.pidfd_), until);
      if (waited && *waited == asio::error::operation_aborted) {
        throw boost::system::system_error(*waited, "wait_exit");
      }
      if (waited && *waited) {
        // The pidfd failed in a way it should not: carry on by polling.
        boost::system::error_code ignored;
        state.pidfd_.close(ignored);
      }
      continue;
    }
    timer.expires_at(std::min(until, steady_clock::now() + pause));
    co_await timer.async_wait(asio::use_awaitable);
    pause = std::min<steady_clock::duration>(pause * 2, poll_cap);
  }
}

void child::kill() noexcept {
  impl_->kill();
}

void child::detach() noexcept {
  impl_->detached_ = true;
}

result<child> launch(const asio::any_io_executor& executor, const launch_options& options) {
  // The stderr file first: the likeliest failure, and one that names a path of its own. With no
  // path the child gets /dev/null, never our stderr (containerd waits for every holder of it).
  const std::filesystem::path stderr_path =
      options.stderr_path.empty() ? std::filesystem::path("/dev/null") : options.stderr_path;
  unique_fd stderr_fd(
      ::open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0644));
  if (stderr_fd.get() < 0) {
    return os_error(errno, "open", stderr_path);
  }

  std::array<int, 2> ends{};
  if (::pipe2(ends.data(), O_CLOEXEC) != 0) {
    return os_error(errno, "pipe");
  }
  unique_fd read_end(ends[0]);
  unique_fd write_end(ends[1]);
  for (unique_fd* fd : {&stderr_fd, &read_end, &write_end}) {
    if (const int err = move_above_stdio(*fd); err != 0) {
      return os_error(err, "fcntl");
    }
  }
  // Only our end is non-blocking; the child's stdout stays blocking.
  if (::fcntl(read_end.get(), F_SETFL, ::fcntl(read_end.get(), F_GETFL) | O_NONBLOCK) != 0) {
    return os_error(errno, "fcntl");
  }

  std::vector<char*> argv;
  argv.reserve(options.arguments.size() + 2);
  argv.push_back(const_cast<char*>(options.executable.c_str()));
  for (const auto& argument : options.arguments) {
    argv.push_back(const_cast<char*>(argument.c_str()));
  }
  argv.push_back(nullptr);

  spawn_plan plan;
  if (const int err = prepare(plan, write_end.get(), stderr_fd.get(), options.working_directory);
      err != 0) {
    return os_error(err, "fork/exec", options.executable);
  }
  pid_t pid = -1;
  if (const int err = ::posix_spawn(&pid, options.executable.c_str(), &plan.actions,
                                    &plan.attributes, argv.data(), environ);
      err != 0) {
    // glibc has already reaped a child whose exec failed.
    if (auto chdir_error = working_directory_error(options.working_directory)) {
      return std::move(*chdir_error);
    }
    return os_error(err, "fork/exec", options.executable);
  }
  // From here the impl owns the child: any failure below kills it.
  auto state = std::make_unique<child::impl>(executor, pid);
  write_end.reset();
  stderr_fd.reset();

  boost::system::error_code ec;
  state->stdout_.assign(read_end.get(), ec);
  if (ec) {
    return error{ec, "watch the child's stdout: " + ec.message()};
  }
  read_end.release();

#if defined(SYS_pidfd_open)
  if (!pidfd_disabled) {
    // pidfd_open fails on kernels before 5.3 (ENOSYS) or under some seccomp filters; then
    // wait_exit polls. The pidfd is close-on-exec.
    unique_fd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
    if (pidfd.get() >= 0) {
      state->pidfd_.assign(pidfd.get(), ec);
      if (!ec) {
        pidfd.release();
      }
    }
  }
#endif
  return child(std::move(state));
}

}  // namespace runhcs::process
