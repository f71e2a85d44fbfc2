// Process launch on Windows with win_child.exe standing in for serve: readiness by EOF, the
// deadline, early exit, the handle list, the job, detach.
#include <windows.h>

#include <boost/asio/this_coro.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "process/launch.hpp"
#include "test_support.hpp"

namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using namespace runhcs;
using namespace runhcs::test;

// win_child.exe sits beside this test binary.
fs::path win_child() {
  wchar_t self[MAX_PATH];
  ::GetModuleFileNameW(nullptr, self, MAX_PATH);
  return fs::path(self).parent_path() / "win_child.exe";
}

fs::path stderr_file(const std::string& test) {
  return fs::temp_directory_path() /
         ("runhcs-" + test + "-" + std::to_string(::GetCurrentProcessId()) + ".log");
}

process::launch_options options_for(std::vector<std::string> args, const std::string& test) {
  return {win_child(), std::move(args), fs::temp_directory_path(), stderr_file(test)};
}

bool process_alive(DWORD pid) {
  HANDLE h = ::OpenProcess(SYNCHRONIZE, FALSE, pid);
  if (h == nullptr) {
    return false;
  }
  bool alive = ::WaitForSingleObject(h, 0) == WAIT_TIMEOUT;
  ::CloseHandle(h);
  return alive;
}

// Waits (bounded) for a process to be gone.
bool process_gone_within(DWORD pid, DWORD ms) {
  HANDLE h = ::OpenProcess(SYNCHRONIZE, FALSE, pid);
  if (h == nullptr) {
    return true;
  }
  bool gone = ::WaitForSingleObject(h, ms) == WAIT_OBJECT_0;
  ::CloseHandle(h);
  return gone;
}

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(launch, drains_stdout_to_eof_and_the_child_keeps_running) {
  run_bounded([]() -> asio::awaitable<void> {
    auto executor = co_await asio::this_coro::executor;
    auto opts = options_for({"print-and-stay"}, "drain");
    auto child = process::launch(executor, opts);
    EXPECT_TRUE(child.has_value()) << (child ? "" : child.error().message);
    if (!child) {
      co_return;
    }
    auto drained = co_await child->drain_stdout(steady_clock::now() + 10s);
    EXPECT_EQ(drained.what, process::drain_outcome::kind::eof);
    EXPECT_EQ(drained.output, "ready\n");
    EXPECT_FALSE(child->try_exit_status().has_value());
    EXPECT_EQ(slurp(opts.stderr_path), "oops\n");
    // Killed by the destructor: nothing outlives a child object that was not detached.
    DWORD pid = static_cast<DWORD>(child->pid());
    { process::child owner = std::move(*child); }
    EXPECT_TRUE(process_gone_within(pid, 5000));
    std::error_code ignored;
    fs::remove(opts.stderr_path, ignored);
  });
}

TEST(launch, a_child_that_never_closes_stdout_is_killed_at_the_deadline) {
  run_bounded([]() -> asio::awaitable<void> {
    auto executor = co_await asio::this_coro::executor;
    auto child = process::launch(executor, options_for({"never-close"}, "never"));
    EXPECT_TRUE(child.has_value());
    if (!child) {
      co_return;
    }
    auto start = steady_clock::now();
    auto drained = co_await child->drain_stdout(start + 500ms);
    auto elapsed = since(start);
    std::printf("drain with a 500 ms deadline gave up after %lld ms\n",
                static_cast<long long>(elapsed.count()));
    EXPECT_EQ(drained.what, process::drain_outcome::kind::timed_out);
    EXPECT_GE(elapsed, 500ms);
    EXPECT_LT(elapsed, 1000ms);
    child->kill();
    EXPECT_TRUE(child->try_exit_status().has_value());
    EXPECT_FALSE(process_alive(static_cast<DWORD>(child->pid())));
  });
}

TEST(launch, a_child_that_exits_early_is_dead_not_ready) {
  run_bounded([]() -> asio::awaitable<void> {
    auto executor = co_await asio::this_coro::executor;
    auto child = process::launch(executor, options_for({"exit-early"}, "early"));
    EXPECT_TRUE(child.has_value());
    if (!child) {
      co_return;
    }
    auto drained = co_await child->drain_stdout(steady_clock::now() + 10s);
    EXPECT_EQ(drained.what, process::drain_outcome::kind::eof);
    EXPECT_TRUE(drained.output.empty());
    auto status = co_await child->wait_exit(steady_clock::now() + 5s);
    EXPECT_TRUE(status.has_value());
    if (status) {
      EXPECT_EQ(status->code, 3);
    }
    auto again = child->try_exit_status();
    EXPECT_TRUE(again.has_value() && again->code == 3);
  });
}

TEST(launch, wait_exit_ends_at_its_deadline) {
  run_bounded([]() -> asio::awaitable<void> {
    auto executor = co_await asio::this_coro::executor;
    auto child = process::launch(executor, options_for({"never-close"}, "wait"));
    EXPECT_TRUE(child.has_value());
    if (!child) {
      co_return;
    }
    auto start = steady_clock::now();
    auto status = co_await child->wait_exit(start + 300ms);
    auto elapsed = since(start);
    EXPECT_FALSE(status.has_value());
    EXPECT_GE(elapsed, 300ms);
    EXPECT_LT(elapsed, 800ms);
  });
}

TEST(launch, arguments_arrive_unchanged) {
  run_bounded([]() -> asio::awaitable<void> {
    auto executor = co_await asio::this_coro::executor;
    auto child =
        process::launch(executor, options_for({"echo-args", "plain", "two words", R"(quote"inside)",
                                               R"(trailing\)", R"(C:\path with\spaces\)", ""},
                                              "args"));
    EXPECT_TRUE(child.has_value());
    if (!child) {
      co_return;
    }
    auto drained = co_await child->drain_stdout(steady_clock::now() + 10s);
    EXPECT_EQ(
        drained.output,
        "[plain]\n[two words]\n[quote\"inside]\n[trailing\\]\n[C:\\path with\\spaces\\]\n[]\n");
  });
}

TEST(launch, only_the_listed_handles_reach_the_child_and_the_job_reaches_grandchildren) {
  run_bounded([]() -> asio::awaitable<void> {
    auto executor = co_await asio::this_coro::executor;
    // An inheritable handle of ours, as start's own stdout from containerd is: if it leaked,
    // the grandchild would hold the pipe open and containerd would wait for it.
    HANDLE sentinel_read = nullptr;
    HANDLE sentinel_write = nullptr;
    EXPECT_TRUE(::CreatePipe(&sentinel_read, &sentinel_write, nullptr, 0));
    ::SetHandleInformation(sentinel_write, HANDLE_FLAG_INHERIT, HANDLE_FLAG_INHERIT);

    auto child = process::launch(executor, options_for({"spawn-grandchild"}, "grandchild"));
    EXPECT_TRUE(child.has_value());
    if (!child) {
      co_return;
    }
    auto drained = co_await child->drain_stdout(steady_clock::now() + 10s);
    EXPECT_EQ(drained.what, process::drain_outcome::kind::eof);
    DWORD grandchild = static_cast<DWORD>(std::strtoul(drained.output.c_str(), nullptr, 10));
    EXPECT_NE(grandchild, 0u) << drained.output;
    EXPECT_TRUE(process_alive(grandchild));

    // Once our write end is closed, nobody holds the sentinel pipe: the reader sees it broken.
    ::CloseHandle(sentinel_write);
    bool broken = false;
    for (int i = 0; i < 200 && !broken; ++i) {
      DWORD available = 0;
      broken = !::PeekNamedPipe(sentinel_read, nullptr, 0, nullptr, &available, nullptr) &&
               ::GetLastError() == ERROR_BROKEN_PIPE;
      if (!broken) {
        ::Sleep(10);
      }
    }
    ::CloseHandle(sentinel_read);
    EXPECT_TRUE(broken) << "an inheritable handle of ours reached the child or grandchild";

    // The child has exited; kill() still ends what it left running.
    child->kill();
    EXPECT_TRUE(process_gone_within(grandchild, 5000));
  });
}

TEST(launch, a_detached_child_outlives_its_owner) {
  run_bounded([]() -> asio::awaitable<void> {
    auto executor = co_await asio::this_coro::executor;
    DWORD pid = 0;
    {
      auto child = process::launch(executor, options_for({"print-and-stay"}, "detach"));
      EXPECT_TRUE(child.has_value());
      if (!child) {
        co_return;
      }
      auto drained = co_await child->drain_stdout(steady_clock::now() + 10s);
      EXPECT_EQ(drained.what, process::drain_outcome::kind::eof);
      pid = static_cast<DWORD>(child->pid());
      child->detach();
    }
    EXPECT_TRUE(process_alive(pid));
    HANDLE h = ::OpenProcess(PROCESS_TERMINATE | SYNCHRONIZE, FALSE, pid);
    if (h != nullptr) {
      ::TerminateProcess(h, 0);
      ::WaitForSingleObject(h, 5000);
      ::CloseHandle(h);
    }
  });
}

TEST(launch, a_missing_executable_is_named_in_the_error) {
  boost::asio::io_context io;
  process::launch_options opts{"C:\\no\\such\\serve.exe", {}, {}, stderr_file("missing")};
  auto child = process::launch(io.get_executor(), opts);
  ASSERT_FALSE(child.has_value());
  EXPECT_NE(child.error().message.find("serve.exe"), std::string::npos) << child.error().message;
}

}  // namespace
