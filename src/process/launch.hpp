// Process launch for `start`: run serve with stdout on a pipe and stderr on a file, drain the
// pipe to EOF as the readiness signal with a deadline, watch for its exit, kill it on failure.
// One source file per OS (launch_posix.cpp, launch_win.cpp).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/deadline.hpp"
#include "common/result.hpp"

namespace runhcs::process {

struct launch_options {
  std::filesystem::path executable;
  std::vector<std::string> arguments;  // argv[1...]; argv[0] is the executable
  std::filesystem::path working_directory;
  std::filesystem::path stderr_path;  // created or truncated; the child's stderr
  // The child's stdin is ours, inherited as is; its environment is ours. It gets its own
  // session / process group and no console tied to ours, and inherits nothing else.
};

// How a process ended, worded as Go's os/exec does ("exit status 3", "signal: killed").
struct exit_status {
  int code = 0;    // exit code, when it exited
  int signal = 0;  // the signal that ended it (POSIX), 0 if none
  std::string describe() const;
};

// What draining the child's stdout found.
struct drain_outcome {
  enum class kind {
    eof,        // the pipe reached EOF (every writer closed it)
    timed_out,  // the deadline passed first
  };
  kind what = kind::eof;
  std::string output;  // what the child wrote there (the first 64 KiB)
};

// A started child. Owns it: the destructor kills the child and its process group unless
// detach() was called (a failed start leaves nothing running).
class child {
 public:
  child(child&&) noexcept;
  child& operator=(child&&) noexcept;
  ~child();

  int pid() const noexcept;

  // Reads the child's stdout to EOF or the deadline. Cancellation: terminal.
  boost::asio::awaitable<drain_outcome> drain_stdout(deadline until);

  // The exit status if the child has already exited; never blocks.
  std::optional<exit_status> try_exit_status();

  // Waits for the child to exit, until the deadline. Cancellation: terminal.
  boost::asio::awaitable<std::optional<exit_status>> wait_exit(deadline until);

  // Kills the child and every process in its process group (job on Windows), and reaps it.
  void kill() noexcept;

  // Leaves the child running when this object goes away.
  void detach() noexcept;

  struct impl;

 private:
  friend result<child> launch(const boost::asio::any_io_executor&, const launch_options&);
  explicit child(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

// Starts the child. Errors name what failed (the executable, the stderr file, the pipe).
result<child> launch(const boost::asio::any_io_executor& executor, const launch_options& options);

}  // namespace runhcs::process
