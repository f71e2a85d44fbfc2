// The start command, driven as containerd drives it: every failure path of issue 3 and the
// success paths, asserting exact output, exit codes, bundle files and leftover processes.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "containerd/task/v2/shim.pb.h"
#include "shim_runner.hpp"
#include "ttrpc_raw.hpp"

namespace runhcs::test {
namespace {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr const char* type_key = "io.kubernetes.cri.container-type";
constexpr const char* id_key = "io.kubernetes.cri.sandbox-id";

std::string sha256_hex(const std::string& text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(text.data(), text.size(), digest, &size, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < size; ++i) {
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 15];
  }
  return out;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

bool alive(int pid) {
  return pid > 0 && ::kill(pid, 0) == 0;
}

bool wait_gone(int pid, std::chrono::milliseconds bound) {
  auto until = std::chrono::steady_clock::now() + bound;
  while (std::chrono::steady_clock::now() < until) {
    if (!alive(pid) ||
        read_file("/proc/" + std::to_string(pid) + "/stat").find(") Z ") != std::string::npos) {
      return true;
    }
    std::this_thread::sleep_for(5ms);
  }
  return false;
}

// True once no live process mentions needle.
bool wait_gone_all(const std::string& needle, std::chrono::milliseconds bound = 2s) {
  auto until = std::chrono::steady_clock::now() + bound;
  while (!processes_mentioning(needle).empty()) {
    if (std::chrono::steady_clock::now() > until) {
      return false;
    }
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

class start_test : public ::testing::Test {
 protected:
  void TearDown() override {
    for (int pid : processes_mentioning(root_.path().string())) {
      ::kill(pid, SIGKILL);
    }
  }

  std::string containerd_address() const { return (root_.path() / "containerd.sock").string(); }
  fs::path socket_dir() const { return root_.path() / "s"; }

  // containerd's rule, computed here independently of the shim.
  std::string address_for(const std::string& id) const {
    return "unix://" + (socket_dir() / sha256_hex(containerd_address() + "/ns1/" + id)).string();
  }

  fs::path bundle(const std::string& name,
                  const std::vector<std::pair<std::string, std::string>>& annotations = {}) {
    auto dir = root_.path() / name;
    write_config(dir, annotations);
    return dir;
  }

  std::vector<std::string> flags(const std::string& id) const {
    return {"-namespace",          "ns1", "-address", containerd_address(), "-publish-binary",
            "/usr/bin/containerd", "-id", id};
  }

  run_result start(const fs::path& dir, const std::string& id, run_options options = {}) {
    options.cwd = dir;
    options.args = flags(id);
    options.args.push_back("start");
    options.env.emplace_back("RUNHCS_SOCKET_DIR", socket_dir().string());
    return run_shim(options);
  }

  // A failed start: exit 1, nothing on stdout, one clear line first on stderr, no bundle
  // file, no temp file, no shim of ours left running.
  void expect_clean_failure(const run_result& r, const fs::path& dir) {
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_FALSE(r.hit_limit);
    EXPECT_EQ(r.out, "");
    EXPECT_FALSE(r.err.empty());
    EXPECT_EQ(r.err.back(), '\n');
    EXPECT_FALSE(fs::exists(dir / "address"));
    EXPECT_FALSE(fs::exists(dir / "shim.pid"));
    for (const auto& entry : fs::directory_iterator(dir)) {
      EXPECT_NE(entry.path().extension(), ".tmp") << "temp file left: " << entry.path();
    }
    EXPECT_EQ(processes_mentioning(root_.path().string()), std::vector<int>{});
  }

  std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

  temp_dir root_;
};

TEST_F(start_test, required_flags_are_checked_in_runhcs_order) {
  auto dir = bundle("b");
  struct row {
    std::vector<std::string> args;
    const char* message;
  };
  const row rows[] = {
      {{"start"}, "namespace is required\n"},
      {{"-id", "x", "start"}, "namespace is required\n"},
      {{"-namespace", "ns1", "start"}, "address is required\n"},
      {{"-namespace", "ns1", "-address", "/a", "start"}, "publish-binary is required\n"},
      {{"-namespace", "ns1", "-address", "/a", "-publish-binary", "/c", "start"},
       "id is required\n"},
      {{"-namespace", "ns1", "-address", "/a", "-id", "x", "start"},
       "publish-binary is required\n"},
  };
  for (const auto& r : rows) {
    auto result = run_shim({.cwd = dir, .args = r.args});
    EXPECT_EQ(result.exit_code, 1);
    EXPECT_EQ(result.out, "");
    EXPECT_EQ(result.err, r.message);
  }
}

TEST_F(start_test, unknown_flags_and_commands_fail_with_one_line) {
  auto dir = bundle("b");
  auto args = flags("c1");
  auto unknown_flag = args;
  unknown_flag.insert(unknown_flag.begin(), "-bogus");
  auto r = run_shim({.cwd = dir, .args = unknown_flag});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "flag provided but not defined: -bogus\n");
  auto unknown_command = args;
  unknown_command.push_back("frobnicate");
  r = run_shim({.cwd = dir, .args = unknown_command});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "unknown command \"frobnicate\": want start, serve or delete\n");
  r = run_shim({.cwd = dir, .args = args});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "missing command: want start, serve or delete\n");
}

TEST_F(start_test, ids_and_namespaces_that_are_not_identifiers_are_refused) {
  auto dir = bundle("b");
  for (const char* id : {"../evil", "a/b", "x..y", "-x"}) {
    auto r = start(dir, id);
    expect_clean_failure(r, dir);
    EXPECT_NE(r.err.find("invalid id"), std::string::npos) << r.err;
  }
  auto args = flags("c1");
  args[1] = "ns/../x";
  args.push_back("start");
  auto r = run_shim({.cwd = dir, .args = args});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("invalid namespace"), std::string::npos) << r.err;
}

TEST_F(start_test, a_missing_config_json_is_the_open_error) {
  auto dir = root_.path() / "empty";
  fs::create_directories(dir);
  auto r = start(dir, "c1");
  expect_clean_failure(r, dir);
  EXPECT_EQ(r.err, "open " + (dir / "config.json").string() + ": no such file or directory\n");
}

TEST_F(start_test, an_unreadable_config_json_fails_cleanly) {
  auto dir = root_.path() / "unreadable";
  fs::create_directories(dir / "config.json");  // a directory where the file should be
  auto r = start(dir, "c1");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("config.json"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
}

TEST_F(start_test, invalid_json_is_a_deserialize_error) {
  for (std::string text :
       {"{", "not json", "[1,2]", R"({"annotations":{"a":1}})", R"({"annotations":[]})"}) {
    auto dir = root_.path() / "bad";
    fs::create_directories(dir);
    std::ofstream(dir / "config.json") << text;
    auto r = start(dir, "c1");
    expect_clean_failure(r, dir);
    EXPECT_EQ(r.err.rfind("failed to deserialize valid OCI spec: ", 0), 0u)
        << text << ": " << r.err;
    fs::remove_all(dir);
  }
}

TEST_F(start_test, huge_and_deeply_nested_config_json_fail_fast) {
  auto huge = root_.path() / "huge";
  fs::create_directories(huge);
  {
    std::ofstream out(huge / "config.json");
    out << R"({"process":")" << std::string(40 << 20, 'x') << R"("})";
  }
  auto r = start(huge, "c1");
  expect_clean_failure(r, huge);
  EXPECT_LT(r.elapsed, 5s);

  auto deep = root_.path() / "deep";
  fs::create_directories(deep);
  {
    std::ofstream out(deep / "config.json");
    out << R"({"process":)" << std::string(200000, '[') << std::string(200000, ']') << "}";
  }
  r = start(deep, "c1");
  expect_clean_failure(r, deep);
  EXPECT_EQ(r.err.rfind("failed to deserialize valid OCI spec: ", 0), 0u) << r.err;
}

TEST_F(start_test, annotation_rules_have_runhcs_messages) {
  struct row {
    std::vector<std::pair<std::string, std::string>> annotations;
    std::string id;
    std::string message;
  };
  const row rows[] = {
      {{{type_key, "pod"}}, "c1", "invalid 'io.kubernetes.cri.container-type': 'pod'"},
      {{{type_key, ""}}, "c1", "invalid 'io.kubernetes.cri.container-type': ''"},
      {{{type_key, "sandbox"}},
       "c1",
       "cannot specify 'io.kubernetes.cri.container-type' without "
       "'io.kubernetes.cri.sandbox-id'"},
      {{{type_key, "container"}, {id_key, ""}},
       "c1",
       "cannot specify 'io.kubernetes.cri.container-type' without "
       "'io.kubernetes.cri.sandbox-id'"},
      {{{id_key, "pod1"}},
       "c1",
       "cannot specify 'io.kubernetes.cri.sandbox-id' without "
       "'io.kubernetes.cri.container-type'"},
      {{{type_key, "sandbox"}, {id_key, "pod1"}},
       "other",
       "'id' and 'io.kubernetes.cri.sandbox-id' must match for "
       "'io.kubernetes.cri.container-type=sandbox'"},
  };
  int n = 0;
  for (const auto& row : rows) {
    auto dir = bundle("rule" + std::to_string(n++), row.annotations);
    auto r = start(dir, row.id);
    expect_clean_failure(r, dir);
    EXPECT_EQ(r.err, row.message + "\n");
  }
}

TEST_F(start_test, a_sandbox_id_that_is_not_an_identifier_is_refused) {
  auto dir = bundle("b", {{type_key, "container"}, {id_key, "../../etc"}});
  auto r = start(dir, "c1");
  expect_clean_failure(r, dir);
  EXPECT_NE(r.err.find("sandbox-id"), std::string::npos) << r.err;
}

TEST_F(start_test, bad_timeout_settings_name_the_variable) {
  auto dir = bundle("b");
  for (const char* value : {"abc", "5", "-1s", "0"}) {
    auto r = start(dir, "c1", {.env = {{"RUNHCS_READY_TIMEOUT", value}}});
    expect_clean_failure(r, dir);
    EXPECT_EQ(r.err, std::string("invalid RUNHCS_READY_TIMEOUT \"") + value +
                         "\": want a positive duration such as 5s or 250ms\n");
  }
}

TEST_F(start_test, no_pod_shim_fails_at_the_dial_deadline) {
  auto dir = bundle("b", {{type_key, "container"}, {id_key, "pod1"}});
  auto r = start(dir, "c1", {.env = {{"RUNHCS_DIAL_TIMEOUT", "300ms"}}});
  expect_clean_failure(r, dir);
  EXPECT_EQ(r.err, "failed to connect to hosting shim: dial " + address_for("pod1") +
                       ": timed out after 300ms (RUNHCS_DIAL_TIMEOUT)\n");
  EXPECT_GE(r.elapsed, 300ms);
  EXPECT_LT(r.elapsed, 3s);
}

TEST_F(start_test, a_pod_shim_that_never_answers_fails_at_the_call_deadline) {
  fs::create_directories(socket_dir());
  int listener = listen_unix(address_for("pod1").substr(7));  // accepts in the backlog only
  auto dir = bundle("b", {{type_key, "container"}, {id_key, "pod1"}});
  auto r = start(dir, "c1", {.env = {{"RUNHCS_CONNECT_TIMEOUT", "300ms"}}});
  ::close(listener);
  expect_clean_failure(r, dir);
  EXPECT_EQ(r.err,
            "failed to get shim pid from hosting shim: Connect: timed out after 300ms "
            "(RUNHCS_CONNECT_TIMEOUT)\n");
  EXPECT_GE(r.elapsed, 300ms);
  EXPECT_LT(r.elapsed, 3s);
}

TEST_F(start_test, a_pod_shim_that_answers_an_error_is_reported) {
  fs::create_directories(socket_dir());
  int listener = listen_unix(address_for("pod1").substr(7));
  // The pod's shim: reads one request and answers NOT_FOUND, byte for byte.
  std::thread peer([listener] {
    int fd = ::accept(listener, nullptr, nullptr);
    char buffer[512];
    (void)::read(fd, buffer, sizeof buffer);
    ::ttrpc::Response response;
    response.mutable_status()->set_code(5);
    response.mutable_status()->set_message("sandbox pod1 not found");
    auto bytes = frame(1, 2, response.SerializeAsString());
    (void)::write(fd, bytes.data(), bytes.size());
    ::close(fd);
  });
  auto dir = bundle("b", {{type_key, "container"}, {id_key, "pod1"}});
  auto r = start(dir, "c1");
  peer.join();
  ::close(listener);
  expect_clean_failure(r, dir);
  EXPECT_EQ(r.err.rfind("failed to get shim pid from hosting shim: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find("sandbox pod1 not found"), std::string::npos) << r.err;
}

// A stand-in for serve, to make it misbehave in ways the real one does not.
fs::path fake_serve(const fs::path& dir, const std::string& body) {
  auto path = dir / "fake-serve.sh";
  std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
  fs::permissions(path, fs::perms::owner_all);
  return path;
}

TEST_F(start_test, a_serve_that_exits_before_readiness_is_a_failure_with_its_status) {
  auto dir = bundle("b");
  auto serve = fake_serve(root_.path(), "echo 'it broke' >&2\nexit 3");
  auto r = start(dir, "c1", {.env = {{"RUNHCS_SERVE_EXECUTABLE", serve.string()}}});
  expect_clean_failure(r, dir);
  EXPECT_EQ(first_line(r.err), "shim exited before it was ready: exit status 3");
  EXPECT_NE(r.err.find("panic.log: it broke"), std::string::npos) << r.err;
}

TEST_F(start_test, a_serve_that_reports_an_error_on_stdout_is_a_failure) {
  // The real serve, unable to make its socket directory: it says why and exits.
  auto blocker = root_.path() / "file";
  std::ofstream(blocker) << "x";
  auto dir = bundle("b");
  run_options options;
  options.env = {{"RUNHCS_SOCKET_DIR", (blocker / "s").string()}};
  options.cwd = dir;
  options.args = flags("c1");
  options.args.push_back("start");
  auto r = run_shim(options);
  expect_clean_failure(r, dir);
  EXPECT_EQ(first_line(r.err), "shim exited before it was ready: exit status 1");
  EXPECT_NE(r.err.find("listen unix://"), std::string::npos) << r.err;
}

TEST_F(start_test, a_serve_that_never_signals_readiness_is_killed_at_the_deadline) {
  // The real serve, stuck reading runtime options from a stdin that never ends.
  auto dir = bundle("b");
  auto r = start(dir, "c1",
                 {.env = {{"RUNHCS_READY_TIMEOUT", "300ms"}, {"RUNHCS_STDIN_TIMEOUT", "30s"}},
                  .stdin_held_open = true});
  expect_clean_failure(r, dir);
  EXPECT_EQ(first_line(r.err),
            "timed out after 300ms waiting for the shim to be ready (RUNHCS_READY_TIMEOUT)");
  EXPECT_GE(r.elapsed, 300ms);
  EXPECT_LT(r.elapsed, 5s);
}

TEST_F(start_test, a_grandchild_holding_the_pipe_is_killed_with_serve) {
  auto dir = bundle("b");
  // The grandchild's command line names our temp dir, so a survivor would be found.
  auto serve =
      fake_serve(root_.path(), "sh -c 'sleep 30; :' " + root_.path().string() + " &\nsleep 30");
  auto r = start(
      dir, "c1",
      {.env = {{"RUNHCS_SERVE_EXECUTABLE", serve.string()}, {"RUNHCS_READY_TIMEOUT", "300ms"}}});
  expect_clean_failure(r, dir);
  EXPECT_EQ(first_line(r.err),
            "timed out after 300ms waiting for the shim to be ready (RUNHCS_READY_TIMEOUT)");
}

TEST_F(start_test, an_unwritable_bundle_fails_and_kills_serve) {
  auto dir = bundle("b");
  fs::create_directories(dir / "address" / "in-the-way");  // rename over it fails
  auto r = start(dir, "c1");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("rename"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "shim.pid"));
  EXPECT_TRUE(fs::is_directory(dir / "address"));
  EXPECT_TRUE(wait_gone_all(root_.path().string()));
}

TEST_F(start_test, an_unwritable_panic_log_fails_before_launching) {
  auto dir = bundle("b");
  fs::create_directories(dir / "panic.log");
  auto r = start(dir, "c1");
  expect_clean_failure(r, dir);
  EXPECT_NE(r.err.find("panic.log"), std::string::npos) << r.err;
}

TEST_F(start_test, a_signal_during_start_is_a_clean_failure) {
  auto dir = bundle("b");
  auto r = start(dir, "c1",
                 {.env = {{"RUNHCS_READY_TIMEOUT", "20s"}, {"RUNHCS_STDIN_TIMEOUT", "30s"}},
                  .stdin_held_open = true,
                  .sigterm_after = 300ms});
  expect_clean_failure(r, dir);
  EXPECT_EQ(r.err, "start interrupted by signal 15\n");
  EXPECT_LT(r.elapsed, 5s);
}

TEST_F(start_test, a_standalone_container_gets_its_own_ready_shim) {
  auto dir = bundle("b");
  auto r = start(dir, "c1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.out, address_for("c1"));
  EXPECT_EQ(read_file(dir / "address"), r.out);
  int pid = std::stoi(read_file(dir / "shim.pid"));
  ASSERT_TRUE(alive(pid));
  EXPECT_NE(read_file("/proc/" + std::to_string(pid) + "/cmdline").find("serve"),
            std::string::npos);
  EXPECT_EQ(::getsid(pid), pid) << "serve must lead its own session";
  EXPECT_EQ(fs::status(socket_dir()).permissions() & fs::perms::all, fs::perms::owner_all);

  containerd::task::v2::ConnectRequest connect;
  connect.set_id("c1");
  auto reply = call_raw(r.out, "Connect", connect.SerializeAsString());
  ASSERT_TRUE(reply.has_value());
  EXPECT_FALSE(reply->has_status());
  containerd::task::v2::ConnectResponse answer;
  ASSERT_TRUE(answer.ParseFromString(reply->payload()));
  EXPECT_EQ(static_cast<int>(answer.shim_pid()), pid);

  // Shutdown for another id is not ours to act on.
  containerd::task::v2::ShutdownRequest other;
  other.set_id("someone-else");
  ASSERT_TRUE(call_raw(r.out, "Shutdown", other.SerializeAsString()).has_value());
  std::this_thread::sleep_for(50ms);
  EXPECT_TRUE(alive(pid));

  containerd::task::v2::ShutdownRequest shutdown;
  shutdown.set_id("c1");
  call_raw(r.out, "Shutdown", shutdown.SerializeAsString());
  EXPECT_TRUE(wait_gone(pid, 4s));
  EXPECT_FALSE(fs::exists(r.out.substr(7))) << "the socket must be removed";
}

TEST_F(start_test, shutdown_now_exits_at_once) {
  auto dir = bundle("b");
  auto r = start(dir, "c1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  int pid = std::stoi(read_file(dir / "shim.pid"));
  containerd::task::v2::ShutdownRequest shutdown;
  shutdown.set_id("c1");
  shutdown.set_now(true);
  call_raw(r.out, "Shutdown", shutdown.SerializeAsString());
  EXPECT_TRUE(wait_gone(pid, 1s));
  EXPECT_FALSE(fs::exists(r.out.substr(7)));
}

TEST_F(start_test, a_pods_containers_join_the_pods_shim) {
  auto sandbox = bundle("pod", {{type_key, "sandbox"}, {id_key, "pod1"}});
  auto r = start(sandbox, "pod1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.out, address_for("pod1"));
  const std::string pod_pid = read_file(sandbox / "shim.pid");
  EXPECT_NE(read_file("/proc/" + pod_pid + "/cmdline").find("--is-sandbox"), std::string::npos);

  for (const char* id : {"app1", "app2"}) {
    auto dir = bundle(id, {{type_key, "container"}, {id_key, "pod1"}});
    auto joined = start(dir, id);
    ASSERT_EQ(joined.exit_code, 0) << joined.err;
    EXPECT_EQ(joined.err, "");
    EXPECT_EQ(joined.out, r.out);
    EXPECT_EQ(read_file(dir / "address"), r.out);
    EXPECT_EQ(read_file(dir / "shim.pid"), pod_pid);
    EXPECT_FALSE(fs::exists(dir / "panic.log")) << "no shim is launched for a pod's container";
  }
  EXPECT_EQ(processes_mentioning(root_.path().string()).size(), 1u);
}

TEST_F(start_test, start_again_for_a_live_shim_fails_with_address_in_use) {
  auto dir = bundle("b");
  auto r = start(dir, "c1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto again_dir = bundle("again");
  auto again = start(again_dir, "c1");
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_EQ(again.out, "");
  EXPECT_EQ(first_line(again.err), "shim exited before it was ready: exit status 1");
  EXPECT_FALSE(fs::exists(again_dir / "address"));
  EXPECT_EQ(processes_mentioning(root_.path().string()).size(), 1u) << "the first shim lives on";
}

}  // namespace
}  // namespace runhcs::test
