// Named-pipe transport (Windows): dial with a busy/not-found retry inside the deadline, and a
// listener that keeps a spare instance so clients see BUSY, never NOT FOUND, while it runs.
#include <windows.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/windows/overlapped_ptr.hpp>
#include <chrono>
#include <utility>

#include "common/win32_win.hpp"
#include "transport/pipe_security_win.hpp"
#include "transport/transport.hpp"

namespace runhcs::transport {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

constexpr std::string_view pipe_prefix = R"(\\.\pipe\)";
constexpr DWORD pipe_buffer_size = 64 * 1024;
// Retry pacing for busy or missing pipes: quick at first (a server is usually about to
// appear), then every 10 ms like go-winio's busy poll.
constexpr auto first_backoff = 1ms;
constexpr auto max_backoff = 10ms;

// Cancellation reads the same on both systems (socket_posix.cpp does the same).
std::error_code aborted() {
  return std::make_error_code(std::errc::operation_canceled);
}

bool is_pipe_address(std::string_view address) {
  return address.size() > pipe_prefix.size() && address.starts_with(pipe_prefix);
}

// ConnectNamedPipe as an Asio operation. Cancellation (terminal, partial, total): CancelIoEx
// on this very request; the handler then sees operation_aborted.
template <class Token>
auto async_connect_pipe(stream& pipe, Token&& token) {
  return asio::async_initiate<Token, void(boost::system::error_code)>(
      [](auto handler, stream* instance) {
        auto slot = asio::get_associated_cancellation_slot(handler);
        HANDLE handle = instance->native_handle();
        asio::windows::overlapped_ptr overlapped(
            instance->get_executor(), [handler = std::move(handler), slot](
                                          boost::system::error_code ec, std::size_t) mutable {
              // The OVERLAPPED is gone after this: the slot must not reach it any more.
              if (slot.is_connected()) {
                slot.clear();
              }
              std::move(handler)(ec);
            });
        OVERLAPPED* request = overlapped.get();
        if (slot.is_connected()) {
          slot.assign(
              [handle, request](asio::cancellation_type) { ::CancelIoEx(handle, request); });
        }
        BOOL connected = ::ConnectNamedPipe(handle, request);
        DWORD error = connected ? ERROR_SUCCESS : ::GetLastError();
        if (error == ERROR_IO_PENDING) {
          overlapped.release();
          return;
        }
        // A client that connected before we asked is a success too.
        if (error == ERROR_PIPE_CONNECTED) {
          error = ERROR_SUCCESS;
        }
        overlapped.complete(
            boost::system::error_code(static_cast<int>(error), boost::system::system_category()),
            0);
      },
      token, &pipe);
}

}  // namespace

asio::awaitable<stream> dial(std::string address, deadline until, std::error_code& ec) {
  auto executor = co_await asio::this_coro::executor;
  ec = {};
  if (!is_pipe_address(address)) {
    ec = errc::invalid_address;
    co_return stream(executor);
  }
  const std::wstring name = win32::widen(address);
  asio::steady_timer timer(executor);
  auto backoff = std::chrono::duration_cast<steady_clock::duration>(first_backoff);
  for (;;) {
    // Identification only: the server may learn who we are but not act as us.
    HANDLE handle = ::CreateFileW(
        name.c_str(), GENERIC_READ | GENERIC_WRITE, 0, nullptr, OPEN_EXISTING,
        FILE_FLAG_OVERLAPPED | SECURITY_SQOS_PRESENT | SECURITY_IDENTIFICATION, nullptr);
    if (handle != INVALID_HANDLE_VALUE) {
      stream connection(executor);
      boost::system::error_code assign_error;
      connection.assign(handle, assign_error);
      if (assign_error) {
        ::CloseHandle(handle);
        ec = assign_error;
      }
      co_return connection;
    }
    const DWORD error = ::GetLastError();
    if (error == ERROR_ACCESS_DENIED) {
      ec = errc::access_denied;
      co_return stream(executor);
    }
    // Missing (server not up yet, or between instances) and busy (every instance taken) are
    // the two states a live server passes through: wait and try again.
    if (error != ERROR_PIPE_BUSY && error != ERROR_FILE_NOT_FOUND) {
      ec = win32::error_code_from(error);
      co_return stream(executor);
    }
    const auto now = steady_clock::now();
    if (now >= until) {
      ec = errc::timeout;
      co_return stream(executor);
    }
    timer.expires_at(std::min(now + backoff, until));
    auto [wait_error] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (wait_error) {
      ec = aborted();
      co_return stream(executor);
    }
    backoff = std::min<steady_clock::duration>(backoff * 2, max_backoff);
  }
}

struct listener::impl {
  asio::any_io_executor executor;
  std::string address;
  std::wstring name;
  detail::security_descriptor security;
  // The instance the next client gets: always present while listening, so a client arriving
  // between two accepts finds an instance (or BUSY), never NOT FOUND.
  stream spare;
  bool open = false;

  // A new instance of the pipe; the first one claims the name.
  std::error_code create_instance(bool first, stream& out) {
    SECURITY_ATTRIBUTES attributes{sizeof(SECURITY_ATTRIBUTES), security.get(), FALSE};
    DWORD open_mode = PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED;
    if (first) {
      open_mode |= FILE_FLAG_FIRST_PIPE_INSTANCE;
    }
    HANDLE handle = ::CreateNamedPipeW(
        name.c_str(), open_mode,
        PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS,
        PIPE_UNLIMITED_INSTANCES, pipe_buffer_size, pipe_buffer_size, 0, &attributes);
    if (handle == INVALID_HANDLE_VALUE) {
      const DWORD error = ::GetLastError();
      if (first && (error == ERROR_ACCESS_DENIED || error == ERROR_PIPE_BUSY)) {
        return first_instance_error(error);
      }
      return win32::error_code_from(error);
    }
    stream instance(executor);
    boost::system::error_code assign_error;
    instance.assign(handle, assign_error);
    if (assign_error) {
      ::CloseHandle(handle);
      return assign_error;
    }
    out = std::move(instance);
    return {};
  }

  // FILE_FLAG_FIRST_PIPE_INSTANCE fails with access denied both when somebody already owns the
  // name (squatting, or a second shim) and when we may not create it at all: tell them apart.
  std::error_code first_instance_error(DWORD error) const {
    if (error == ERROR_PIPE_BUSY) {
      return errc::address_in_use;
    }
    if (::WaitNamedPipeW(name.c_str(), 1) || ::GetLastError() == ERROR_SEM_TIMEOUT) {
      return errc::address_in_use;
    }
    return errc::access_denied;
  }
};

listener::listener(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
listener::listener(listener&&) noexcept = default;
listener& listener::operator=(listener&&) noexcept = default;
listener::~listener() {
  close();
}

listener listener::listen(const asio::any_io_executor& executor, std::string_view address,
                          std::error_code& ec) {
  ec = {};
  auto state =
      std::make_unique<impl>(impl{executor, std::string(address), {}, {}, stream(executor), false});
  if (!is_pipe_address(address)) {
    ec = errc::invalid_address;
    return listener(std::move(state));
  }
  state->name = win32::widen(address);
  state->security = detail::make_pipe_security(ec);
  if (ec) {
    return listener(std::move(state));
  }
  // FILE_FLAG_FIRST_PIPE_INSTANCE below is the atomic check; Wine ignores that flag, so look
  // first as well. WaitNamedPipeW (at most 1 ms) succeeds when a free instance exists and
  // times out when every instance is taken: either way somebody owns the name.
  if (::WaitNamedPipeW(state->name.c_str(), 1) || ::GetLastError() == ERROR_SEM_TIMEOUT) {
    ec = errc::address_in_use;
    return listener(std::move(state));
  }
  ec = state->create_instance(true, state->spare);
  state->open = !ec;
  return listener(std::move(state));
}

asio::awaitable<stream> listener::accept(std::error_code& ec) {
  ec = {};
  impl& self = *impl_;
  for (;;) {
    if (!self.open) {
      ec = aborted();
      co_return stream(self.executor);
    }
    // A failed successor (see below) is retried here, where the error can be reported.
    if (!self.spare.is_open()) {
      ec = self.create_instance(false, self.spare);
      if (ec) {
        co_return stream(self.executor);
      }
    }
    auto [error] = co_await async_connect_pipe(self.spare, asio::as_tuple(asio::use_awaitable));
    if (!self.open) {
      ec = aborted();
      co_return stream(self.executor);
    }
    if (error == asio::error::broken_pipe || error.value() == static_cast<int>(ERROR_NO_DATA)) {
      // The client came and went before we saw it: recycle the instance and wait again.
      ::DisconnectNamedPipe(self.spare.native_handle());
      continue;
    }
    if (error) {
      ec = error == asio::error::operation_aborted ? aborted() : std::error_code(error);
      co_return stream(self.executor);
    }
    stream connected = std::move(self.spare);
    self.spare = stream(self.executor);
    // The successor exists before we return; if it cannot be made now the next accept retries.
    if (self.create_instance(false, self.spare)) {
      self.spare = stream(self.executor);
    }
    co_return connected;
  }
}

void listener::close() {
  if (!impl_) {
    return;
  }
  impl_->open = false;
  boost::system::error_code ignored;
  // Closing the instance ends a pending ConnectNamedPipe.
  impl_->spare.close(ignored);
}

bool listener::is_open() const noexcept {
  return impl_ && impl_->open;
}

const std::string& listener::address() const noexcept {
  return impl_->address;
}

}  // namespace runhcs::transport
