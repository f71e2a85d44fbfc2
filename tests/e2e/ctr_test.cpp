// containerd and ctr drive our shim binary: run, exit codes, stdin, terminals, detached tasks,
// exec, a CRI-style pod in one shim, a killed shim cleaned up by delete, a containerd restart.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

namespace {

using namespace std::chrono_literals;

struct outcome {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

// Runs a shell command, bounded by `timeout` (exit 124 when it hits the bound).
outcome sh(const std::string& command, int timeout_s = 30) {
  std::string wrapped = "timeout -k 2 " + std::to_string(timeout_s) + " bash -c '" + [&] {
    std::string escaped;
    for (char c : command) {
      escaped += c == '\'' ? std::string("'\\''") : std::string(1, c);
    }
    return escaped;
  }() + "' 2>&1";
  outcome out;
  FILE* pipe = ::popen(wrapped.c_str(), "r");
  if (pipe == nullptr) {
    return out;
  }
  std::array<char, 4096> buffer{};
  while (std::size_t n = std::fread(buffer.data(), 1, buffer.size(), pipe)) {
    out.output.append(buffer.data(), n);
  }
  int status = ::pclose(pipe);
  out.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return out;
}

const std::string scripts = std::string(RUNHCS_SOURCE_DIR) + "/scripts/containerd-env";
const std::string shim = RUNHCS_SHIM_BINARY;

class ctr_test : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char pattern[] = "/tmp/runhcs-e2e-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
    auto started = sh(scripts + " start " + dir_, 120);
    ASSERT_EQ(started.exit_code, 0) << started.output;
    auto rootfs = sh(scripts + " rootfs " + dir_, 60);
    ASSERT_EQ(rootfs.exit_code, 0) << rootfs.output;
    ctr_ = "ctr --address " + dir_ + "/containerd.sock";
    run_ = ctr_ + " run --rootfs --runtime " + shim + " ";
    rootfs_ = dir_ + "/rootfs";
  }
  static void TearDownTestSuite() {
    sh(scripts + " stop " + dir_, 30);
    sh("rm -rf " + dir_, 30);
  }

  // Waits until the shell condition holds, bounded.
  static bool eventually(const std::string& condition, std::chrono::seconds limit = 10s) {
    auto until = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < until) {
      if (sh(condition, 10).exit_code == 0) {
        return true;
      }
      std::this_thread::sleep_for(100ms);
    }
    return false;
  }

  static void remove_task(const std::string& id) {
    sh(ctr_ + " task kill -s KILL " + id + "; sleep 0.2; " + ctr_ + " task delete " + id + "; " +
       ctr_ + " container delete " + id);
  }

  static inline std::string dir_, ctr_, run_, rootfs_;
};

TEST_F(ctr_test, run_prints_the_output) {
  auto r = sh(run_ + "--rm " + rootfs_ + " hi /bin/sh -c \"echo hi\"");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "hi\n");
}

TEST_F(ctr_test, run_exits_with_the_task_exit_code) {
  auto r = sh(run_ + "--rm " + rootfs_ + " three /bin/sh -c \"exit 3\"");
  EXPECT_EQ(r.exit_code, 3) << r.output;
}

TEST_F(ctr_test, stdin_comes_back) {
  // ctr sends CloseIO at stdin's EOF only once the task exists: keep stdin open a moment.
  auto r = sh("(echo piped; sleep 1) | " + run_ + "--rm " + rootfs_ + " cat1 /bin/cat");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "piped\n");
}

TEST_F(ctr_test, run_with_t_gets_a_terminal) {
  // script gives ctr a terminal of its own, as a person at a console would.
  auto r = sh("script -qec '" + run_ + "--rm -t " + rootfs_ +
              " tty1 /bin/sh -c \"test -t 0 && echo is-a-tty\"' /dev/null </dev/null");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("is-a-tty"), std::string::npos) << r.output;
}

TEST_F(ctr_test, detached_task_ls_exec_ps_kill_delete) {
  auto r = sh(run_ + "-d " + rootfs_ + " det1 /bin/sleep 100");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = sh(ctr_ + " task ls");
  EXPECT_NE(r.output.find("det1"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("RUNNING"), std::string::npos) << r.output;
  r = sh(ctr_ + " task exec --exec-id x1 det1 /bin/sh -c \"echo from-exec; exit 4\"");
  EXPECT_EQ(r.exit_code, 4) << r.output;
  EXPECT_EQ(r.output, "from-exec\n");
  r = sh(ctr_ + " task ps det1");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  auto pid = sh(ctr_ + " task ls | awk '$1==\"det1\"{print $2}'").output;
  ASSERT_FALSE(pid.empty());
  pid.pop_back();
  EXPECT_NE(r.output.find(pid), std::string::npos) << r.output;
  r = sh(ctr_ + " task kill det1");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(eventually(ctr_ + " task ls | grep det1 | grep -q STOPPED"));
  r = sh(ctr_ + " task delete det1");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(sh("kill -0 " + pid).exit_code, 0) << "task process " << pid << " still runs";
  sh(ctr_ + " container delete det1");
}

TEST_F(ctr_test, a_pod_shares_one_shim_and_it_leaves_with_the_last_task) {
  const std::string pod = "--annotation io.kubernetes.cri.sandbox-id=pod1 ";
  auto r = sh(run_ + "-d " + pod + "--annotation io.kubernetes.cri.container-type=sandbox " +
              rootfs_ + " pod1 /bin/sleep 100");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto shim_of = [&](const std::string& id) {
    auto pid =
        sh(ctr_ + " task ls | awk '$1==\"" + id + "\"{print $2}' | xargs -r ps -o ppid= -p").output;
    return std::string(pid.begin() + static_cast<long>(pid.find_first_not_of(' ')), pid.end());
  };
  for (const char* c : {"c1", "c2"}) {
    r = sh(run_ + "--rm " + pod + "--annotation io.kubernetes.cri.container-type=container " +
           rootfs_ + " " + c + " /bin/sh -c \"echo out-" + c + "\"");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(r.output, std::string("out-") + c + "\n");
  }
  r = sh(run_ + "-d " + pod + "--annotation io.kubernetes.cri.container-type=container " + rootfs_ +
         " c3 /bin/sleep 100");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto shim_pid = shim_of("pod1");
  ASSERT_FALSE(shim_pid.empty());
  EXPECT_EQ(shim_of("c3"), shim_pid);
  EXPECT_NE(
      sh("cat /proc/" + shim_pid.substr(0, shim_pid.size() - 1) + "/cmdline | tr \"\\\\0\" \" \"")
          .output.find("serve"),
      std::string::npos);
  remove_task("c3");
  EXPECT_EQ(sh("kill -0 " + shim_pid).exit_code, 0) << "the pod shim left with tasks left";
  remove_task("pod1");
  EXPECT_TRUE(eventually("! kill -0 " + shim_pid + " 2>/dev/null")) << "pod shim still runs";
}

TEST_F(ctr_test, a_killed_shim_is_cleaned_up_by_delete) {
  auto r = sh(run_ + "-d " + rootfs_ + " dead1 /bin/sleep 100");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto pid = sh(ctr_ + " task ls | awk '$1==\"dead1\"{print $2}'").output;
  ASSERT_FALSE(pid.empty());
  pid.pop_back();
  auto shim_pid = sh("ps -o ppid= -p " + pid + " | tr -d \" \"").output;
  ASSERT_FALSE(shim_pid.empty());
  shim_pid.pop_back();
  auto bundle = dir_ + "/state/io.containerd.runtime.v2.task/default/dead1";
  ASSERT_TRUE(std::filesystem::exists(bundle));
  ASSERT_EQ(sh("kill -KILL " + shim_pid).exit_code, 0);
  // containerd notices, runs our delete: the task's process dies and the bundle goes.
  EXPECT_TRUE(eventually("! kill -0 " + pid + " 2>/dev/null || grep -q \"^State:.*Z\" /proc/" +
                         pid + "/status"))
      << "task process " << pid << " survived its shim";
  EXPECT_TRUE(eventually("test ! -e " + bundle)) << bundle;
  EXPECT_TRUE(eventually(ctr_ + " task ls | grep dead1 | grep -q STOPPED || ! " + ctr_ +
                         " task ls | grep -q dead1"));
  sh(ctr_ + " task delete dead1; " + ctr_ + " container delete dead1");
}

TEST_F(ctr_test, a_task_survives_a_containerd_restart) {
  auto r = sh(run_ + "-d " + rootfs_ + " keep1 /bin/sleep 100");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = sh(scripts + " restart " + dir_, 60);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = sh(ctr_ + " task ls");
  EXPECT_NE(r.output.find("keep1"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("RUNNING"), std::string::npos) << r.output;
  r = sh(ctr_ + " task kill -s KILL keep1");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(eventually(ctr_ + " task ls | grep keep1 | grep -q STOPPED"));
  r = sh(ctr_ + " task delete keep1");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  sh(ctr_ + " container delete keep1");
}

}  // namespace
