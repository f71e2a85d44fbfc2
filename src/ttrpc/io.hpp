// The thin Asio driver of the ttrpc codec (tier 3): performs the reads the frame reader asks for
// and the writes the client and server queue. Protocol rules live in frame.hpp, not here.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/error_code.hpp>
#include <string>
#include <utility>

#include "transport/transport.hpp"
#include "ttrpc/frame.hpp"

namespace runhcs::ttrpc {

inline boost::asio::mutable_buffer to_buffer(std::span<std::uint8_t> room) noexcept {
  return {room.data(), room.size()};
}

// Reads until the reader has a frame or an oversized-frame report. A stream error (EOF too)
// comes back as the error code with event need_more.
// Cancellation: whatever the stream's read supports (terminal/partial/total on sockets); no
// byte is lost when a read is cancelled, so reading can resume later.
template <class Stream, class CompletionToken = boost::asio::use_awaitable_t<>>
boost::asio::awaitable<std::pair<boost::system::error_code, frame_reader::event>> read_event(
    Stream& stream, frame_reader& reader, CompletionToken token = {}) {
  for (;;) {
    const auto ev = reader.next();
    if (ev != frame_reader::event::need_more) {
      co_return std::pair{boost::system::error_code{}, ev};
    }
    auto [ec, n] =
        co_await stream.async_read_some(to_buffer(reader.prepare()), boost::asio::as_tuple(token));
    if (ec) {
      co_return std::pair{ec, frame_reader::event::need_more};
    }
    reader.commit(n);
  }
}

// Writes what the stream takes right now without blocking (0 when it would block or the
// platform has no such write); errors go to ec. Lets a lone call or response skip the
// coroutine a background write needs. One source file per OS (io_posix.cpp, io_win.cpp).
std::size_t write_now(transport::stream& stream, std::string_view bytes,
                      boost::system::error_code& ec);

}  // namespace runhcs::ttrpc
