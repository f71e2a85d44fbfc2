// Unit tests of the sans-io codec: header bytes, golden vectors from the Go reference, the
// frame reader fed in every chunking, the stream-id rules and the error categories.
#include <gtest/gtest.h>

#include <boost/asio/error.hpp>
#include <vector>

#include "containerd/task/v2/shim.pb.h"
#include "test_util.hpp"
#include "ttrpc/envelope.hpp"
#include "ttrpc/frame.hpp"
#include "ttrpc/status.hpp"

namespace runhcs::ttrpc {
namespace {

using test::as_bytes;
using test::hex;
using test::unhex;
namespace task = ::containerd::task::v2;

// Golden vectors: reference/ttrpc.md and vectors/go-ttrpc-1.1.1-wire.log.
const std::string connect_request =
    "0000002a000000010100"
    "0a17636f6e7461696e6572642e7461736b2e76322e5461736b"
    "1207436f6e6e656374"
    "1a060a0466656173";
const std::string connect_request_deadline =
    "000000300000000101000a17636f6e7461696e6572642e7461736b2e76322e5461736b1207436f6e6e6563741a"
    "060a046665617320cbaf96d012";
const std::string state_request =
    "000000280000000101000a17636f6e7461696e6572642e7461736b2e76322e5461736b120553746174651a060a"
    "0466656173";
const std::string shutdown_request =
    "0000002b0000000101000a17636f6e7461696e6572642e7461736b2e76322e5461736b120853687574646f776e"
    "1a060a0466656173";
const std::string connect_response = "00000008000000010200120608922110f721";
const std::string state_error_response =
    "000000230000000102000a21080c121d6e6f7420696d706c656d656e7465642062792074747270632d70656572";
const std::string empty_response = "00000000000000010200";

std::string request_frame(std::string_view method, const google::protobuf::MessageLite& payload,
                          std::int64_t timeout_nano, const metadata& md = {}) {
  ::ttrpc::Request req;
  make_request(req, "containerd.task.v2.Task", method, payload, timeout_nano, md);
  std::string out;
  EXPECT_FALSE(append_message(out, 1, message_type::request, req));
  return out;
}

task::ConnectRequest feas() {
  task::ConnectRequest r;
  r.set_id("feas");
  return r;
}

// ---- tier 1: the header

struct header_case {
  const char* name;
  frame_header header;
  const char* bytes;
};

TEST(FrameHeader, EncodesAndDecodesExactBytes) {
  const header_case cases[] = {
      {"connect request", {42, 1, 1, 0}, "0000002a 00000001 01 00"},
      {"response", {8, 1, 2, 0}, "00000008 00000001 02 00"},
      {"empty response", {0, 1, 2, 0}, "00000000 00000001 02 00"},
      {"max length", {max_message_size, 3, 1, 0}, "00400000 00000003 01 00"},
      {"all bits", {0xffffffff, 0xfffffffe, 0xff, 0x07}, "ffffffff fffffffe ff 07"},
      {"byte order", {0x01020304, 0x05060708, 3, 2}, "01020304 05060708 03 02"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    std::array<std::uint8_t, header_size> buf{};
    encode_header(c.header, buf);
    const std::string got(reinterpret_cast<const char*>(buf.data()), buf.size());
    EXPECT_EQ(hex(got), hex(unhex(c.bytes)));
    const auto bytes = unhex(c.bytes);
    EXPECT_EQ(decode_header(std::span<const std::uint8_t, header_size>(
                  reinterpret_cast<const std::uint8_t*>(bytes.data()), header_size)),
              c.header);
  }
}

// ---- envelopes against the golden vectors

TEST(Envelope, ConnectRequestMatchesGoldenVector) {
  EXPECT_EQ(hex(request_frame("Connect", feas(), 0)), connect_request);
}

TEST(Envelope, RequestWithDeadlineCarriesTimeoutNano) {
  EXPECT_EQ(hex(request_frame("Connect", feas(), 4999976907)), connect_request_deadline);
}

TEST(Envelope, StateAndShutdownRequestsMatchGoldenVectors) {
  task::StateRequest state;
  state.set_id("feas");
  EXPECT_EQ(hex(request_frame("State", state, 0)), state_request);
  task::ShutdownRequest shutdown;
  shutdown.set_id("feas");  // now=false is omitted
  EXPECT_EQ(hex(request_frame("Shutdown", shutdown, 0)), shutdown_request);
}

TEST(Envelope, SuccessResponseHasNoStatusField) {
  task::ConnectResponse resp;
  resp.set_shim_pid(4242);
  resp.set_task_pid(4343);
  std::string out;
  append_response(out, 1, code::ok, "ignored for OK", resp.SerializeAsString());
  EXPECT_EQ(hex(out), connect_response);
}

TEST(Envelope, ErrorResponseMatchesGoldenVector) {
  std::string out;
  append_response(out, 1, code::unimplemented, "not implemented by ttrpc-peer", {});
  EXPECT_EQ(hex(out), state_error_response);
}

TEST(Envelope, EmptyReplyIsZeroLengthBody) {
  std::string out;
  append_response(out, 1, code::ok, {}, {});
  EXPECT_EQ(hex(out), empty_response);
}

TEST(Envelope, MetadataIsRepeatedKeyValues) {
  const auto frame = request_frame("Connect", feas(), 0, {{std::string(namespace_key), "k8s"}});
  ::ttrpc::Request req;
  ASSERT_TRUE(
      req.ParseFromArray(frame.data() + header_size, static_cast<int>(frame.size() - header_size)));
  ASSERT_EQ(req.metadata_size(), 1);
  EXPECT_EQ(req.metadata(0).key(), "containerd-namespace-ttrpc");
  EXPECT_EQ(req.metadata(0).value(), "k8s");
  // Field 5, after the payload: 2a <len> 0a1a <key> 1203 "k8s".
  EXPECT_NE(
      hex(frame).find("2a210a1a636f6e7461696e6572642d6e616d6573706163652d747472706312036b3873"),
      std::string::npos);
}

TEST(Envelope, DecodesGoldenResponses) {
  struct response_case {
    const char* name;
    const std::string& frame;
    std::error_code code;
    const char* message;
  };
  const response_case cases[] = {
      {"connect", connect_response, {}, ""},
      {"state error", state_error_response, code::unimplemented, "not implemented by ttrpc-peer"},
      {"empty", empty_response, {}, ""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const auto bytes = unhex(c.frame);
    ::ttrpc::Response resp;
    ASSERT_TRUE(resp.ParseFromArray(bytes.data() + header_size,
                                    static_cast<int>(bytes.size() - header_size)));
    const auto err = response_error(resp);
    EXPECT_EQ(err.code, c.code);
    EXPECT_EQ(err.message, c.message);
  }
  ::ttrpc::Response resp;
  const auto bytes = unhex(connect_response);
  ASSERT_TRUE(resp.ParseFromArray(bytes.data() + header_size, 8));
  task::ConnectResponse connect;
  ASSERT_TRUE(connect.ParseFromString(resp.payload()));
  EXPECT_EQ(connect.shim_pid(), 4242u);
  EXPECT_EQ(connect.task_pid(), 4343u);
}

TEST(Envelope, ExplicitOkStatusIsSuccess) {
  ::ttrpc::Response resp;
  resp.mutable_status()->set_code(0);
  EXPECT_FALSE(response_error(resp).code);
}

TEST(Envelope, OversizedMessageIsRefusedAndNothingAppended) {
  ::ttrpc::Request req;
  req.set_payload(std::string(max_message_size, 'x'));
  std::string out = "prefix";
  EXPECT_EQ(append_message(out, 1, message_type::request, req), errc::message_too_large);
  EXPECT_EQ(out, "prefix");
}

TEST(Envelope, MessageOfExactlyTheLimitIsSent) {
  ::ttrpc::Request req;
  // 1 tag byte + 4 length bytes (varint of ~4 MiB) + payload = 4 MiB.
  req.set_payload(std::string(max_message_size - 5, 'x'));
  ASSERT_EQ(req.ByteSizeLong(), max_message_size);
  std::string out;
  EXPECT_FALSE(append_message(out, 1, message_type::request, req));
  EXPECT_EQ(out.size(), header_size + max_message_size);
}

TEST(Envelope, OversizedResponseBecomesResourceExhausted) {
  std::string out;
  append_response(out, 7, code::ok, {}, std::string(max_message_size + 1, 'x'));
  const auto h = decode_header(std::span<const std::uint8_t, header_size>(
      reinterpret_cast<const std::uint8_t*>(out.data()), header_size));
  EXPECT_EQ(h.stream_id, 7u);
  ::ttrpc::Response resp;
  ASSERT_TRUE(resp.ParseFromArray(out.data() + header_size, static_cast<int>(h.length)));
  EXPECT_EQ(resp.status().code(), static_cast<int>(code::resource_exhausted));
  EXPECT_EQ(resp.status().message(),
            "message length 4194310 exceed maximum message size of 4194304");
}

// ---- tier 2: the frame reader

std::vector<frame_header> drain(frame_reader& r, std::vector<std::string>& data,
                                std::vector<std::uint32_t>& oversized) {
  std::vector<frame_header> frames;
  for (;;) {
    const auto ev = r.next();
    if (ev == frame_reader::event::need_more) {
      return frames;
    }
    if (ev == frame_reader::event::oversized) {
      oversized.push_back(r.header().stream_id);
      continue;
    }
    frames.push_back(r.header());
    data.emplace_back(r.data());
  }
}

TEST(FrameReader, YieldsGoldenFramesForEveryChunking) {
  const auto stream = unhex(connect_request) + unhex(state_error_response) + unhex(empty_response) +
                      unhex(connect_response);
  for (std::size_t chunk = 1; chunk <= stream.size(); ++chunk) {
    SCOPED_TRACE("chunk " + std::to_string(chunk));
    frame_reader r(7);  // a tiny read size forces compaction and growth
    std::vector<frame_header> frames;
    std::vector<std::string> data;
    std::vector<std::uint32_t> oversized;
    for (std::size_t at = 0; at < stream.size(); at += chunk) {
      r.feed(as_bytes(std::string_view(stream).substr(at, chunk)));
      auto got = drain(r, data, oversized);
      frames.insert(frames.end(), got.begin(), got.end());
    }
    ASSERT_EQ(frames.size(), 4u);
    EXPECT_EQ(frames[0], (frame_header{42, 1, 1, 0}));
    EXPECT_EQ(frames[1], (frame_header{35, 1, 2, 0}));
    EXPECT_EQ(frames[2], (frame_header{0, 1, 2, 0}));
    EXPECT_EQ(frames[3], (frame_header{8, 1, 2, 0}));
    EXPECT_EQ(hex(data[0]), connect_request.substr(20));
    EXPECT_EQ(data[2], "");
    EXPECT_EQ(hex(data[3]), "120608922110f721");
    EXPECT_TRUE(oversized.empty());
    EXPECT_FALSE(r.mid_frame());
  }
}

TEST(FrameReader, ReportsMidFrameForATruncatedStream) {
  const auto frame = unhex(connect_request);
  for (std::size_t cut = 1; cut < frame.size(); ++cut) {
    frame_reader r;
    r.feed(as_bytes(std::string_view(frame).substr(0, cut)));
    EXPECT_EQ(r.next(), frame_reader::event::need_more) << cut;
    EXPECT_TRUE(r.mid_frame()) << cut;
  }
}

TEST(FrameReader, DiscardsOversizedFrameAndKeepsGoing) {
  // Header announcing limit + 1 bytes on stream 5, its data, then a normal frame.
  std::string stream = unhex("00400001 00000005 01 00");
  stream += std::string(max_message_size + 1, '\xab');
  stream += unhex(connect_request);
  for (std::size_t chunk : {std::size_t{1} << 16, std::size_t{4099}, std::size_t{1} << 23}) {
    SCOPED_TRACE(chunk);
    frame_reader r;
    std::vector<std::string> data;
    std::vector<std::uint32_t> oversized;
    std::vector<frame_header> frames;
    for (std::size_t at = 0; at < stream.size(); at += chunk) {
      r.feed(as_bytes(std::string_view(stream).substr(at, chunk)));
      auto got = drain(r, data, oversized);
      frames.insert(frames.end(), got.begin(), got.end());
      if (at + chunk < stream.size() && oversized.empty()) {
        // The report waits for the last byte of the oversized data.
        EXPECT_TRUE(frames.empty());
      }
    }
    ASSERT_EQ(oversized, std::vector<std::uint32_t>{5});
    ASSERT_EQ(frames.size(), 1u);
    EXPECT_EQ(hex(data[0]), connect_request.substr(20));
    EXPECT_LT(r.buffered(), 1u);
  }
}

TEST(FrameReader, OversizedHeaderByteByByteThenData) {
  frame_reader r;
  const auto header = unhex("00400001 00000009 01 00");
  for (char ch : header) {
    r.feed(as_bytes(std::string_view(&ch, 1)));
  }
  EXPECT_EQ(r.next(), frame_reader::event::need_more);
  EXPECT_TRUE(r.mid_frame());
  r.feed(as_bytes(std::string(max_message_size, 'z')));
  EXPECT_EQ(r.next(), frame_reader::event::need_more);
  r.feed(as_bytes("z"));
  ASSERT_EQ(r.next(), frame_reader::event::oversized);
  EXPECT_EQ(r.header().length, max_message_size + 1);
  EXPECT_EQ(r.header().stream_id, 9u);
  EXPECT_EQ(r.next(), frame_reader::event::need_more);
  EXPECT_FALSE(r.mid_frame());
}

TEST(FrameReader, AcceptsAFrameOfExactlyTheLimit) {
  frame_reader r;
  r.feed(as_bytes(unhex("00400000 00000001 01 00")));
  r.feed(as_bytes(std::string(max_message_size, 'q')));
  ASSERT_EQ(r.next(), frame_reader::event::frame);
  EXPECT_EQ(r.data().size(), max_message_size);
}

TEST(FrameReader, ZeroLengthFramesBackToBack) {
  frame_reader r;
  r.feed(as_bytes(unhex(empty_response) + unhex(empty_response)));
  EXPECT_EQ(r.next(), frame_reader::event::frame);
  EXPECT_EQ(r.next(), frame_reader::event::frame);
  EXPECT_EQ(r.next(), frame_reader::event::need_more);
}

// ---- stream-id rules

TEST(StreamRules, AppliesTtrpcRulesInOrder) {
  struct step {
    const char* name;
    frame_header h;
    stream_verdict verdict;
  };
  const step steps[] = {
      {"first request", {0, 1, 1, 0}, stream_verdict::accept},
      {"even id", {0, 2, 1, 0}, stream_verdict::even},
      {"zero id", {0, 0, 1, 0}, stream_verdict::even},
      {"re-used id", {0, 1, 1, 0}, stream_verdict::reused},
      {"skipping ahead is fine", {0, 7, 1, 0}, stream_verdict::accept},
      {"going back", {0, 5, 1, 0}, stream_verdict::reused},
      {"data on a closed stream", {0, 7, 3, 0}, stream_verdict::inactive},
      {"data on an even stream", {0, 8, 3, 0}, stream_verdict::even},
      {"a response from the client", {0, 9, 2, 0}, stream_verdict::ignore},
      {"unknown type", {0, 9, 0x7f, 0}, stream_verdict::ignore},
      {"unknown type, even id", {0, 10, 0, 0}, stream_verdict::ignore},
      {"next request", {0, 9, 1, 0}, stream_verdict::accept},
  };
  stream_rules rules;
  for (const auto& s : steps) {
    EXPECT_EQ(rules.check(s.h), s.verdict) << s.name;
  }
  EXPECT_EQ(rules.last_stream_id(), 9u);
}

TEST(StreamRules, MessagesAreTtrpcs) {
  EXPECT_EQ(verdict_message(stream_verdict::even),
            "StreamID must be odd for client initiated streams");
  EXPECT_EQ(verdict_message(stream_verdict::reused),
            "StreamID cannot be re-used and must increment");
  EXPECT_EQ(verdict_message(stream_verdict::inactive), "StreamID is no longer active");
  EXPECT_EQ(oversize_message(4194305),
            "message length 4194305 exceed maximum message size of 4194304");
}

// ---- error codes

TEST(Status, GrpcCategoryCarriesCodesAndGoNames) {
  const std::error_code ec = code::unimplemented;
  EXPECT_EQ(ec.value(), 12);
  EXPECT_EQ(ec.category(), grpc_category());
  EXPECT_EQ(ec.message(), "Unimplemented");
  EXPECT_EQ(std::error_code(code::deadline_exceeded).message(), "DeadlineExceeded");
  EXPECT_EQ(std::error_code(99, grpc_category()).message(), "Code(99)");
}

TEST(Status, CloseErrorsFoldIntoClosed) {
  namespace ae = boost::asio::error;
  for (auto e : {boost::system::error_code(ae::eof), boost::system::error_code(ae::broken_pipe),
                 boost::system::error_code(ae::connection_reset)}) {
    EXPECT_EQ(fold_closed(e), errc::closed) << e.message();
  }
  EXPECT_EQ(fold_closed(boost::system::error_code(ae::timed_out)),
            std::error_code(boost::system::error_code(ae::timed_out)));
}

TEST(Status, HandlerErrorsMapToStatusCodes) {
  EXPECT_EQ(to_status_code(code::not_found), code::not_found);
  EXPECT_EQ(to_status_code(runhcs::errc::call_timeout), code::deadline_exceeded);
  EXPECT_EQ(to_status_code(std::make_error_code(std::errc::io_error)), code::unknown);
  EXPECT_EQ(to_status_code(errc::closed), code::unknown);
}

}  // namespace
}  // namespace runhcs::ttrpc
