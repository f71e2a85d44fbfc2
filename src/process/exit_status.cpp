// How a child ended, in Go's os/exec words, so our errors read like containerd's and runhcs's
// ("... exit status 3", "signal: killed").
#include <cctype>
#include <csignal>
#include <cstring>
#include <string>
#include <utility>

#include "process/launch.hpp"

namespace runhcs::process {
namespace {

// Go's names (syscall signal table on Linux) for the signals it knows.
constexpr std::pair<int, const char*> go_signal_names[] = {
    {SIGINT, "interrupt"},
    {SIGILL, "illegal instruction"},
    {SIGABRT, "aborted"},
    {SIGFPE, "floating point exception"},
    {SIGSEGV, "segmentation fault"},
    {SIGTERM, "terminated"},
#if !defined(_WIN32)
    {SIGHUP, "hangup"},
    {SIGQUIT, "quit"},
    {SIGTRAP, "trace/breakpoint trap"},
    {SIGBUS, "bus error"},
    {SIGKILL, "killed"},
    {SIGUSR1, "user defined signal 1"},
    {SIGUSR2, "user defined signal 2"},
    {SIGPIPE, "broken pipe"},
    {SIGALRM, "alarm clock"},
    {SIGCHLD, "child exited"},
    {SIGCONT, "continued"},
    {SIGSTOP, "stopped (signal)"},
    {SIGTSTP, "stopped"},
    {SIGTTIN, "stopped (tty input)"},
    {SIGTTOU, "stopped (tty output)"},
    {SIGURG, "urgent I/O condition"},
    {SIGXCPU, "CPU time limit exceeded"},
    {SIGXFSZ, "file size limit exceeded"},
    {SIGVTALRM, "virtual timer expired"},
    {SIGPROF, "profiling timer expired"},
    {SIGWINCH, "window changed"},
    {SIGIO, "I/O possible"},
    {SIGSYS, "bad system call"},
#endif
};

std::string signal_name(int signal) {
  for (const auto& [number, name] : go_signal_names) {
    if (number == signal) {
      return name;
    }
  }
#if !defined(_WIN32)
  // glibc says "Unknown signal N" for numbers it does not know; Go says "signal N".
  if (const char* text = ::strsignal(signal);
      text != nullptr && std::strncmp(text, "Unknown signal", 14) != 0) {
    std::string lowered(text);
    for (char& c : lowered) {
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return lowered;
  }
#endif
  return "signal " + std::to_string(signal);
}

// Go prints Windows exit codes of 2^16 and above (NTSTATUS values) in hex.
std::string hex(unsigned value) {
  constexpr const char* digits = "0123456789abcdef";
  std::string text;
  do {
    text.insert(text.begin(), digits[value % 16]);
    value /= 16;
  } while (value != 0);
  return "0x" + text;
}

}  // namespace

std::string exit_status::describe() const {
  if (signal != 0) {
    return "signal: " + signal_name(signal);
  }
  const auto unsigned_code = static_cast<unsigned>(code);
  if (unsigned_code >= (1U << 16)) {
    return "exit status " + hex(unsigned_code);
  }
  return "exit status " + std::to_string(code);
}

}  // namespace runhcs::process
