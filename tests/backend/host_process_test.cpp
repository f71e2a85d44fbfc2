// The host-process backend on Linux: real processes from real bundles, checked for exit codes,
// stdio, environment, limits, terminals, kill-all and reaping.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>

#include "backend/host_process.hpp"
#include "backend/reaper.hpp"
#include "common/deadline.hpp"

namespace runhcs::backend {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
    }
    out += c;
  }
  return out + "\"";
}

std::string json_args(const std::vector<std::string>& args) {
  std::string out = "[";
  for (std::size_t i = 0; i < args.size(); ++i) {
    out += (i ? "," : "") + json_string(args[i]);
  }
  return out + "]";
}

class host_process_test : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/runhcs-backend-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    bundle_ = pattern;
    std::filesystem::create_directory(bundle_ / "rootfs");
    backend_ = make_host_process_backend(ctx_.get_executor());
  }
  void TearDown() override {
    container_.reset();
    ctx_.run_for(50ms);
    std::filesystem::remove_all(bundle_);
  }

  void write_config(const std::vector<std::string>& args, const std::string& process_extra = "",
                    const std::string& cwd = "/") {
    std::ofstream out(bundle_ / "config.json");
    out << R"({"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"args":)" << json_args(args)
        << R"(,"env":["PATH=/usr/bin:/bin"],"cwd":)" << json_string(cwd) << process_extra << "}}";
  }

  std::string make_fifo(const std::string& name) {
    auto path = (bundle_ / name).string();
    EXPECT_EQ(::mkfifo(path.c_str(), 0600), 0);
    return path;
  }

  // A reader that is open before the process starts, like containerd's.
  int open_reader(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    EXPECT_GE(fd, 0);
    return fd;
  }

  // Reads what is there until EOF, bounded.
  std::string read_all(int fd, std::chrono::milliseconds limit = 5000ms) {
    std::string out;
    auto until = std::chrono::steady_clock::now() + limit;
    char buffer[4096];
    while (std::chrono::steady_clock::now() < until) {
      ssize_t n = ::read(fd, buffer, sizeof buffer);
      if (n > 0) {
        out.append(buffer, static_cast<std::size_t>(n));
        continue;
      }
      if (n == 0) {
        break;
      }
      ctx_.run_for(10ms);
    }
    ::close(fd);
    return out;
  }

  container& create(const stdio_paths& io = {}) {
    auto c = backend_->create({"t1", bundle_, io});
    EXPECT_TRUE(c) << (c ? "" : c.error().message);
    container_ = std::move(*c);
    return *container_;
  }

  std::optional<exit_info> wait_exit(process& p, std::chrono::seconds limit = 10s) {
    std::optional<exit_info> out;
    bool done = false;
    asio::co_spawn(ctx_, with_deadline(p.wait(), steady_clock::now() + limit),
                   [&](std::exception_ptr, std::optional<exit_info> r) {
                     out = r;
                     done = true;
                   });
    while (!done) {
      ctx_.run_one_for(100ms);
    }
    return out;
  }

  asio::io_context ctx_;
  std::filesystem::path bundle_;
  std::unique_ptr<backend> backend_;
  std::unique_ptr<container> container_;
};

TEST_F(host_process_test, runs_the_spec_and_reports_the_exit_code) {
  write_config({"/bin/sh", "-c", "exit 3"});
  auto& c = create();
  auto& init = c.init();
  EXPECT_GT(init.pid(), 0);
  EXPECT_EQ(init.state(), process_state::created);
  ASSERT_TRUE(init.start());
  EXPECT_EQ(init.state(), process_state::running);
  auto before = std::chrono::system_clock::now();
  auto exit = wait_exit(init);
  ASSERT_TRUE(exit);
  EXPECT_EQ(exit->status, 3U);
  EXPECT_GE(exit->at, before - 1s);
  EXPECT_EQ(init.state(), process_state::stopped);
  EXPECT_FALSE(process_start_time(init.pid()));  // reaped: no zombie left
}

TEST_F(host_process_test, start_twice_is_refused) {
  write_config({"/bin/true"});
  auto& init = create().init();
  ASSERT_TRUE(init.start());
  auto again = init.start();
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, make_error_code(errc::already_started));
  wait_exit(init);
}

TEST_F(host_process_test, writes_stdout_and_stderr_to_the_fifos) {
  write_config({"/bin/sh", "-c", "echo hi; echo oops >&2"});
  auto out = make_fifo("out");
  auto err = make_fifo("err");
  int out_fd = open_reader(out);
  int err_fd = open_reader(err);
  auto& init = create({"", out, err, false}).init();
  ASSERT_TRUE(init.start());
  ASSERT_TRUE(wait_exit(init));
  EXPECT_EQ(read_all(out_fd), "hi\n");
  EXPECT_EQ(read_all(err_fd), "oops\n");
}

TEST_F(host_process_test, gives_the_sandbox_mount_point_and_the_spec_env) {
  write_config({"/bin/sh", "-c", "echo $CONTAINER_SANDBOX_MOUNT_POINT; echo $PATH; pwd"});
  auto out = make_fifo("out");
  int fd = open_reader(out);
  auto& init = create({"", out, "", false}).init();
  ASSERT_TRUE(init.start());
  ASSERT_TRUE(wait_exit(init));
  EXPECT_EQ(read_all(fd), (bundle_ / "rootfs").string() + "\n/usr/bin:/bin\n/\n");
}

TEST_F(host_process_test, applies_rlimits_and_its_own_process_group) {
  write_config({"/bin/sh", "-c", "ulimit -n; ps -o pgid= -p $$ | tr -d ' '; echo $$"},
               R"(,"rlimits":[{"type":"RLIMIT_NOFILE","hard":200,"soft":123}])");
  auto out = make_fifo("out");
  int fd = open_reader(out);
  auto& init = create({"", out, "", false}).init();
  ASSERT_TRUE(init.start());
  ASSERT_TRUE(wait_exit(init));
  auto text = read_all(fd);
  auto pid = std::to_string(init.pid());
  EXPECT_EQ(text, "123\n" + pid + "\n" + pid + "\n");
}

TEST_F(host_process_test, stdin_reaches_the_process_until_close_stdin) {
  write_config({"/bin/cat"});
  auto in = make_fifo("in");
  auto out = make_fifo("out");
  int out_fd = open_reader(out);
  auto& init = create({in, out, "", false}).init();
  ASSERT_TRUE(init.start());
  int writer = ::open(in.c_str(), O_WRONLY | O_CLOEXEC);
  ASSERT_GE(writer, 0);
  ASSERT_EQ(::write(writer, "abc\n", 4), 4);
  ::close(writer);
  // Our writer is gone but the keeper holds EOF off until CloseIO.
  ctx_.run_for(100ms);
  EXPECT_EQ(init.state(), process_state::running);
  init.close_stdin();
  auto exit = wait_exit(init);
  ASSERT_TRUE(exit);
  EXPECT_EQ(exit->status, 0U);
  EXPECT_EQ(read_all(out_fd), "abc\n");
}

TEST_F(host_process_test, terminal_gives_a_tty_and_copies_its_output) {
  write_config({"/bin/sh", "-c", "test -t 0 && test -t 1 && echo tty; stty size"},
               R"(,"terminal":true,"consoleSize":{"height":30,"width":100})");
  auto out = make_fifo("out");
  int fd = open_reader(out);
  auto& init = create({"", out, "", true}).init();
  ASSERT_TRUE(init.start());
  auto exit = wait_exit(init);
  ASSERT_TRUE(exit);
  EXPECT_EQ(exit->status, 0U);
  EXPECT_EQ(read_all(fd), "tty\r\n30 100\r\n");
}

TEST_F(host_process_test, kill_all_reaches_children_and_leaves_no_zombie) {
  write_config({"/bin/sh", "-c", "sleep 100 & setsid sleep 100 & wait"});
  auto& c = create();
  auto& init = c.init();
  ASSERT_TRUE(init.start());
  std::vector<int> pids;
  for (int i = 0; i < 100 && pids.size() < 3; ++i) {
    ctx_.run_for(20ms);
    pids = c.pids();
  }
  ASSERT_GE(pids.size(), 3U);
  EXPECT_EQ(pids.front(), init.pid());
  ASSERT_TRUE(init.signal(SIGKILL, true));
  auto exit = wait_exit(init);
  ASSERT_TRUE(exit);
  EXPECT_EQ(exit->status, 128U + SIGKILL);
  // The children, orphaned to us (subreaper), are killed and reaped: no pid is left.
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    ctx_.run_for(20ms);
    gone = std::all_of(pids.begin(), pids.end(),
                       [](int pid) { return !process_start_time(pid).has_value(); });
  }
  for (int pid : pids) {
    auto start = process_start_time(pid);
    EXPECT_FALSE(start) << "pid " << pid << " is still there: " << [&] {
      std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
      std::string l;
      std::getline(f, l);
      return l;
    }();
  }
  EXPECT_TRUE(gone);
  auto late = init.signal(SIGTERM, false);
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().code, make_error_code(errc::already_exited));
}

TEST_F(host_process_test, init_exit_ends_what_it_left_in_its_group) {
  write_config({"/bin/sh", "-c", "sleep 100 & echo $!"});
  auto out = make_fifo("out");
  int fd = open_reader(out);
  auto& init = create({"", out, "", false}).init();
  ASSERT_TRUE(init.start());
  ASSERT_TRUE(wait_exit(init));
  auto text = read_all(fd);  // EOF proves the background sleep let go of stdout
  int sleeper = std::stoi(text);
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    ctx_.run_for(20ms);
    gone = !process_start_time(sleeper).has_value();
  }
  EXPECT_TRUE(gone);
}

TEST_F(host_process_test, exec_runs_another_process) {
  write_config({"/bin/sleep", "100"});
  auto& c = create();
  ASSERT_TRUE(c.init().start());
  process_spec spec;
  spec.args = {"/bin/sh", "-c", "exit 7"};
  auto e = c.exec(spec, {});
  ASSERT_TRUE(e) << e.error().message;
  ASSERT_TRUE((*e)->start());
  auto exit = wait_exit(**e);
  ASSERT_TRUE(exit);
  EXPECT_EQ(exit->status, 7U);
  ASSERT_TRUE(c.init().signal(SIGKILL, false));
  EXPECT_TRUE(wait_exit(c.init()));
}

TEST_F(host_process_test, a_missing_executable_fails_create) {
  write_config({"no-such-program-here"});
  auto c = backend_->create({"t1", bundle_, {}});
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, make_error_code(errc::invalid_spec));
  EXPECT_NE(c.error().message.find("executable file not found"), std::string::npos);
}

TEST_F(host_process_test, a_bad_cwd_fails_start) {
  write_config({"/bin/true"}, "", "/no/such/dir");
  auto& init = create().init();
  auto r = init.start();
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("chdir"), std::string::npos);
  EXPECT_TRUE(wait_exit(init));
}

TEST_F(host_process_test, dropping_a_created_process_kills_it) {
  write_config({"/bin/true"});
  int pid = create().init().pid();
  container_.reset();
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    ctx_.run_for(20ms);
    gone = !process_start_time(pid).has_value();
  }
  EXPECT_TRUE(gone);
}

TEST_F(host_process_test, pause_is_not_implemented) {
  write_config({"/bin/true"});
  auto& c = create();
  auto r = c.pause();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, make_error_code(errc::not_implemented));
}

}  // namespace
}  // namespace runhcs::backend
