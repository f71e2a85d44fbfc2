// Transport: dial and listen on a shim address, giving Asio byte streams. One interface, one
// source file per OS: unix sockets ("unix:///path") on Linux, named pipes ("\\.\pipe\...") on
// Windows (socket_posix.cpp, pipe_win.cpp).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>

#include "common/deadline.hpp"

#if defined(_WIN32)
#include <boost/asio/windows/stream_handle.hpp>
#else
#include <boost/asio/local/stream_protocol.hpp>
#endif

namespace runhcs::transport {

#if defined(_WIN32)
using stream = boost::asio::windows::stream_handle;
#else
using stream = boost::asio::local::stream_protocol::socket;
#endif

// Failures a caller can act on; everything else is the OS's own error code.
enum class errc {
  timeout = 1,      // the address did not accept a connection before the deadline
  invalid_address,  // not "unix://<absolute path>" (Linux) or "\\.\pipe\<name>" (Windows)
  path_too_long,    // the socket path does not fit in sockaddr_un
  address_in_use,   // another live server listens on the address
  access_denied,    // the address exists but we may not open it
  peer_rejected,    // a connecting peer runs as another user, or is remote
};

const std::error_category& transport_category() noexcept;
inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), transport_category()};
}

// Connects to address, retrying while it is missing, busy or refusing, until the deadline.
// Errors: errc::timeout (names nothing: the caller adds the address and the bound),
// errc::invalid_address, errc::access_denied, or the OS error.
// Cancellation: terminal; a cancelled dial completes with operation_aborted.
boost::asio::awaitable<stream> dial(std::string address, deadline until, std::error_code& ec);

// A listening address. Linux: creates the directory 0700 and the socket 0600, replaces a stale
// socket file nobody listens on, fails with errc::address_in_use when somebody does, and
// refuses peers whose uid differs from ours. Windows: the pipe rules of DESIGN.md.
class listener {
 public:
  // Starts listening; on failure ec is set and the listener is closed.
  static listener listen(const boost::asio::any_io_executor& executor, std::string_view address,
                         std::error_code& ec);

  listener(listener&&) noexcept;
  listener& operator=(listener&&) noexcept;
  ~listener();

  // Waits for the next peer that passes the checks (rejected peers are dropped and logged
  // nowhere: the caller never sees them). Cancellation: terminal, via the slot or close().
  boost::asio::awaitable<stream> accept(std::error_code& ec);

  // Stops accepting; pending accepts complete with operation_aborted. Removes the socket file
  // (Linux) so the address is free again. Idempotent.
  void close();

  bool is_open() const noexcept;
  const std::string& address() const noexcept;

  struct impl;

 private:
  explicit listener(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

}  // namespace runhcs::transport

template <>
struct std::is_error_code_enum<runhcs::transport::errc> : std::true_type {};
