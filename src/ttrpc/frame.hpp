// ttrpc framing, sans-io (DESIGN.md layer 2). No sockets here: pure functions over byte spans
// and a frame reader that is fed whatever chunks the transport delivers.
//
// Wire format (containerd/ttrpc channel.go; facts in reference/ttrpc.md):
//   frame  = header(10) data(length)
//   header = length:u32be stream_id:u32be type:u8 flags:u8
//   type   = 1 request, 2 response, 3 data (streaming, unused by ttrpc 1.1); others ignored
//   length <= 4 MiB; a longer frame is discarded by the receiver, which answers
//   RESOURCE_EXHAUSTED on its stream id and keeps the connection.
//   Client streams are odd, start at 1 and increase by 2; a server answers INVALID_ARGUMENT
//   for an even id, a re-used id, or data on a stream that is not open.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace runhcs::ttrpc {

inline constexpr std::size_t header_size = 10;
inline constexpr std::uint32_t max_message_size = 4u << 20;

enum class message_type : std::uint8_t { request = 1, response = 2, data = 3 };

struct frame_header {
  std::uint32_t length = 0;
  std::uint32_t stream_id = 0;
  std::uint8_t type = 0;  // raw: unknown types must survive decoding so they can be ignored
  std::uint8_t flags = 0;

  friend bool operator==(const frame_header&, const frame_header&) = default;
};

// Tier 1: the header over fixed-size spans.
void encode_header(const frame_header& h, std::span<std::uint8_t, header_size> out) noexcept;
frame_header decode_header(std::span<const std::uint8_t, header_size> in) noexcept;

// Appends header + data to out (the caller checked the size limit).
void append_frame(std::string& out, std::uint32_t stream_id, message_type type,
                  std::string_view data);

// Tier 2: a frame reader. The transport writes into prepare(), then commit()s what it got;
// next() yields complete frames one by one. Spans it returns stay valid until the next
// prepare(), commit() or feed().
class frame_reader {
 public:
  enum class event {
    need_more,  // give me more bytes
    frame,      // header() and data() hold a complete frame
    oversized,  // header() announced more than max_message_size; its data was discarded
  };

  explicit frame_reader(std::size_t read_size = 16 * 1024) : read_size_(read_size) {}

  // Room for the next read: at least one byte, typically read_size.
  std::span<std::uint8_t> prepare();
  void commit(std::size_t n);
  // Convenience for tests and fuzzing: prepare + copy + commit.
  void feed(std::span<const std::uint8_t> bytes);

  event next();
  const frame_header& header() const noexcept { return header_; }
  std::string_view data() const noexcept { return data_; }

  // True when a frame (or an oversized frame's discard) has started but not ended: the peer
  // closing now is a truncated frame.
  bool mid_frame() const noexcept;
  std::size_t buffered() const noexcept { return end_ - begin_; }

 private:
  std::vector<std::uint8_t> buf_;
  std::size_t begin_ = 0;  // first unconsumed byte
  std::size_t end_ = 0;    // one past the last received byte
  std::size_t read_size_;
  std::uint64_t discard_ = 0;  // bytes of an oversized frame still to drop
  bool discarding_ = false;
  frame_header header_;
  std::string_view data_;
};

// Stream-id rules of the server side, in the order ttrpc applies them.
enum class stream_verdict {
  accept,    // a new request stream
  even,      // "StreamID must be odd for client initiated streams"
  reused,    // "StreamID cannot be re-used and must increment"
  inactive,  // data on a stream that is not open: "StreamID is no longer active"
  ignore,    // a message type a server does not handle: drop it silently
};

class stream_rules {
 public:
  // Judges an incoming frame; records the id of an accepted request.
  stream_verdict check(const frame_header& h) noexcept;
  std::uint32_t last_stream_id() const noexcept { return last_; }

 private:
  std::uint32_t last_ = 0;
};

// The message a server sends with INVALID_ARGUMENT for a rejected verdict.
std::string_view verdict_message(stream_verdict v) noexcept;

}  // namespace runhcs::ttrpc
