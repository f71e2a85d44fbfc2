// The task backend seam: the task service drives containers through this interface so that a
// host-process backend (now), a runc backend (Linux isolation) and an HCS backend (Windows) can
// sit behind the same service.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "backend/spec.hpp"
#include "common/result.hpp"

namespace runhcs::backend {

// Failures the task service maps to containerd's status codes; everything else is an OS code.
enum class errc {
  not_implemented = 1,  // the backend cannot do this at all (Pause, Checkpoint, ...)
  already_started,      // Start of a process that is running or has run
  not_started,          // an operation that needs a running process got a created one
  already_exited,       // signal or resize of a process that has exited
  still_running,        // Delete of a process that has not exited
  invalid_spec,         // config.json or an exec spec lacks what the backend needs
};

const std::error_category& backend_category() noexcept;
inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), backend_category()};
}

using system_time = std::chrono::system_clock::time_point;

// Where a process's stdio goes: the FIFO paths (pipes on Windows) containerd names. An empty
// path means none.
struct stdio_paths {
  std::string stdin_path;
  std::string stdout_path;
  std::string stderr_path;
  bool terminal = false;
};

enum class process_state { created, running, stopped };

struct exit_info {
  std::uint32_t status = 0;  // exit code, or 128 + signal
  system_time at{};
};

// One process of a container: its init or an exec. Not thread-safe: use on one executor.
class process {
 public:
  virtual ~process() = default;

  virtual int pid() const noexcept = 0;
  virtual process_state state() const noexcept = 0;
  virtual std::optional<exit_info> exited() const noexcept = 0;

  // created -> running. errc::already_started after the first call.
  virtual result<void> start() = 0;

  // Sends sig; with all, also to every process the task started (its group and descendants).
  // errc::already_exited once the process is gone (unless all is set).
  virtual result<void> signal(int sig, bool all) = 0;

  // Completes when the process has exited. Cancellation: terminal, partial, total (the wait
  // stops; the process does not).
  virtual boost::asio::awaitable<exit_info> wait() = 0;

  // Resizes the process's terminal (no-op without one).
  virtual result<void> resize(unsigned width, unsigned height) = 0;

  // Closes the process's stdin so that it reads EOF.
  virtual void close_stdin() = 0;

  // Called once, on the process's executor, when the process has exited and been reaped.
  virtual void on_exit(std::function<void(const exit_info&)> callback) = 0;
};

struct container_options {
  std::string id;
  std::filesystem::path bundle;
  stdio_paths io;
};

// A container: its init process, the processes exec'd into it, and what the backend can do
// to it as a whole.
class container {
 public:
  virtual ~container() = default;

  virtual process& init() noexcept = 0;

  // Creates (does not start) an extra process running spec in this container.
  virtual result<std::unique_ptr<process>> exec(const process_spec& spec,
                                                const stdio_paths& io) = 0;

  // Every process of the container that still runs, init first.
  virtual std::vector<int> pids() const = 0;

  // Optional abilities; errc::not_implemented when the backend has none.
  virtual result<void> pause() = 0;
  virtual result<void> resume() = 0;
};

class backend {
 public:
  virtual ~backend() = default;
  // Reads the bundle's config.json and creates the container with its init process created,
  // not started.
  virtual result<std::unique_ptr<container>> create(const container_options& options) = 0;
  virtual std::string_view name() const noexcept = 0;
};

}  // namespace runhcs::backend

template <>
struct std::is_error_code_enum<runhcs::backend::errc> : std::true_type {};
