// The log pipe on Windows: an accept loop keeping only the newest client and a write loop
// draining a bounded queue to it, both in one run() coroutine.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "shim/log_pipe.hpp"
#include "transport/transport.hpp"

namespace runhcs::shim {

namespace asio = boost::asio;

struct log_pipe::state : std::enable_shared_from_this<log_pipe::state> {
  state(asio::any_io_executor ex, std::size_t limit)
      : executor(std::move(ex)), capacity(limit), wake(executor) {}

  asio::any_io_executor executor;
  const std::size_t capacity;
  std::optional<transport::listener> listener;
  std::shared_ptr<transport::stream> client;  // the newest client, or null
  asio::steady_timer wake;                    // the write loop sleeps on it
  bool closed = false;

  // Shared with write() callers on other threads.
  mutable std::mutex mutex;
  std::deque<std::string> queue;
  std::size_t queued_bytes = 0;
  bool connected = false;
  bool wake_posted = false;
  std::uint64_t dropped = 0;

  void set_connected(bool value) {
    std::lock_guard lock(mutex);
    connected = value;
    if (!value) {
      dropped += queue.size();
      queue.clear();
      queued_bytes = 0;
    }
  }

  asio::awaitable<void> accept_loop() {
    asio::steady_timer pause(executor);
    while (!closed) {
      std::error_code ec;
      auto connection = co_await listener->accept(ec);
      if (closed || ec == std::errc::operation_canceled) {
        co_return;
      }
      if (ec) {
        // A transient failure (out of instances, say): try again shortly, not in a hot loop.
        pause.expires_after(std::chrono::milliseconds(100));
        auto [wait_error] = co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
        if (wait_error) {
          co_return;
        }
        continue;
      }
      if (client) {
        boost::system::error_code ignored;
        client->close(ignored);
      }
      client = std::make_shared<transport::stream>(std::move(connection));
      set_connected(true);
    }
  }

  asio::awaitable<void> write_loop() {
    while (!closed) {
      std::vector<std::string> batch;
      {
        std::lock_guard lock(mutex);
        wake_posted = false;
        batch.assign(std::make_move_iterator(queue.begin()), std::make_move_iterator(queue.end()));
        queue.clear();
        queued_bytes = 0;
      }
      if (batch.empty()) {
        wake.expires_at(asio::steady_timer::time_point::max());
        co_await wake.async_wait(asio::as_tuple(asio::use_awaitable));
        // Woken by write() or close(), or cancelled: only the latter two end the loop.
        auto cancelled = (co_await asio::this_coro::cancellation_state).cancelled();
        if (cancelled != asio::cancellation_type::none) {
          co_return;
        }
        continue;
      }
      auto target = client;
      if (!target) {
        continue;
      }
      std::vector<asio::const_buffer> buffers;
      buffers.reserve(batch.size());
      for (const auto& line : batch) {
        buffers.push_back(asio::buffer(line));
      }
      auto [ec, n] =
          co_await asio::async_write(*target, buffers, asio::as_tuple(asio::use_awaitable));
      if (ec) {
        // The client left (or was replaced): forget it unless a newer one already came.
        if (client == target) {
          boost::system::error_code ignored;
          client->close(ignored);
          client.reset();
          set_connected(false);
        }
        auto cancelled = (co_await asio::this_coro::cancellation_state).cancelled();
        if (cancelled != asio::cancellation_type::none) {
          co_return;
        }
      }
    }
  }

  void close() {
    closed = true;
    if (listener) {
      listener->close();
    }
    if (client) {
      boost::system::error_code ignored;
      client->close(ignored);
      client.reset();
    }
    set_connected(false);
    wake.cancel();
  }
};

log_pipe::log_pipe(asio::any_io_executor executor, std::size_t capacity)
    : state_(std::make_shared<state>(std::move(executor), capacity)) {}

log_pipe::~log_pipe() {
  state_->close();
}

std::error_code log_pipe::listen(std::string_view address) {
  std::error_code ec;
  auto opened = transport::listener::listen(state_->executor, address, ec);
  if (!ec) {
    state_->listener.emplace(std::move(opened));
  }
  return ec;
}

asio::awaitable<void> log_pipe::run() {
  using namespace asio::experimental::awaitable_operators;
  // The coroutine keeps the state alive even if the log_pipe object goes first.
  auto self = state_;
  if (!self->listener) {
    co_return;
  }
  co_await (self->accept_loop() && self->write_loop());
}

void log_pipe::write(std::string_view line) {
  state& self = *state_;
  const std::size_t size = line.size() + (line.ends_with('\n') ? 0 : 1);
  std::lock_guard lock(self.mutex);
  if (!self.connected || self.queued_bytes + size > self.capacity) {
    ++self.dropped;
    return;
  }
  std::string& queued = self.queue.emplace_back(line);
  if (!line.ends_with('\n')) {
    queued.push_back('\n');
  }
  self.queued_bytes += size;
  if (!self.wake_posted) {
    self.wake_posted = true;
    // The timer belongs to the executor's thread; wake the writer from there.
    asio::post(self.executor, [weak = self.weak_from_this()] {
      if (auto alive = weak.lock()) {
        alive->wake.cancel();
      }
    });
  }
}

void log_pipe::close() {
  state_->close();
}

bool log_pipe::has_client() const noexcept {
  std::lock_guard lock(state_->mutex);
  return state_->connected;
}

std::uint64_t log_pipe::dropped() const noexcept {
  std::lock_guard lock(state_->mutex);
  return state_->dropped;
}

}  // namespace runhcs::shim
