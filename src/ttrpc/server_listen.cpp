// The server's accept loop, apart from the rest so that code serving only given streams does
// not link the transport's listener.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "ttrpc/server.hpp"

namespace runhcs::ttrpc {

namespace asio = boost::asio;

namespace {
// Running out of descriptors or memory passes; anything else ends the accept loop.
bool transient(const std::error_code& ec) {
  return ec == std::errc::too_many_files_open || ec == std::errc::too_many_files_open_in_system ||
         ec == std::errc::not_enough_memory || ec == std::errc::no_buffer_space ||
         ec == std::errc::connection_aborted || ec == std::errc::interrupted;
}
}  // namespace

asio::awaitable<void> server::serve(transport::listener& l) {
  auto alive = alive_;
  listeners_.push_front([&l] { l.close(); });
  const auto where = listeners_.begin();
  asio::steady_timer backoff(ex_);
  auto pause = std::chrono::milliseconds(1);
  while (!stopping_) {
    std::error_code ec;
    auto s = co_await l.accept(ec);
    if (!*alive) {
      co_return;
    }
    if (ec) {
      if (stopping_ || !transient(ec)) {
        break;
      }
      backoff.expires_after(pause);
      co_await backoff.async_wait(asio::as_tuple(asio::use_awaitable));
      pause = std::min(pause * 2, std::chrono::milliseconds(1000));
      continue;
    }
    pause = std::chrono::milliseconds(1);
    asio::co_spawn(ex_, serve_connection(std::move(s)), asio::detached);
  }
  listeners_.erase(where);
  if (stopping_) {
    co_await wait_drained();
  }
}

}  // namespace runhcs::ttrpc
