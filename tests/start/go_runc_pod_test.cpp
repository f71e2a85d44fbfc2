// Interop: a pod hosted by the Go runc shim (containerd-shim-runc-v2). Both shims name sockets
// by containerd's rule, so our start for one of the pod's containers finds the Go shim, asks
// it for its pid over ttrpc, and records it.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fcntl.h>
#include <fstream>
#include <thread>

#include "containerd/task/v2/shim.pb.h"
#include "shim_runner.hpp"
#include "ttrpc_raw.hpp"

namespace runhcs::test {
namespace {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr const char* go_shim = "/usr/bin/containerd-shim-runc-v2";

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(go_runc_pod, our_start_joins_a_pod_hosted_by_the_go_runc_shim) {
  ASSERT_TRUE(fs::exists(go_shim))
      << go_shim << " is missing: scripts/install-deps test installs it";
  temp_dir root;
  const std::string grpc_address = (root.path() / "containerd.sock").string();
  const std::vector<std::string> common{
      "-namespace", "ns1", "-address", grpc_address, "-publish-binary", "/usr/bin/containerd"};

  // The pod's sandbox, started by the Go shim. Its serving process needs a reader on ./log.
  auto pod = root.path() / "pod1";
  write_config(pod, {{"io.kubernetes.cri.container-type", "sandbox"},
                     {"io.kubernetes.cri.sandbox-id", "pod1"}});
  ASSERT_EQ(::mkfifo((pod / "log").c_str(), 0700), 0);
  int log_reader = ::open((pod / "log").c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  ASSERT_GE(log_reader, 0);

  // run_shim runs our binary; the Go shim is run through /bin/sh with the same runner.
  auto go_args = common;
  go_args.insert(go_args.end(), {"-id", "pod1", "start"});
  std::string command = std::string("exec ") + go_shim;
  for (const auto& a : go_args) {
    command += " '" + a + "'";
  }
  run_options go_start{.cwd = pod};
  go_start.args = {"-c", command};
  auto go = run_shell(go_start);
  ASSERT_EQ(go.exit_code, 0) << go.out << go.err;
  const std::string go_address = go.out;
  ASSERT_EQ(go_address.rfind("unix:///run/containerd/s/", 0), 0u) << go_address;

  // The Go shim's serving process, by its command line (it re-runs itself with our -address).
  auto served = processes_mentioning(grpc_address);
  ASSERT_EQ(served.size(), 1u);
  const int go_pid = served.front();

  // Our start for a container of that pod: the Go shim's address and pid.
  auto app = root.path() / "app1";
  write_config(app, {{"io.kubernetes.cri.container-type", "container"},
                     {"io.kubernetes.cri.sandbox-id", "pod1"}});
  auto our_args = common;
  our_args.insert(our_args.end(), {"-id", "app1", "start"});
  auto ours = run_shim({.cwd = app, .args = our_args});
  EXPECT_EQ(ours.exit_code, 0) << ours.err;
  EXPECT_EQ(ours.err, "");
  EXPECT_EQ(ours.out, go_address);
  EXPECT_EQ(read_file(app / "address"), go_address);
  EXPECT_EQ(read_file(app / "shim.pid"), std::to_string(go_pid));

  // Shut the Go shim down through its own API: it exits and removes its socket.
  containerd::task::v2::ShutdownRequest shutdown;
  shutdown.set_id("pod1");
  call_raw(go_address, "Shutdown", shutdown.SerializeAsString());
  for (int i = 0; i < 200 && ::kill(go_pid, 0) == 0; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  if (::kill(go_pid, 0) == 0) {
    ::kill(go_pid, SIGKILL);
    ADD_FAILURE() << "the Go shim did not exit on Shutdown";
  }
  std::error_code ignored;
  fs::remove(go_address.substr(7), ignored);
  ::close(log_reader);
}

}  // namespace
}  // namespace runhcs::test
