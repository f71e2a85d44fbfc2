// serve's log pipe (Windows): containerd dials \\.\pipe\containerd-shim-<ns>-<id>-log during
// start and copies what arrives into its own log. Logging must never stall the shim, so lines
// go through a bounded queue to the newest client and are dropped when nobody listens.
// Implemented in log_pipe_win.cpp only; Linux logs to the bundle's FIFO instead.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <system_error>

namespace runhcs::shim {

class log_pipe {
 public:
  static constexpr std::size_t default_capacity = 1024 * 1024;

  // capacity bounds the bytes queued for the client; a line that does not fit is dropped.
  explicit log_pipe(boost::asio::any_io_executor executor, std::size_t capacity = default_capacity);
  log_pipe(const log_pipe&) = delete;
  log_pipe& operator=(const log_pipe&) = delete;
  ~log_pipe();  // closes; a running run() ends soon after

  // Starts listening on address (the transport's pipe rules); errors as listener::listen.
  std::error_code listen(std::string_view address);

  // Accepts clients (a new one replaces the previous) and writes the queue to the current one,
  // until close() or cancellation. Cancellation: terminal, via the slot.
  boost::asio::awaitable<void> run();

  // Queues line (a newline is added if it has none) for the current client. Never blocks;
  // drops the line when there is no client or the queue is full. Safe from any thread.
  void write(std::string_view line);

  // Stops listening and drops the client; run() returns. Call on the executor's thread.
  void close();

  bool has_client() const noexcept;
  std::uint64_t dropped() const noexcept;  // lines dropped so far

  struct state;

 private:
  std::shared_ptr<state> state_;
};

}  // namespace runhcs::shim
