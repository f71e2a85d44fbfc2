// `delete` after a dead shim: the response bytes, panic.log's head, killing only processes
// that are still the recorded ones, the socket, and a bundle that is already gone.
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "backend/reaper.hpp"
#include "containerd/task/v2/shim.pb.h"
#include "service/task_record.hpp"
#include "shim/delete.hpp"

namespace runhcs::shim {
namespace {

using namespace std::chrono_literals;

class delete_test : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/runhcs-delete-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    bundle_ = pattern;
  }
  void TearDown() override {
    for (int pid : children_) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    std::filesystem::remove_all(bundle_);
  }

  // A child in its own group, reaped by a thread as soon as it dies (as init would).
  int spawn_sleeper() {
    int pid = ::fork();
    if (pid == 0) {
      ::setpgid(0, 0);
      ::execl("/bin/sleep", "sleep", "100", nullptr);
      ::_exit(127);
    }
    std::thread([pid] { ::waitpid(pid, nullptr, 0); }).detach();
    std::this_thread::sleep_for(50ms);  // past exec, so the start time is the sleeper's
    return pid;
  }

  static ::containerd::task::v2::DeleteResponse decode(const delete_outcome& out) {
    ::containerd::task::v2::DeleteResponse r;
    EXPECT_TRUE(r.ParseFromString(out.response));
    return r;
  }

  std::filesystem::path bundle_;
  std::vector<int> children_;
};

TEST_F(delete_test, bundle_is_required) {
  auto r = delete_task("", 1s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "bundle is required");
}

TEST_F(delete_test, a_missing_bundle_still_succeeds) {
  auto before = std::chrono::system_clock::now();
  auto r = delete_task(bundle_ / "gone", 1s);
  ASSERT_TRUE(r);
  auto response = decode(*r);
  EXPECT_EQ(response.exit_status(), 255U);
  EXPECT_EQ(response.pid(), 0U);
  EXPECT_GE(response.exited_at().seconds(),
            std::chrono::duration_cast<std::chrono::seconds>(before.time_since_epoch()).count());
  EXPECT_TRUE(r->warnings.empty());
}

TEST_F(delete_test, reports_at_most_one_mib_of_panic_log) {
  std::ofstream(bundle_ / "panic.log") << std::string(3 << 20, 'x');
  auto r = delete_task(bundle_, 1s);
  ASSERT_TRUE(r);
  EXPECT_GE(r->warnings.size(), max_panic_log_report);
  EXPECT_LE(r->warnings.size(), max_panic_log_report + 64);
}

TEST_F(delete_test, kills_the_recorded_processes_and_reports_the_known_exit) {
  int pid = spawn_sleeper();
  service::task_record record;
  record.init = {pid, backend::process_start_time(pid).value_or(0)};
  record.exit_status = 7;
  ASSERT_TRUE(service::write_task_record(bundle_, record));
  auto r = delete_task(bundle_, 5s);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->warnings.empty()) << r->warnings;
  EXPECT_FALSE(backend::process_start_time(pid)) << "process " << pid << " survived";
  auto response = decode(*r);
  EXPECT_EQ(response.pid(), static_cast<uint32_t>(pid));
  EXPECT_EQ(response.exit_status(), 7U);
  EXPECT_FALSE(service::read_task_record(bundle_));
}

TEST_F(delete_test, leaves_a_process_whose_start_time_differs) {
  int pid = spawn_sleeper();
  children_.push_back(pid);
  service::task_record record;
  record.init = {pid, backend::process_start_time(pid).value_or(0) + 1};  // a reused pid
  ASSERT_TRUE(service::write_task_record(bundle_, record));
  auto r = delete_task(bundle_, 1s);
  ASSERT_TRUE(r);
  EXPECT_TRUE(backend::process_start_time(pid).has_value());
  EXPECT_EQ(decode(*r).exit_status(), 255U);
}

TEST_F(delete_test, removes_a_dead_socket_but_not_a_live_one) {
  auto make_socket = [&](const std::string& name, bool listening) {
    auto path = (bundle_ / name).string();
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::memcpy(sa.sun_path, path.c_str(), path.size());
    EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
    if (listening) {
      EXPECT_EQ(::listen(fd, 1), 0);
      return std::make_pair(path, fd);
    }
    ::close(fd);
    return std::make_pair(path, -1);
  };
  auto [dead, unused] = make_socket("dead.sock", false);
  std::ofstream(bundle_ / "address") << "unix://" << dead;
  ASSERT_TRUE(delete_task(bundle_, 1s));
  EXPECT_FALSE(std::filesystem::exists(dead));

  auto [live, fd] = make_socket("live.sock", true);
  std::ofstream(bundle_ / "address", std::ios::trunc) << "unix://" << live;
  ASSERT_TRUE(delete_task(bundle_, 1s));
  EXPECT_TRUE(std::filesystem::exists(live));
  ::close(fd);
}

}  // namespace
}  // namespace runhcs::shim
