// libFuzzer target for the ttrpc codec: arbitrary bytes, fed in arbitrary chunks, through the
// frame reader, the stream-id rules and the envelope decoders, as a server and a client would.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>

#include "ttrpc/envelope.hpp"
#include "ttrpc/frame.hpp"

using namespace runhcs::ttrpc;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) {
    return 0;
  }
  // The first byte picks the chunk size, so short reads at every offset get exercised.
  const std::size_t chunk = 1 + data[0] % 32;
  std::span<const std::uint8_t> in(data + 1, size - 1);

  frame_reader reader(16);
  stream_rules rules;
  std::string replies;
  std::size_t fed = 0;
  while (fed < in.size()) {
    const auto n = std::min(chunk, in.size() - fed);
    reader.feed(in.subspan(fed, n));
    fed += n;
    for (;;) {
      const auto ev = reader.next();
      if (ev == frame_reader::event::need_more) {
        break;
      }
      const auto h = reader.header();
      if (ev == frame_reader::event::oversized) {
        if (h.length <= max_message_size) {
          std::abort();  // only frames over the limit may be reported oversized
        }
        append_response(replies, h.stream_id, code::resource_exhausted, oversize_message(h.length),
                        {});
        continue;
      }
      if (reader.data().size() != h.length) {
        std::abort();
      }
      // Round trip of the header.
      std::array<std::uint8_t, header_size> bytes{};
      encode_header(h, bytes);
      if (decode_header(bytes) != h) {
        std::abort();
      }
      const auto verdict = rules.check(h);
      if (verdict != stream_verdict::accept && verdict != stream_verdict::ignore) {
        append_response(replies, h.stream_id, code::invalid_argument, verdict_message(verdict), {});
      }
      ::ttrpc::Request req;
      if (req.ParseFromArray(reader.data().data(), static_cast<int>(reader.data().size()))) {
        std::string again;
        (void)append_message(again, h.stream_id, message_type::request, req);
      }
      ::ttrpc::Response resp;
      if (resp.ParseFromArray(reader.data().data(), static_cast<int>(reader.data().size()))) {
        const auto err = response_error(resp);
        if (err.code && err.code.value() != resp.status().code()) {
          std::abort();
        }
      }
    }
    if (replies.size() > (1u << 20)) {
      replies.clear();
    }
  }
  return 0;
}
