// ttrpc framing: header codec, the chunk-fed frame reader, and the server's stream-id rules.
#include "ttrpc/frame.hpp"

#include <algorithm>
#include <cstring>

namespace runhcs::ttrpc {

void encode_header(const frame_header& h, std::span<std::uint8_t, header_size> out) noexcept {
  out[0] = static_cast<std::uint8_t>(h.length >> 24);
  out[1] = static_cast<std::uint8_t>(h.length >> 16);
  out[2] = static_cast<std::uint8_t>(h.length >> 8);
  out[3] = static_cast<std::uint8_t>(h.length);
  out[4] = static_cast<std::uint8_t>(h.stream_id >> 24);
  out[5] = static_cast<std::uint8_t>(h.stream_id >> 16);
  out[6] = static_cast<std::uint8_t>(h.stream_id >> 8);
  out[7] = static_cast<std::uint8_t>(h.stream_id);
  out[8] = h.type;
  out[9] = h.flags;
}

namespace {
std::uint32_t load_be32(const std::uint8_t* p) noexcept {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}
}  // namespace

frame_header decode_header(std::span<const std::uint8_t, header_size> in) noexcept {
  return {load_be32(in.data()), load_be32(in.data() + 4), in[8], in[9]};
}

void append_frame(std::string& out, std::uint32_t stream_id, message_type type,
                  std::string_view data) {
  std::array<std::uint8_t, header_size> h{};
  encode_header(
      {static_cast<std::uint32_t>(data.size()), stream_id, static_cast<std::uint8_t>(type), 0}, h);
  out.append(reinterpret_cast<const char*>(h.data()), h.size());
  out.append(data);
}

std::span<std::uint8_t> frame_reader::prepare() {
  if (begin_ == end_) {
    begin_ = end_ = 0;
    // Give back the room a big frame needed once it is gone.
    if (buf_.size() > 4 * read_size_) {
      std::vector<std::uint8_t>().swap(buf_);
    }
  }
  std::size_t want = read_size_;
  if (!discarding_ && end_ - begin_ >= header_size) {
    // A frame has started: make room for all of it, so it ends up contiguous.
    const auto h = decode_header(
        std::span<const std::uint8_t, header_size>(buf_.data() + begin_, header_size));
    const auto frame_size = header_size + std::size_t{h.length};
    if (h.length <= max_message_size && end_ - begin_ < frame_size) {
      want = std::max(want, frame_size - (end_ - begin_));
    }
  }
  if (buf_.size() - end_ < want) {
    if (begin_ > 0) {
      std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    if (buf_.size() - end_ < want) {
      buf_.resize(end_ + want);
    }
  }
  return {buf_.data() + end_, buf_.size() - end_};
}

void frame_reader::commit(std::size_t n) {
  end_ += std::min(n, buf_.size() - end_);
}

void frame_reader::feed(std::span<const std::uint8_t> bytes) {
  while (!bytes.empty()) {
    auto room = prepare();
    const auto n = std::min(room.size(), bytes.size());
    std::memcpy(room.data(), bytes.data(), n);
    commit(n);
    bytes = bytes.subspan(n);
  }
}

frame_reader::event frame_reader::next() {
  data_ = {};
  for (;;) {
    if (discarding_) {
      // Dropping an oversized frame's data as it arrives; report it once it is all gone, so
      // the answer cannot overtake the rest of the frame (as channel.go does).
      const auto drop = static_cast<std::size_t>(std::min<std::uint64_t>(discard_, end_ - begin_));
      begin_ += drop;
      discard_ -= drop;
      if (discard_ > 0) {
        return event::need_more;
      }
      discarding_ = false;
      return event::oversized;
    }
    if (end_ - begin_ < header_size) {
      return event::need_more;
    }
    header_ = decode_header(
        std::span<const std::uint8_t, header_size>(buf_.data() + begin_, header_size));
    if (header_.length > max_message_size) {
      begin_ += header_size;
      discard_ = header_.length;
      discarding_ = true;
      continue;
    }
    if (end_ - begin_ < header_size + header_.length) {
      return event::need_more;
    }
    data_ = {reinterpret_cast<const char*>(buf_.data() + begin_ + header_size), header_.length};
    begin_ += header_size + header_.length;
    return event::frame;
  }
}

bool frame_reader::mid_frame() const noexcept {
  return discarding_ || end_ > begin_;
}

stream_verdict stream_rules::check(const frame_header& h) noexcept {
  const auto type = static_cast<message_type>(h.type);
  if (type != message_type::request && type != message_type::data) {
    return stream_verdict::ignore;
  }
  if (h.stream_id % 2 != 1) {
    return stream_verdict::even;
  }
  if (type == message_type::data) {
    // ttrpc 1.1 has no streams, so no data frame ever belongs to an open one.
    return stream_verdict::inactive;
  }
  if (h.stream_id <= last_) {
    return stream_verdict::reused;
  }
  last_ = h.stream_id;
  return stream_verdict::accept;
}

std::string_view verdict_message(stream_verdict v) noexcept {
  switch (v) {
    case stream_verdict::even:
      return "StreamID must be odd for client initiated streams";
    case stream_verdict::reused:
      return "StreamID cannot be re-used and must increment";
    case stream_verdict::inactive:
      return "StreamID is no longer active";
    case stream_verdict::accept:
    case stream_verdict::ignore:
      break;
  }
  return {};
}

}  // namespace runhcs::ttrpc
