// The host-process backend on Linux: fork at Create with the child parked on a start channel
// (so Create has a pid, as runc's create does), exec at Start; stdio straight onto containerd's
// FIFOs, or through a pty when the spec asks for a terminal.
#include <fcntl.h>
#include <linux/close_range.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <fmt/format.h>
#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <cstring>
#include <map>
#include <sstream>

#include "backend/host_process.hpp"
#include "backend/reaper.hpp"

namespace runhcs::backend {
namespace {

namespace asio = boost::asio;
using asio::posix::stream_descriptor;

// How long Start waits for the parked child to exec (or report why it could not).
constexpr auto exec_report_timeout = std::chrono::seconds(10);
// How long an exit waits for a terminal's output to be copied out before it is reported.
constexpr auto output_drain_grace = std::chrono::seconds(2);

error os_error(std::string_view what, int err) {
  return make_error(std::error_code(err, std::system_category()),
                    fmt::format("{}: {}", what, std::strerror(err)));
}

// An owned file descriptor.
class fd {
 public:
  fd() = default;
  explicit fd(int value) : value_(value) {}
  fd(fd&& other) noexcept : value_(std::exchange(other.value_, -1)) {}
  fd& operator=(fd&& other) noexcept {
    if (this != &other) {
      reset(std::exchange(other.value_, -1));
    }
    return *this;
  }
  ~fd() { reset(); }
  int get() const noexcept { return value_; }
  int release() noexcept { return std::exchange(value_, -1); }
  void reset(int value = -1) noexcept {
    if (value_ >= 0) {
      ::close(value_);
    }
    value_ = value;
  }
  explicit operator bool() const noexcept { return value_ >= 0; }

 private:
  int value_ = -1;
};

const std::map<std::string, int, std::less<>>& rlimit_names() {
  static const std::map<std::string, int, std::less<>> names = {
      {"RLIMIT_AS", RLIMIT_AS},
      {"RLIMIT_CORE", RLIMIT_CORE},
      {"RLIMIT_CPU", RLIMIT_CPU},
      {"RLIMIT_DATA", RLIMIT_DATA},
      {"RLIMIT_FSIZE", RLIMIT_FSIZE},
      {"RLIMIT_LOCKS", RLIMIT_LOCKS},
      {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},
      {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
      {"RLIMIT_NICE", RLIMIT_NICE},
      {"RLIMIT_NOFILE", RLIMIT_NOFILE},
      {"RLIMIT_NPROC", RLIMIT_NPROC},
      {"RLIMIT_RSS", RLIMIT_RSS},
      {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},
      {"RLIMIT_RTTIME", RLIMIT_RTTIME},
      {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
      {"RLIMIT_STACK", RLIMIT_STACK},
  };
  return names;
}

// Everything the forked child needs, prepared before fork: after fork only async-signal-safe
// calls may run.
struct launch_plan {
  std::string path;
  std::vector<std::string> argv;
  std::vector<std::string> envp;
  std::vector<char*> argv_ptrs;
  std::vector<char*> envp_ptrs;
  std::string cwd;
  bool set_ids = false;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
  std::vector<std::pair<int, struct rlimit>> limits;
  bool terminal = false;
  int stdio[3] = {-1, -1, -1};
};

// What the child reports on its error channel when a step fails before exec.
struct child_report {
  int step;
  int err;
};
enum child_step : int {
  step_session,
  step_stdio,
  step_tty,
  step_rlimit,
  step_ids,
  step_chdir,
  step_exec
};

const char* describe_step(int step) {
  switch (step) {
    case step_session:
      return "create process group";
    case step_stdio:
      return "set up stdio";
    case step_tty:
      return "set controlling terminal";
    case step_rlimit:
      return "set rlimits";
    case step_ids:
      return "set user";
    case step_chdir:
      return "chdir";
    default:
      return "exec";
  }
}

[[noreturn]] void child_fail(int err_fd, int step) noexcept {
  child_report report{step, errno};
  [[maybe_unused]] auto n = ::write(err_fd, &report, sizeof report);
  ::_exit(127);
}

[[noreturn]] void child_main(const launch_plan& plan, int start_fd, int err_fd) noexcept {
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int sig = 1; sig < NSIG; ++sig) {
    ::signal(sig, SIG_DFL);
  }
  if ((plan.terminal ? ::setsid() : ::setpgid(0, 0)) < 0) {
    child_fail(err_fd, step_session);
  }
  // Lift the stdio sources above 2 first so that dup2 onto 0..2 cannot clobber one.
  int lifted[3];
  for (int i = 0; i < 3; ++i) {
    lifted[i] = ::fcntl(plan.stdio[i], F_DUPFD, 3);
    if (lifted[i] < 0) {
      child_fail(err_fd, step_stdio);
    }
  }
  for (int i = 0; i < 3; ++i) {
    if (::dup2(lifted[i], i) < 0) {
      child_fail(err_fd, step_stdio);
    }
  }
  // Nothing else reaches the program; the error channel closing on exec reports success.
  if (::syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
    for (int f = 3; f < 65536; ++f) {
      ::fcntl(f, F_SETFD, FD_CLOEXEC);
    }
  }
  if (plan.terminal && ::ioctl(0, TIOCSCTTY, 0) < 0) {
    child_fail(err_fd, step_tty);
  }
  for (const auto& [resource, limit] : plan.limits) {
    if (::setrlimit(static_cast<__rlimit_resource>(resource), &limit) < 0) {
      child_fail(err_fd, step_rlimit);
    }
  }
  // Raw syscalls: glibc's wrappers broadcast to threads that do not exist after fork.
  if (plan.set_ids) {
    if (::syscall(SYS_setgroups, plan.groups.size(), plan.groups.data()) < 0 ||
        ::syscall(SYS_setgid, plan.gid) < 0 || ::syscall(SYS_setuid, plan.uid) < 0) {
      child_fail(err_fd, step_ids);
    }
  }
  if (::chdir(plan.cwd.c_str()) < 0) {
    child_fail(err_fd, step_chdir);
  }
  // Parked until Start; the channel closing without a byte means the task was deleted.
  char go = 0;
  ssize_t n;
  do {
    n = ::recv(start_fd, &go, 1, 0);
  } while (n < 0 && errno == EINTR);
  if (n != 1) {
    ::_exit(127);
  }
  ::execve(plan.path.c_str(), plan.argv_ptrs.data(), plan.envp_ptrs.data());
  child_fail(err_fd, step_exec);
}

std::string env_value(const std::vector<std::string>& env, std::string_view key) {
  for (const auto& entry : env) {
    if (entry.size() > key.size() && entry.compare(0, key.size(), key) == 0 &&
        entry[key.size()] == '=') {
      return entry.substr(key.size() + 1);
    }
  }
  return {};
}

// The executable as exec.LookPath would find it, with the spec's PATH.
result<std::string> resolve_executable(const process_spec& spec) {
  const std::string& name = spec.args.front();
  if (name.find('/') != std::string::npos) {
    return name;
  }
  std::string path = env_value(spec.env, "PATH");
  if (path.empty()) {
    path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  }
  std::istringstream dirs(path);
  for (std::string dir; std::getline(dirs, dir, ':');) {
    std::string candidate = (dir.empty() ? std::string(".") : dir) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  return make_error(make_error_code(errc::invalid_spec),
                    fmt::format("exec: \"{}\": executable file not found in $PATH", name));
}

// The keeper trick for containerd's FIFOs: we hold them open so that the reader never sees a
// premature EOF, and close them when the process is done.
result<fd> open_fifo(const std::string& path, int flags, std::string_view what) {
  int f = ::open(path.c_str(), flags | O_CLOEXEC);
  if (f < 0) {
    return os_error(fmt::format("open {} {}", what, path), errno);
  }
  return fd(f);
}

// The shared state of one process: the reaper callback and copy loops may outlive the
// process object, so they hold this rather than the object.
struct process_core : std::enable_shared_from_this<process_core> {
  explicit process_core(asio::any_io_executor ex)
      : executor(ex), exit_signal(ex, asio::steady_timer::time_point::max()), drain_timer(ex) {}

  asio::any_io_executor executor;
  int pid = -1;
  process_state state = process_state::created;
  bool started = false;
  bool kill_group_on_exit = false;
  std::optional<exit_info> exit;
  std::optional<exit_info> pending_exit;  // reaped, waiting for the terminal's output
  fd start_channel;                       // our end of the start socket pair
  fd error_channel;                       // read end of the child's error pipe
  fd stdin_keeper;                        // a writer on the stdin FIFO, closed by CloseIO
  fd stdout_keeper;
  fd stderr_keeper;
  fd master;  // the pty master, when there is a terminal
  bool output_copying = false;
  asio::cancellation_signal stdin_copy_cancel;
  asio::cancellation_signal output_copy_cancel;
  asio::steady_timer exit_signal;  // cancelled once exit is set: wakes every waiter
  asio::steady_timer drain_timer;
  std::function<void(const exit_info&)> on_exit;

  void reaped(int wait_status) {
    exit_info info;
    info.status = WIFEXITED(wait_status) ? static_cast<std::uint32_t>(WEXITSTATUS(wait_status))
                  : WIFSIGNALED(wait_status)
                      ? 128U + static_cast<std::uint32_t>(WTERMSIG(wait_status))
                      : 255U;
    info.at = std::chrono::system_clock::now();
    // Like a container's init: when it ends, what it left in its group ends too.
    if (kill_group_on_exit) {
      ::kill(-pid, SIGKILL);
    }
    stdout_keeper.reset();
    stderr_keeper.reset();
    stdin_keeper.reset();
    stdin_copy_cancel.emit(asio::cancellation_type::terminal);
    if (output_copying) {
      pending_exit = info;
      drain_timer.expires_after(output_drain_grace);
      drain_timer.async_wait([self = shared_from_this()](boost::system::error_code) {
        self->output_copy_cancel.emit(asio::cancellation_type::terminal);
        self->finish();
      });
      return;
    }
    pending_exit = info;
    finish();
  }

  void finish() {
    if (!pending_exit || exit) {
      return;
    }
    exit = pending_exit;
    state = process_state::stopped;
    drain_timer.cancel();
    exit_signal.cancel();
    master.reset();
    if (auto callback = std::move(on_exit)) {
      on_exit = nullptr;
      callback(*exit);
    }
  }

  void output_finished() {
    output_copying = false;
    finish();
  }
};

asio::awaitable<void> copy_stream(stream_descriptor& from, stream_descriptor& to) {
  std::array<char, 32 * 1024> buffer{};
  for (;;) {
    auto [read_ec, n] =
        co_await from.async_read_some(asio::buffer(buffer), asio::as_tuple(asio::use_awaitable));
    if (read_ec || n == 0) {
      co_return;
    }
    auto [write_ec, written] = co_await asio::async_write(to, asio::buffer(buffer.data(), n),
                                                          asio::as_tuple(asio::use_awaitable));
    if (write_ec) {
      co_return;
    }
  }
}

// stdin FIFO -> pty master, until EOF (every writer, our keeper included, closed) or cancel.
asio::awaitable<void> copy_in(std::shared_ptr<process_core> core, int fifo_fd, int master_fd) {
  stream_descriptor from(core->executor, fifo_fd);
  stream_descriptor to(core->executor, master_fd);
  co_await copy_stream(from, to);
}

// pty master -> stdout FIFO, until the last slave closes (EIO) or cancel.
asio::awaitable<void> copy_out(std::shared_ptr<process_core> core, int master_fd, int fifo_fd) {
  {
    stream_descriptor from(core->executor, master_fd);
    stream_descriptor to(core->executor, fifo_fd);
    co_await copy_stream(from, to);
  }
  core->output_finished();
}

class host_process final : public process {
 public:
  explicit host_process(std::shared_ptr<process_core> core) : core_(std::move(core)) {}

  ~host_process() override {
    // A process object that goes away takes its process with it; the reaper still collects it.
    if (!core_->exit && core_->pid > 0) {
      ::kill(-core_->pid, SIGKILL);
      ::kill(core_->pid, SIGKILL);
    }
    // Nobody is left to tell about the exit.
    core_->on_exit = nullptr;
    core_->start_channel.reset();
    core_->stdin_copy_cancel.emit(asio::cancellation_type::terminal);
  }

  int pid() const noexcept override { return core_->pid; }
  process_state state() const noexcept override { return core_->state; }
  std::optional<exit_info> exited() const noexcept override { return core_->exit; }

  result<void> start() override {
    if (core_->started) {
      return make_error(make_error_code(errc::already_started),
                        core_->exit ? "process already finished" : "process already started");
    }
    core_->started = true;
    if (core_->exit || core_->pending_exit) {
      // It failed while setting up (bad cwd, user, rlimit): its report says why.
      child_report report{};
      if (::read(core_->error_channel.get(), &report, sizeof report) == sizeof report) {
        return os_error(describe_step(report.step), report.err);
      }
      return make_error(make_error_code(errc::already_exited), "process already finished");
    }
    char go = 1;
    ::send(core_->start_channel.get(), &go, 1, MSG_NOSIGNAL);
    core_->start_channel.reset();
    // The error pipe closes on a successful exec, or carries the step that failed.
    child_report report{};
    std::size_t got = 0;
    auto until = std::chrono::steady_clock::now() + exec_report_timeout;
    while (got < sizeof report) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          until - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        ::kill(core_->pid, SIGKILL);
        return make_error(
            std::make_error_code(std::errc::timed_out),
            fmt::format("process did not exec within {}s", exec_report_timeout.count()));
      }
      pollfd p{core_->error_channel.get(), POLLIN, 0};
      int ready = ::poll(&p, 1, static_cast<int>(left.count()));
      if (ready < 0 && errno == EINTR) {
        continue;
      }
      ssize_t n = ::read(core_->error_channel.get(), reinterpret_cast<char*>(&report) + got,
                         sizeof report - got);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
        continue;
      }
      if (n <= 0) {
        break;
      }
      got += static_cast<std::size_t>(n);
    }
    core_->error_channel.reset();
    if (got == sizeof report) {
      return os_error(describe_step(report.step), report.err);
    }
    if (!core_->exit) {
      core_->state = process_state::running;
    }
    return {};
  }

  result<void> signal(int sig, bool all) override {
    if (all) {
      signal_tree(core_->pid, sig);
      return {};
    }
    if (core_->exit || core_->pending_exit) {
      return make_error(make_error_code(errc::already_exited), "process already finished");
    }
    if (::kill(core_->pid, sig) < 0) {
      return os_error(fmt::format("kill {}", core_->pid), errno);
    }
    return {};
  }

  asio::awaitable<exit_info> wait() override {
    auto core = core_;
    while (!core->exit) {
      co_await core->exit_signal.async_wait(asio::as_tuple(asio::use_awaitable));
      auto state = co_await asio::this_coro::cancellation_state;
      if (state.cancelled() != asio::cancellation_type::none) {
        throw boost::system::system_error(asio::error::operation_aborted);
      }
    }
    co_return *core->exit;
  }

  result<void> resize(unsigned width, unsigned height) override {
    if (!core_->master) {
      return {};
    }
    winsize size{};
    size.ws_col = static_cast<unsigned short>(width);
    size.ws_row = static_cast<unsigned short>(height);
    if (::ioctl(core_->master.get(), TIOCSWINSZ, &size) < 0) {
      return os_error("resize pty", errno);
    }
    return {};
  }

  void close_stdin() override { core_->stdin_keeper.reset(); }

  void on_exit(std::function<void(const exit_info&)> callback) override {
    if (core_->exit) {
      callback(*core_->exit);
      return;
    }
    core_->on_exit = std::move(callback);
  }

  const std::shared_ptr<process_core>& core() const noexcept { return core_; }

 private:
  std::shared_ptr<process_core> core_;
};

struct launch_context {
  asio::any_io_executor executor;
  std::string rootfs;  // absolute; empty when the spec has none
  bool kill_group_on_exit = false;
};

// Opens the stdio a process gets. Without a terminal the child writes straight into the
// FIFOs; with one, the child gets the pty's slave and copy loops move the bytes.
struct opened_stdio {
  fd child[3];
  fd slave;
  fd stdin_reader;   // terminal: the FIFO the stdin copy reads
  fd stdout_writer;  // terminal: the FIFO the output copy writes
};

result<void> open_stdio(const stdio_paths& io, const process_spec& spec, process_core& core,
                        opened_stdio& out) {
  auto null_device = [](int flags) { return fd(::open("/dev/null", flags | O_CLOEXEC)); };
  fd stdin_fifo;
  if (!io.stdin_path.empty()) {
    // A nonblocking read open succeeds with no writer yet; our keeper writer then holds off
    // EOF until CloseIO, as containerd expects.
    auto r = open_fifo(io.stdin_path, O_RDONLY | O_NONBLOCK, "stdin");
    if (!r) {
      return r.error();
    }
    stdin_fifo = std::move(*r);
    auto keeper = open_fifo(io.stdin_path, O_WRONLY | O_NONBLOCK, "stdin");
    if (!keeper) {
      return keeper.error();
    }
    core.stdin_keeper = std::move(*keeper);
  }
  if (io.terminal) {
    fd master(::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (!master || ::grantpt(master.get()) < 0 || ::unlockpt(master.get()) < 0) {
      return os_error("allocate pty", errno);
    }
    char name[128];
    if (::ptsname_r(master.get(), name, sizeof name) != 0) {
      return os_error("ptsname", errno);
    }
    fd slave(::open(name, O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (!slave) {
      return os_error(fmt::format("open {}", name), errno);
    }
    if (spec.console_width > 0 && spec.console_height > 0) {
      winsize size{};
      size.ws_col = static_cast<unsigned short>(spec.console_width);
      size.ws_row = static_cast<unsigned short>(spec.console_height);
      ::ioctl(master.get(), TIOCSWINSZ, &size);
    }
    if (!io.stdout_path.empty()) {
      auto w = open_fifo(io.stdout_path, O_RDWR | O_NONBLOCK, "stdout");
      if (!w) {
        return w.error();
      }
      out.stdout_writer = std::move(*w);
    }
    out.stdin_reader = std::move(stdin_fifo);
    for (auto& c : out.child) {
      c = fd(::fcntl(slave.get(), F_DUPFD_CLOEXEC, 3));
    }
    out.slave = std::move(slave);
    core.master = std::move(master);
    return {};
  }
  if (stdin_fifo) {
    // The child reads the FIFO itself, blocking.
    ::fcntl(stdin_fifo.get(), F_SETFL, ::fcntl(stdin_fifo.get(), F_GETFL) & ~O_NONBLOCK);
    out.child[0] = std::move(stdin_fifo);
  } else {
    out.child[0] = null_device(O_RDONLY);
  }
  const std::string* paths[2] = {&io.stdout_path, &io.stderr_path};
  fd* keepers[2] = {&core.stdout_keeper, &core.stderr_keeper};
  for (int i = 0; i < 2; ++i) {
    if (paths[i]->empty()) {
      out.child[i + 1] = null_device(O_WRONLY);
      continue;
    }
    // Read-write never blocks and keeps the FIFO alive even before the reader opens it.
    auto w = open_fifo(*paths[i], O_RDWR, i == 0 ? "stdout" : "stderr");
    if (!w) {
      return w.error();
    }
    out.child[i + 1] = fd(::fcntl(w->get(), F_DUPFD_CLOEXEC, 3));
    *keepers[i] = std::move(*w);
  }
  for (auto& c : out.child) {
    if (!c) {
      return os_error("open stdio", errno);
    }
  }
  return {};
}

result<launch_plan> make_plan(const process_spec& spec, const launch_context& context) {
  launch_plan plan;
  auto path = resolve_executable(spec);
  if (!path) {
    return path.error();
  }
  plan.path = std::move(*path);
  plan.argv = spec.args;
  plan.envp = spec.env;
  if (!context.rootfs.empty()) {
    plan.envp.push_back(fmt::format("{}={}", sandbox_mount_point_variable, context.rootfs));
  }
  for (auto& a : plan.argv) {
    plan.argv_ptrs.push_back(a.data());
  }
  plan.argv_ptrs.push_back(nullptr);
  for (auto& e : plan.envp) {
    plan.envp_ptrs.push_back(e.data());
  }
  plan.envp_ptrs.push_back(nullptr);
  plan.cwd = spec.cwd.empty() ? "/" : spec.cwd;
  // Only root may become another user; otherwise the process runs as the shim does.
  plan.set_ids = ::geteuid() == 0;
  plan.uid = spec.uid;
  plan.gid = spec.gid;
  plan.groups.assign(spec.additional_gids.begin(), spec.additional_gids.end());
  for (const auto& limit : spec.rlimits) {
    auto it = rlimit_names().find(limit.type);
    if (it == rlimit_names().end()) {
      return make_error(make_error_code(errc::invalid_spec),
                        fmt::format("unknown rlimit type {}", limit.type));
    }
    plan.limits.push_back({it->second, {limit.soft, limit.hard}});
  }
  plan.terminal = spec.terminal;
  return plan;
}

result<std::unique_ptr<host_process>> launch(const process_spec& spec, const stdio_paths& io,
                                             const launch_context& context) {
  auto plan = make_plan(spec, context);
  if (!plan) {
    return plan.error();
  }
  auto core = std::make_shared<process_core>(context.executor);
  core->kill_group_on_exit = context.kill_group_on_exit;
  stdio_paths effective = io;
  effective.terminal = io.terminal || spec.terminal;
  plan->terminal = effective.terminal;
  opened_stdio stdio;
  if (auto r = open_stdio(effective, spec, *core, stdio); !r) {
    return r.error();
  }
  for (int i = 0; i < 3; ++i) {
    plan->stdio[i] = stdio.child[i].get();
  }
  int start_pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, start_pair) < 0) {
    return os_error("socketpair", errno);
  }
  fd start_ours(start_pair[0]);
  fd start_child(start_pair[1]);
  int error_pipe[2];
  if (::pipe2(error_pipe, O_CLOEXEC) < 0) {
    return os_error("pipe", errno);
  }
  fd error_ours(error_pipe[0]);
  fd error_child(error_pipe[1]);

  auto the_reaper = reaper::instance(context.executor);
  pid_t pid = ::fork();
  if (pid < 0) {
    return os_error("fork", errno);
  }
  if (pid == 0) {
    child_main(*plan, start_child.get(), error_child.get());
  }
  core->pid = pid;
  the_reaper->expect(pid, [weak = std::weak_ptr<process_core>(core)](int status) {
    if (auto c = weak.lock()) {
      c->reaped(status);
    }
  });
  core->start_channel = std::move(start_ours);
  core->error_channel = std::move(error_ours);

  if (core->master) {
    auto& ex = context.executor;
    if (stdio.stdin_reader) {
      int master_dup = ::fcntl(core->master.get(), F_DUPFD_CLOEXEC, 3);
      asio::co_spawn(ex, copy_in(core, stdio.stdin_reader.release(), master_dup),
                     asio::bind_cancellation_slot(core->stdin_copy_cancel.slot(), asio::detached));
    }
    if (stdio.stdout_writer) {
      int master_dup = ::fcntl(core->master.get(), F_DUPFD_CLOEXEC, 3);
      core->output_copying = true;
      asio::co_spawn(ex, copy_out(core, master_dup, stdio.stdout_writer.release()),
                     asio::bind_cancellation_slot(core->output_copy_cancel.slot(), asio::detached));
    }
  }
  return std::make_unique<host_process>(std::move(core));
}

class host_container final : public container {
 public:
  host_container(launch_context context, std::unique_ptr<host_process> init)
      : context_(std::move(context)), init_(std::move(init)) {}

  process& init() noexcept override { return *init_; }

  result<std::unique_ptr<process>> exec(const process_spec& spec, const stdio_paths& io) override {
    launch_context exec_context = context_;
    exec_context.kill_group_on_exit = false;
    auto p = launch(spec, io, exec_context);
    if (!p) {
      return p.error();
    }
    execs_.push_back((*p)->core());
    return std::unique_ptr<process>(std::move(*p));
  }

  std::vector<int> pids() const override {
    std::vector<int> out = process_tree(init_->pid());
    for (const auto& weak : execs_) {
      auto core = weak.lock();
      if (!core || core->exit) {
        continue;
      }
      for (int pid : process_tree(core->pid)) {
        if (std::find(out.begin(), out.end(), pid) == out.end()) {
          out.push_back(pid);
        }
      }
    }
    return out;
  }

  result<void> pause() override {
    return make_error(make_error_code(errc::not_implemented),
                      "pause is not implemented by the host-process backend");
  }
  result<void> resume() override {
    return make_error(make_error_code(errc::not_implemented),
                      "resume is not implemented by the host-process backend");
  }

 private:
  launch_context context_;
  std::unique_ptr<host_process> init_;
  std::vector<std::weak_ptr<process_core>> execs_;
};

class host_backend final : public backend {
 public:
  explicit host_backend(asio::any_io_executor executor) : executor_(std::move(executor)) {
    // Orphans of our tasks must come back to us to be reaped (best effort: the tests and
    // serve also call it).
    (void)become_subreaper();
    reaper_ = reaper::instance(executor_);
  }

  result<std::unique_ptr<container>> create(const container_options& options) override {
    auto spec = read_runtime_spec(options.bundle);
    if (!spec) {
      return spec.error();
    }
    launch_context context;
    context.executor = executor_;
    context.kill_group_on_exit = true;
    if (!spec->root_path.empty()) {
      std::filesystem::path root(spec->root_path);
      context.rootfs = (root.is_absolute() ? root : options.bundle / root).lexically_normal();
    }
    auto init = launch(spec->process, options.io, context);
    if (!init) {
      return init.error();
    }
    return std::unique_ptr<container>(
        std::make_unique<host_container>(std::move(context), std::move(*init)));
  }

  std::string_view name() const noexcept override { return "host-process"; }

 private:
  asio::any_io_executor executor_;
  std::shared_ptr<reaper> reaper_;
};

}  // namespace

std::unique_ptr<backend> make_host_process_backend(const asio::any_io_executor& executor) {
  return std::make_unique<host_backend>(executor);
}

}  // namespace runhcs::backend
