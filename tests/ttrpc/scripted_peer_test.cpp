// The client against a scripted peer that plays exact bytes: reads the golden request, answers
// in short writes, or closes at every step of the call.
#include <gtest/gtest.h>

#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <optional>
#include <variant>
#include <vector>

#include "fixture.hpp"
#include "test_util.hpp"

namespace runhcs::ttrpc {
namespace {

using namespace test;
using std::chrono::milliseconds;

const std::string connect_request = unhex(
    "0000002a000000010100 0a17636f6e7461696e6572642e7461736b2e76322e5461736b 1207436f6e6e656374"
    "1a060a0466656173");
const std::string connect_response = unhex("00000008000000010200 120608922110f721");
const std::string state_error_response = unhex(
    "000000230000000102000a21080c121d6e6f7420696d706c656d656e7465642062792074747270632d70656572");
const std::string shutdown_request = unhex(
    "0000002b0000000101000a17636f6e7461696e6572642e7461736b2e76322e5461736b120853687574646f776e"
    "1a060a0466656173");
const std::string empty_response = unhex("00000000000000010200");

// One step of the peer's script.
struct expect_read {
  std::string bytes;
};
struct write_bytes {
  std::string bytes;
  std::size_t chunk = 0;  // 0: all at once; else one write per chunk bytes
};
struct close_now {};
using step = std::variant<expect_read, write_bytes, close_now>;

asio::awaitable<void> play(transport::stream& peer, std::vector<step> script) {
  for (auto& s : script) {
    if (auto* r = std::get_if<expect_read>(&s)) {
      std::string got(r->bytes.size(), '\0');
      auto [ec, n] =
          co_await asio::async_read(peer, asio::buffer(got), asio::as_tuple(asio::use_awaitable));
      EXPECT_FALSE(ec) << ec.message();
      EXPECT_EQ(hex(got.substr(0, n)), hex(r->bytes));
    } else if (auto* w = std::get_if<write_bytes>(&s)) {
      const auto chunk = w->chunk == 0 ? w->bytes.size() : w->chunk;
      for (std::size_t at = 0; at < w->bytes.size(); at += chunk) {
        const auto part = std::string_view(w->bytes).substr(at, chunk);
        co_await asio::async_write(peer, asio::buffer(part.data(), part.size()),
                                   asio::use_awaitable);
        if (w->chunk != 0) {
          co_await sleep_for(milliseconds(1));  // make each chunk its own read on the client
        }
      }
    } else {
      peer.close();
    }
  }
}

// Runs one Connect{feas} call (no deadline sent) against the script; returns its outcome.
template <class Req, class Resp>
runhcs::error call_against(std::vector<step> script, std::string_view method, const Req& req,
                           Resp& resp) {
  runhcs::error out;
  run_bounded([&](asio::io_context& ioc) -> asio::awaitable<void> {
    auto [a, peer] = stream_pair(ioc);
    client c(std::move(a));
    bool played = false;
    asio::co_spawn(ioc, play(peer, std::move(script)), [&](std::exception_ptr e) {
      played = true;
      EXPECT_FALSE(e);
    });
    // deadline::max() sends no timeout_nano, so the bytes are the golden ones; the test is
    // bounded by run_bounded.
    out = co_await c.call(task_service, method, req, resp, deadline::max());
    for (int i = 0; i < 1000 && !played; ++i) {
      co_await sleep_for(milliseconds(2));
    }
    EXPECT_TRUE(played);
  });
  return out;
}

TEST(ScriptedPeer, ReplyInOneByteWritesIsAssembled) {
  task::ConnectResponse resp;
  auto err = call_against({expect_read{connect_request}, write_bytes{connect_response, 1}},
                          "Connect", connect_req("feas"), resp);
  EXPECT_FALSE(err.code) << err.message;
  EXPECT_EQ(resp.shim_pid(), 4242u);
  EXPECT_EQ(resp.task_pid(), 4343u);
}

TEST(ScriptedPeer, ReplyInOddChunks) {
  for (std::size_t chunk : {2u, 3u, 7u, 9u, 10u, 11u, 17u}) {
    task::ConnectResponse resp;
    auto err = call_against({expect_read{connect_request}, write_bytes{connect_response, chunk}},
                            "Connect", connect_req("feas"), resp);
    EXPECT_FALSE(err.code) << chunk << ": " << err.message;
    EXPECT_EQ(resp.task_pid(), 4343u) << chunk;
  }
}

TEST(ScriptedPeer, CloseAtEveryByteOfTheReplyFailsWithClosed) {
  for (std::size_t cut = 0; cut < connect_response.size(); ++cut) {
    task::ConnectResponse resp;
    std::vector<step> script{expect_read{connect_request}};
    if (cut > 0) {
      script.emplace_back(write_bytes{connect_response.substr(0, cut), 1});
    }
    script.emplace_back(close_now{});
    auto err = call_against(std::move(script), "Connect", connect_req("feas"), resp);
    EXPECT_EQ(err.code, errc::closed) << cut << ": " << err.message;
  }
}

TEST(ScriptedPeer, CloseBeforeReadingTheRequestFailsWithClosed) {
  task::ConnectResponse resp;
  auto err = call_against({close_now{}}, "Connect", connect_req("feas"), resp);
  EXPECT_EQ(err.code, errc::closed) << err.message;
}

TEST(ScriptedPeer, ReplyOnAnotherStreamIsDropped) {
  task::ConnectResponse resp;
  std::string other = connect_response;
  other[7] = 99;  // stream 99: nobody waits for it
  auto err = call_against(
      {expect_read{connect_request}, write_bytes{other}, write_bytes{connect_response}}, "Connect",
      connect_req("feas"), resp);
  EXPECT_FALSE(err.code) << err.message;
  EXPECT_EQ(resp.shim_pid(), 4242u);
}

TEST(ScriptedPeer, UnknownMessageTypeBeforeTheReplyIsIgnored) {
  task::ConnectResponse resp;
  auto err =
      call_against({expect_read{connect_request}, write_bytes{unhex("00000001 00000001 09 00 ff")},
                    write_bytes{connect_response}},
                   "Connect", connect_req("feas"), resp);
  EXPECT_FALSE(err.code) << err.message;
  EXPECT_EQ(resp.shim_pid(), 4242u);
}

TEST(ScriptedPeer, GoldenErrorStatusBecomesGrpcError) {
  task::StateRequest req;
  req.set_id("feas");
  task::StateResponse resp;
  const auto state_request = unhex(
      "000000280000000101000a17636f6e7461696e6572642e7461736b2e76322e5461736b12055374617465"
      "1a060a0466656173");
  auto err = call_against({expect_read{state_request}, write_bytes{state_error_response, 5}},
                          "State", req, resp);
  EXPECT_EQ(err.code, code::unimplemented);
  EXPECT_EQ(err.message, "not implemented by ttrpc-peer");
}

TEST(ScriptedPeer, GoldenEmptyReplyIsSuccess) {
  task::ShutdownRequest req;
  req.set_id("feas");
  google::protobuf::Empty resp;
  auto err = call_against({expect_read{shutdown_request}, write_bytes{empty_response, 1}},
                          "Shutdown", req, resp);
  EXPECT_FALSE(err.code) << err.message;
}

TEST(ScriptedPeer, MalformedReplyIsAProtocolError) {
  task::ConnectResponse resp;
  // A Response whose status field claims 200 bytes it does not have.
  auto err = call_against(
      {expect_read{connect_request}, write_bytes{unhex("00000003 00000001 02 00 0ac801")}},
      "Connect", connect_req("feas"), resp);
  EXPECT_EQ(err.code, errc::protocol_error) << err.message;
  // A Response whose payload is not a ConnectResponse.
  err = call_against(
      {expect_read{connect_request}, write_bytes{unhex("00000004 00000001 02 00 1202ffff")}},
      "Connect", connect_req("feas"), resp);
  EXPECT_EQ(err.code, errc::protocol_error) << err.message;
}

}  // namespace
}  // namespace runhcs::ttrpc
