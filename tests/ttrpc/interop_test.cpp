// Interop with the Go reference (containerd/ttrpc 1.1.1 via tests/interop/go/ttrpc-peer): the
// Go client against our server, and our client against the Go server. A missing peer fails.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <cstdlib>
#include <filesystem>
#include <thread>
#include <vector>

#include "fixture.hpp"
#include "test_util.hpp"

extern char** environ;

namespace runhcs::ttrpc {
namespace {

using namespace test;
using std::chrono::milliseconds;
namespace fs = std::filesystem;

const std::string peer_path = RUNHCS_BINARY_DIR "/go-peers/ttrpc-peer";

// A child process with its stdout on a pipe; killed if still running when destroyed.
class child {
 public:
  explicit child(const std::vector<std::string>& args) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
      throw std::runtime_error("pipe2 failed");
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
    std::vector<char*> argv;
    for (const auto& a : args) {
      argv.push_back(const_cast<char*>(a.c_str()));
    }
    argv.push_back(nullptr);
    const int rc = ::posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(fds[1]);
    out_ = fds[0];
    if (rc != 0) {
      pid_ = -1;
    }
  }
  ~child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    ::close(out_);
  }
  child(const child&) = delete;
  child& operator=(const child&) = delete;

  bool started() const { return pid_ > 0; }

  // Reads stdout until a newline (returned without it), EOF or the bound.
  std::string read_line(milliseconds bound) {
    std::string line;
    const auto until = steady_clock::now() + bound;
    char ch;
    while (steady_clock::now() < until) {
      pollfd p{out_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) {
        continue;
      }
      if (::read(out_, &ch, 1) != 1 || ch == '\n') {
        return line;
      }
      line.push_back(ch);
    }
    return line + "<timed out>";
  }

  // Reads stdout to EOF within the bound.
  std::string read_all(milliseconds bound) {
    std::string all;
    const auto until = steady_clock::now() + bound;
    char buf[4096];
    while (steady_clock::now() < until) {
      pollfd p{out_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) {
        continue;
      }
      const auto n = ::read(out_, buf, sizeof buf);
      if (n <= 0) {
        return all;
      }
      all.append(buf, static_cast<std::size_t>(n));
    }
    return all + "<timed out>";
  }

  // The exit status, or -1 if it did not exit within the bound (then it is killed).
  int wait(milliseconds bound) {
    const auto until = steady_clock::now() + bound;
    int status = 0;
    while (steady_clock::now() < until) {
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(milliseconds(5));
    }
    return -1;
  }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
};

class Interop : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::exists(peer_path))
        << peer_path << " is missing: build the tests (it runs scripts/build-go-peers)";
    char tmpl[] = "/tmp/runhcs-ttrpc-interop-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    socket_ = dir_ + "/ttrpc.sock";
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }
  std::string dir_;
  std::string socket_;
};

// Our server on a unix socket, run by its own thread until destroyed.
class our_server {
 public:
  our_server(const std::string& path, milliseconds connect_delay)
      : srv_(ioc_.get_executor()), acceptor_(ioc_) {
    add_task_service(srv_, stats_, connect_delay);
    acceptor_.open();
    acceptor_.bind(asio::local::stream_protocol::endpoint(path));
    acceptor_.listen();
    asio::co_spawn(ioc_, accept_loop(), asio::detached);
    thread_ = std::thread([this] { ioc_.run_for(std::chrono::seconds(60)); });
  }
  ~our_server() {
    asio::post(ioc_, [this] {
      boost::system::error_code ignored;
      acceptor_.close(ignored);
      srv_.close();
    });
    thread_.join();
  }
  // Read after destruction only, or racy: use stop() first.
  const service_stats& stats() const { return stats_; }
  void stop() {
    asio::post(ioc_, [this] {
      boost::system::error_code ignored;
      acceptor_.close(ignored);
      srv_.close();
    });
    thread_.join();
    thread_ = std::thread([] {});
  }

 private:
  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, s] = co_await acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec) {
        co_return;
      }
      asio::co_spawn(ioc_, srv_.serve_connection(std::move(s)), asio::detached);
    }
  }

  asio::io_context ioc_;
  service_stats stats_;
  server srv_;
  asio::local::stream_protocol::acceptor acceptor_;
  std::thread thread_;
};

std::string go_client(const std::string& socket, std::vector<std::string> extra,
                      int* exit_code = nullptr) {
  std::vector<std::string> args{peer_path, "client", "--socket", socket};
  args.insert(args.end(), extra.begin(), extra.end());
  child c(args);
  EXPECT_TRUE(c.started());
  auto out = c.read_all(milliseconds(20000));
  const int rc = c.wait(milliseconds(5000));
  if (exit_code != nullptr) {
    *exit_code = rc;
  } else {
    EXPECT_EQ(rc, 0) << out;
  }
  return out;
}

// ---- the Go client calling our server

TEST_F(Interop, GoClientConnects) {
  our_server s(socket_, milliseconds(0));
  EXPECT_EQ(go_client(socket_, {"--op", "connect", "--id", "feas", "--namespace", "k8s.io"}),
            "shim_pid=4242 task_pid=4343 version=feas\n");
  s.stop();
  EXPECT_EQ(s.stats().last_namespace, "k8s.io");
}

TEST_F(Interop, GoClientShutdownGetsEmpty) {
  our_server s(socket_, milliseconds(0));
  EXPECT_EQ(go_client(socket_, {"--op", "shutdown"}), "ok\n");
}

TEST_F(Interop, GoClientStateGetsOurStatus) {
  our_server s(socket_, milliseconds(0));
  EXPECT_EQ(go_client(socket_, {"--op", "state"}),
            "code=Unimplemented message=not implemented by ttrpc-peer\n");
}

TEST_F(Interop, GoClientUnknownMethodAndService) {
  our_server s(socket_, milliseconds(0));
  EXPECT_EQ(go_client(socket_, {"--op", "unknown"}),
            "code=Unimplemented message=method NoSuchMethod\n"
            "code=Unimplemented message=service no.such.Service\n");
}

TEST_F(Interop, GoClientDeadlineAgainstSlowHandler) {
  our_server s(socket_, milliseconds(5000));
  const auto start = steady_clock::now();
  EXPECT_EQ(go_client(socket_, {"--op", "deadline", "--timeout", "200ms"}),
            "code=DeadlineExceeded message=context deadline exceeded\n");
  EXPECT_LT(steady_clock::now() - start, milliseconds(4000));
  std::this_thread::sleep_for(milliseconds(100));
  s.stop();
  // Our handler got the deadline from timeout_nano and was cancelled by it.
  EXPECT_EQ(s.stats().cancelled, 1);
}

TEST_F(Interop, GoClientHundredConcurrentCalls) {
  our_server s(socket_, milliseconds(50));
  EXPECT_EQ(go_client(socket_, {"--op", "concurrent", "--count", "100"}), "ok 100\n");
  s.stop();
  EXPECT_EQ(s.stats().calls, 100);
  EXPECT_GT(s.stats().max_active, 1);
}

// ---- our client calling the Go server

class go_server {
 public:
  explicit go_server(const std::string& socket)
      : child_({peer_path, "server", "--socket", socket, "--delay", "10s"}) {
    ready_ = child_.read_line(milliseconds(10000)) == "ready";
  }
  bool ready() const { return ready_; }
  int wait(milliseconds bound) { return child_.wait(bound); }

 private:
  child child_;
  bool ready_ = false;
};

asio::awaitable<client> dial(asio::io_context& ioc, const std::string& path) {
  transport::stream s(ioc);
  co_await s.async_connect(asio::local::stream_protocol::endpoint(path), asio::use_awaitable);
  co_return client(std::move(s));
}

TEST_F(Interop, OurClientAgainstGoServer) {
  go_server peer(socket_);
  ASSERT_TRUE(peer.ready());
  run_bounded([&](asio::io_context& ioc) -> asio::awaitable<void> {
    auto c = co_await dial(ioc, socket_);
    const auto until = steady_clock::now() + milliseconds(5000);

    task::ConnectResponse connect;
    const metadata md{{std::string(namespace_key), std::string("default")}};
    auto err = co_await c.call(task_service, "Connect", connect_req("feas"), connect, until, md);
    EXPECT_FALSE(err.code) << err.message;
    EXPECT_EQ(connect.shim_pid(), 4242u);
    EXPECT_EQ(connect.task_pid(), 4343u);

    task::StateRequest state;
    state.set_id("feas");
    task::StateResponse state_resp;
    err = co_await c.call(task_service, "State", state, state_resp, until);
    EXPECT_EQ(err.code, code::unimplemented);
    EXPECT_EQ(err.message, "not implemented by ttrpc-peer");

    // Pids sleeps until its deadline: ours passes first and fails the call locally.
    task::PidsRequest pids;
    task::PidsResponse pids_resp;
    const auto start = steady_clock::now();
    err = co_await c.call(task_service, "Pids", pids, pids_resp, start + milliseconds(200));
    const auto took = steady_clock::now() - start;
    EXPECT_EQ(err.code, runhcs::errc::call_timeout) << err.message;
    EXPECT_GE(took, milliseconds(200));
    EXPECT_LT(took, milliseconds(2000));

    // 100 concurrent calls on the one connection.
    auto one = [&c, until]() -> asio::awaitable<bool> {
      task::ConnectResponse r;
      auto e = co_await c.call(task_service, "Connect", connect_req("feas"), r, until);
      co_return !e.code && r.shim_pid() == 4242;
    };
    using op_type = decltype(asio::co_spawn(ioc, one(), asio::deferred));
    std::vector<op_type> ops;
    for (int i = 0; i < 100; ++i) {
      ops.push_back(asio::co_spawn(ioc, one(), asio::deferred));
    }
    auto [order, exceptions, results] =
        co_await asio::experimental::make_parallel_group(std::move(ops))
            .async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
    for (bool ok : results) {
      EXPECT_TRUE(ok);
    }

    // Shutdown answers google.protobuf.Empty: a zero-length body.
    task::ShutdownRequest shutdown;
    shutdown.set_id("feas");
    google::protobuf::Empty empty;
    err = co_await c.call(task_service, "Shutdown", shutdown, empty, until);
    EXPECT_FALSE(err.code) << err.message;
  });
  EXPECT_EQ(peer.wait(milliseconds(5000)), 0);
}

TEST_F(Interop, OurClientSeesGoServerGoAway) {
  auto peer = std::make_unique<go_server>(socket_);
  ASSERT_TRUE(peer->ready());
  run_bounded([&](asio::io_context& ioc) -> asio::awaitable<void> {
    auto c = co_await dial(ioc, socket_);
    task::PidsRequest pids;
    task::PidsResponse pids_resp;
    std::optional<runhcs::error> result;
    asio::co_spawn(
        ioc,
        c.call(task_service, "Pids", pids, pids_resp, steady_clock::now() + milliseconds(10000)),
        [&](std::exception_ptr, runhcs::error e) { result = e; });
    co_await sleep_for(milliseconds(100));
    peer.reset();  // SIGKILL
    for (int i = 0; i < 2500 && !result; ++i) {
      co_await sleep_for(milliseconds(2));
    }
    EXPECT_TRUE(result);
    if (result) {
      EXPECT_EQ(result->code, errc::closed) << result->message;
    }
  });
}

}  // namespace
}  // namespace runhcs::ttrpc
