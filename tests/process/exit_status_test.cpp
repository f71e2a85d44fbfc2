// exit_status::describe() must word endings as Go's os/exec does: containerd and runhcs users
// read these texts in errors.
#include <gtest/gtest.h>

#include <csignal>
#include <string>

#include "process/launch.hpp"

namespace runhcs::process {
namespace {

struct wording_case {
  const char* name;
  exit_status status;
  const char* expected;
};

class exit_status_wording : public testing::TestWithParam<wording_case> {};

TEST_P(exit_status_wording, matches_go) {
  EXPECT_EQ(GetParam().status.describe(), GetParam().expected);
}

const wording_case portable_cases[] = {
    {"success", {0, 0}, "exit status 0"},
    {"code_3", {3, 0}, "exit status 3"},
    {"code_255", {255, 0}, "exit status 255"},
    {"below_hex", {0xffff, 0}, "exit status 65535"},
    {"ntstatus_in_hex", {static_cast<int>(0xc0000005U), 0}, "exit status 0xc0000005"},
    {"sigterm", {0, SIGTERM}, "signal: terminated"},
    {"sigsegv", {0, SIGSEGV}, "signal: segmentation fault"},
    {"sigint", {0, SIGINT}, "signal: interrupt"},
    {"sigabrt", {0, SIGABRT}, "signal: aborted"},
};
INSTANTIATE_TEST_SUITE_P(portable, exit_status_wording, testing::ValuesIn(portable_cases),
                         [](const auto& p) { return std::string(p.param.name); });

#if !defined(_WIN32)
const wording_case posix_cases[] = {
    {"sigkill", {0, SIGKILL}, "signal: killed"},
    {"sighup", {0, SIGHUP}, "signal: hangup"},
    {"sigpipe", {0, SIGPIPE}, "signal: broken pipe"},
    {"sigbus", {0, SIGBUS}, "signal: bus error"},
    {"sigusr1", {0, SIGUSR1}, "signal: user defined signal 1"},
    {"sigxcpu", {0, SIGXCPU}, "signal: CPU time limit exceeded"},
    {"unknown_number", {0, 200}, "signal: signal 200"},
};
INSTANTIATE_TEST_SUITE_P(posix, exit_status_wording, testing::ValuesIn(posix_cases),
                         [](const auto& p) { return std::string(p.param.name); });

// Signals Go has no name for fall back to the C library's text, lower-cased.
TEST(exit_status, realtime_signal_uses_lowercased_strsignal) {
  const std::string text = exit_status{0, SIGRTMIN}.describe();
  ASSERT_EQ(text.rfind("signal: ", 0), 0U) << text;
  EXPECT_GT(text.size(), 8U);
  for (char c : text) {
    EXPECT_FALSE(c >= 'A' && c <= 'Z') << text;
  }
  EXPECT_NE(text, "signal: signal " + std::to_string(SIGRTMIN));
}
#endif

}  // namespace
}  // namespace runhcs::process
