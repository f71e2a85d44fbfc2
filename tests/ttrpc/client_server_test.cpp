// Integration tests of the ttrpc client and server over socket pairs: concurrency, deadlines,
// cancellation, dropped connections, oversized and hostile frames, and shutdown.
#include <gtest/gtest.h>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/write.hpp>
#include <optional>
#include <vector>

#include "common/deadline.hpp"
#include "fixture.hpp"
#include "test_util.hpp"
#include "ttrpc/io.hpp"

namespace runhcs::ttrpc {
namespace {

using namespace test;
using std::chrono::milliseconds;

deadline in(milliseconds d) {
  return steady_clock::now() + d;
}

// A raw peer's request frame, with any stream id.
std::string raw_request(std::uint32_t id, std::string_view service, std::string_view method,
                        const google::protobuf::MessageLite& payload,
                        std::int64_t timeout_nano = 0) {
  ::ttrpc::Request req;
  make_request(req, service, method, payload, timeout_nano, {});
  std::string out;
  EXPECT_FALSE(append_message(out, id, message_type::request, req));
  return out;
}

struct raw_reply {
  frame_header header;
  ::ttrpc::Response response;
};

// Reads one frame from a raw peer socket within bound; nullopt on timeout or error.
asio::awaitable<std::optional<raw_reply>> read_reply(transport::stream& s, frame_reader& r,
                                                     milliseconds bound = 5000ms) {
  auto got = co_await with_deadline(read_event(s, r), in(bound));
  if (!got || got->first || got->second != frame_reader::event::frame) {
    co_return std::nullopt;
  }
  raw_reply out{r.header(), {}};
  EXPECT_TRUE(out.response.ParseFromArray(r.data().data(), static_cast<int>(r.data().size())));
  co_return out;
}

asio::awaitable<void> write_all(transport::stream& s, std::string_view bytes) {
  co_await asio::async_write(s, asio::buffer(bytes.data(), bytes.size()), asio::use_awaitable);
}

// Waits (bounded) until pred holds.
template <class Pred>
asio::awaitable<bool> eventually(Pred pred, milliseconds bound = 5000ms) {
  const auto until = in(bound);
  while (!pred()) {
    if (steady_clock::now() > until) {
      co_return false;
    }
    co_await sleep_for(2ms);
  }
  co_return true;
}

struct harness {
  explicit harness(asio::io_context& ioc) : srv(ioc.get_executor()) {
    add_task_service(srv, stats);
  }
  // A client connected to srv.
  client connect(asio::io_context& ioc) {
    auto [a, b] = stream_pair(ioc);
    asio::co_spawn(ioc, srv.serve_connection(std::move(b)), asio::detached);
    return client(std::move(a));
  }
  // A raw socket connected to srv.
  transport::stream raw(asio::io_context& ioc) {
    auto [a, b] = stream_pair(ioc);
    asio::co_spawn(ioc, srv.serve_connection(std::move(b)), asio::detached);
    return std::move(a);
  }
  asio::awaitable<void> stop() {
    srv.close();
    co_await with_deadline(srv.wait_drained(), in(5000ms));
    EXPECT_EQ(srv.connection_count(), 0u);
  }
  service_stats stats;
  server srv;
};

TEST(ClientServer, ConnectRoundTripCarriesMetadataAndDeadline) {
  run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
    harness h(ioc);
    auto c = h.connect(ioc);
    task::ConnectResponse resp;
    const auto until = in(5000ms);
    const metadata md{{std::string(namespace_key), std::string("k8s.io")}};
    auto err = co_await c.call(task_service, "Connect", connect_req("feas"), resp, until, md);
    EXPECT_FALSE(err.code) << err.message;
    EXPECT_EQ(resp.shim_pid(), 4242u);
    EXPECT_EQ(resp.task_pid(), 4343u);
    EXPECT_EQ(resp.version(), "feas");
    EXPECT_EQ(h.stats.last_namespace, "k8s.io");
    // The server's deadline comes from timeout_nano: ours, give or take the delivery time.
    EXPECT_LT(h.stats.last_deadline, until + 1000ms);
    EXPECT_GT(h.stats.last_deadline, until - 1000ms);
    EXPECT_EQ(c.pending(), 0u);
    co_await h.stop();
  });
}

TEST(ClientServer, ConcurrentCallsAreMultiplexedAndAnsweredOutOfOrder) {
  run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
    harness h(ioc);
    auto c = h.connect(ioc);
    constexpr int n = 50;
    auto one = [&c](int i) -> asio::awaitable<std::string> {
      task::ConnectResponse resp;
      // Later calls sleep less, so replies come back in reverse.
      const auto id = "sleep:" + std::to_string((n - i) * 3);
      auto err = co_await c.call(task_service, "Connect", connect_req(id), resp, in(10000ms));
      co_return err.code ? err.message : resp.version();
    };
    using op_type = decltype(asio::co_spawn(ioc, one(0), asio::deferred));
    std::vector<op_type> ops;
    for (int i = 0; i < n; ++i) {
      ops.push_back(asio::co_spawn(ioc, one(i), asio::deferred));
    }
    auto [order, exceptions, results] =
        co_await asio::experimental::make_parallel_group(std::move(ops))
            .async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
    for (int i = 0; i < n; ++i) {
      EXPECT_EQ(results[i], "sleep:" + std::to_string((n - i) * 3));
    }
    EXPECT_EQ(order.front(), static_cast<std::size_t>(n - 1));
    EXPECT_EQ(order.back(), 0u);
    EXPECT_EQ(h.stats.max_active, n);
    co_await h.stop();
  });
}

TEST(ClientServer, ManyConnectionsAtOnce) {
  run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
    harness h(ioc);
    std::vector<client> clients;
    for (int i = 0; i < 8; ++i) {
      clients.push_back(h.connect(ioc));
    }
    co_await eventually([&] { return h.srv.connection_count() == 8; });
    EXPECT_EQ(h.srv.connection_count(), 8u);
    auto one = [&clients](int i) -> asio::awaitable<bool> {
      task::ConnectResponse resp;
      auto err = co_await clients[i % 8].call(task_service, "Connect", connect_req("sleep:20"),
                                              resp, in(10000ms));
      co_return !err.code && resp.shim_pid() == 4242;
    };
    using op_type = decltype(asio::co_spawn(ioc, one(0), asio::deferred));
    std::vector<op_type> ops;
    for (int i = 0; i < 80; ++i) {
      ops.push_back(asio::co_spawn(ioc, one(i), asio::deferred));
    }
    auto [order, exceptions, results] =
        co_await asio::experimental::make_parallel_group(std::move(ops))
            .async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
    for (bool ok : results) {
      EXPECT_TRUE(ok);
    }
    EXPECT_EQ(h.stats.max_active, 80);
    clients.clear();  // closing clients ends their connections
    EXPECT_TRUE(co_await eventually([&] { return h.srv.connection_count() == 0; }));
    co_await h.stop();
  });
}

TEST(ClientServer, DeadlineFailsTheCallAndCancelsTheHandler) {
  run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
    harness h(ioc);
    auto c = h.connect(ioc);
    task::ConnectResponse resp;
    const auto start = steady_clock::now();
    auto err = co_await c.call(task_service, "Connect", connect_req("sleep:5000"), resp, in(100ms));
    const auto took = steady_clock::now() - start;
    EXPECT_EQ(err.code, runhcs::errc::call_timeout) << err.message;
    EXPECT_GE(took, 100ms);
    EXPECT_LT(took, 1000ms);
    // The server applied the same deadline from timeout_nano and cancelled its handler.
    EXPECT_TRUE(co_await eventually([&] { return h.stats.cancelled == 1; }));
    // The late DEADLINE_EXCEEDED reply is dropped; the connection still works.
    err = co_await c.call(task_service, "Connect", connect_req("after"), resp, in(5000ms));
    EXPECT_FALSE(err.code) << err.message;
    EXPECT_EQ(resp.version(), "after");
    co_await h.stop();
  });
}

TEST(ClientServer, ExpiredDeadlineFailsWithoutSending) {
  run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
    auto [a, peer] = stream_pair(ioc);
    client c(std::move(a));
    task::ConnectResponse resp;
    auto err =
        co_await c.call(task_service, "Connect", connect_req("x"), resp, steady_clock::now() - 1ms);
    EXPECT_EQ(err.code, runhcs::errc::call_timeout);
    EXPECT_EQ(peer.available(), 0u);
  });
}

TEST(ClientServer, CancelledCallReturnsAbortedAndLateReplyIsDropped) {
  run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
    harness h(ioc);
    auto c = h.connect(ioc);
    asio::cancellation_signal cancel;
    std::optional<runhcs::error> result;
    task::ConnectResponse resp;
    asio::co_spawn(ioc, c.call(task_service, "Connect", connect_req("sleep:100"), resp, in(5000ms)),
                   asio::bind_cancellation_slot(
                       cancel.slot(), [&](std::exception_ptr, runhcs::error e) { result = e; }));
    co_await sleep_for(20ms);
    EXPECT_FALSE(result);
    cancel.emit(asio::cancellation_type::terminal);
    EXPECT_TRUE(co_await eventually([&] { return result.has_value(); }));
    EXPECT_EQ(result->code, std::errc::operation_canceled) << result->message;
    EXPECT_EQ(c.pending(), 0u);
    // The handler finishes and replies to a call nobody waits for; a new call is unaffected.
    task::ConnectResponse resp2;
    auto err =
        co_await c.call(task_service, "Connect", connect_req("sleep:150"), resp2, in(5000ms));
    EXPECT_FALSE(err.code) << err.message;
    EXPECT_EQ(resp2.version(), "sleep:150");
    EXPECT_EQ(resp.version(), "");  // the cancelled call's response was never filled
    co_await h.stop();
  });
}

TEST(ClientServer, DroppedConnectionFailsEveryPendingCallAtOnce) {
  run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
    harness h(ioc);
    auto c = h.connect(ioc);
    constexpr int n = 5;
    auto one = [&c]() -> asio::awaitable<runhcs::error> {
      task::PidsRequest req;
      task::PidsResponse resp;
      co_return co_await c.call(task_service, "Pids", req, resp, in(10000ms));
    };
    using op_type = decltype(asio::co_spawn(ioc, one(), asio::deferred));
    std::vector<op_type> ops;
    for (int i = 0; i < n; ++i) {
      ops.push_back(asio::co_spawn(ioc, one(), asio::deferred));
    }
    asio::steady_timer drop(ioc, 50ms);
    drop.async_wait([&](auto) { h.srv.close(); });
    const auto start = steady_clock::now();
    auto [order, exceptions, results] =
        co_await asio::experimental::make_parallel_group(std::move(ops))
            .async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
    EXPECT_LT(steady_clock::now() - start, 2000ms);
    for (const auto& r : results) {
      EXPECT_EQ(r.code, errc::closed) << r.message;
    }
    EXPECT_FALSE(c.is_open());
    task::ConnectResponse resp;
    EXPECT_EQ((co_await c.call(task_service, "Connect", connect_req("x"), resp, in(1000ms))).code,
              errc::closed);
    EXPECT_TRUE(co_await eventually([&] { return h.stats.cancelled == n; }));
    co_await h.stop();
  });
}

TEST(ClientServer, OversizedRequestIsRefusedBeforeAnythingIsWritten) {
  run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
    auto [a, peer] = stream_pair(ioc);
    client c(std::move(a));
    task::ConnectResponse resp;
    auto err = co_await c.call(task_service, "Connect",
                               connect_req(std::string(max_message_size, 'x')), resp, in(1000ms));
    EXPECT_EQ(err.code, errc::message_too_large) << err.message;
    EXPECT_EQ(peer.available(), 0u);
    EXPECT_TRUE(c.is_open());
    EXPECT_EQ(c.pending(), 0u);
  });
}

TEST(ClientServer, ServerAnswersResourceExhaustedAndKeepsTheConnection) {
  run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
    harness h(ioc);
    auto s = h.raw(ioc);
    frame_reader r;
    std::string big = unhex("00500000 00000001 01 00");  // 5 MiB announced on stream 1
    big.append(5u << 20, '\x11');
    co_await write_all(s, big);
    auto reply = co_await read_reply(s, r);
    EXPECT_TRUE(reply);
    if (!reply)
      co_return;
    EXPECT_EQ(reply->header.stream_id, 1u);
    EXPECT_EQ(reply->header.type, 2);
    EXPECT_EQ(reply->response.status().code(), static_cast<int>(code::resource_exhausted));
    EXPECT_EQ(reply->response.status().message(),
              "message length 5242880 exceed maximum message size of 4194304");
    co_await write_all(s, raw_request(3, task_service, "Connect", connect_req("still here")));
    reply = co_await read_reply(s, r);
    EXPECT_TRUE(reply);
    if (!reply)
      co_return;
    EXPECT_EQ(reply->header.stream_id, 3u);
    EXPECT_FALSE(reply->response.has_status());
    task::ConnectResponse resp;
    EXPECT_TRUE(resp.ParseFromString(reply->response.payload()));
    EXPECT_EQ(resp.version(), "still here");
    co_await h.stop();
  });
}

TEST(ClientServer, OversizedReplyFailsThatCallOnlyOnTheClient) {
  run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
    auto [a, peer] = stream_pair(ioc);
    client c(std::move(a));
    std::optional<runhcs::error> first;
    task::ConnectResponse resp1;
    asio::co_spawn(ioc, c.call(task_service, "Connect", connect_req("1"), resp1, in(5000ms)),
                   [&](std::exception_ptr, runhcs::error e) { first = e; });
    frame_reader r;
    auto got = co_await with_deadline(read_event(peer, r), in(5000ms));
    EXPECT_TRUE(got && got->second == frame_reader::event::frame);
    std::string big = unhex("00400001 00000001 02 00");
    big.append(max_message_size + 1, '\0');
    co_await write_all(peer, big);
    EXPECT_TRUE(co_await eventually([&] { return first.has_value(); }));
    EXPECT_EQ(first->code, errc::message_too_large);
    EXPECT_EQ(first->message, "message length 4194305 exceed maximum message size of 4194304");
    // The connection survives: answer the next call by hand.
    std::optional<runhcs::error> second;
    task::ConnectResponse resp2;
    asio::co_spawn(ioc, c.call(task_service, "Connect", connect_req("2"), resp2, in(5000ms)),
                   [&](std::exception_ptr, runhcs::error e) { second = e; });
    got = co_await with_deadline(read_event(peer, r), in(5000ms));
    EXPECT_TRUE(got && got->second == frame_reader::event::frame);
    EXPECT_EQ(r.header().stream_id, 3u);
    co_await write_all(peer, unhex("00000008 00000003 02 00 120608922110f721"));
    EXPECT_TRUE(co_await eventually([&] { return second.has_value(); }));
    EXPECT_FALSE(second->code) << second->message;
    EXPECT_EQ(resp2.shim_pid(), 4242u);
  });
}

TEST(ClientServer, UndecodableRequestIsInvalidArgumentAndConnectionStays) {
  run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
    harness h(ioc);
    auto s = h.raw(ioc);
    frame_reader r;
    co_await write_all(s, unhex("00000003 00000001 01 00 ffffff"));
    auto reply = co_await read_reply(s, r);
    EXPECT_TRUE(reply);
    if (!reply)
      co_return;
    EXPECT_EQ(reply->header.stream_id, 1u);
    EXPECT_EQ(reply->response.status().code(), static_cast<int>(code::invalid_argument));
    EXPECT_EQ(reply->response.status().message().rfind("unmarshal request error", 0), 0u);
    // An undecodable payload inside a good envelope is INVALID_ARGUMENT too.
    ::ttrpc::Request req;
    req.set_service(std::string(task_service));
    req.set_method("Connect");
    req.set_payload("\xff\xff\xff");
    std::string frame;
    EXPECT_FALSE(append_message(frame, 3, message_type::request, req));
    co_await write_all(s, frame);
    reply = co_await read_reply(s, r);
    EXPECT_TRUE(reply);
    if (!reply)
      co_return;
    EXPECT_EQ(reply->header.stream_id, 3u);
    EXPECT_EQ(reply->response.status().code(), static_cast<int>(code::invalid_argument));
    co_await write_all(s, raw_request(5, task_service, "Connect", connect_req("ok")));
    reply = co_await read_reply(s, r);
    EXPECT_TRUE(reply && !reply->response.has_status());
    co_await h.stop();
  });
}

TEST(ClientServer, GarbageThenCloseLeavesNoConnection) {
  run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
    harness h(ioc);
    auto s = h.raw(ioc);
    co_await write_all(s, "this is not ttrpc at all, just text");
    co_await sleep_for(20ms);
    EXPECT_EQ(h.srv.connection_count(), 1u);
    s.close();
    EXPECT_TRUE(co_await eventually([&] { return h.srv.connection_count() == 0; }));
    EXPECT_EQ(h.stats.calls, 0);
    co_await h.stop();
  });
}

TEST(ClientServer, TruncatedHeaderThenCloseLeavesNoConnection) {
  run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
    harness h(ioc);
    const auto frame = raw_request(1, task_service, "Connect", connect_req("x"));
    for (std::size_t cut :
         {std::size_t{1}, std::size_t{5}, std::size_t{9}, std::size_t{10}, frame.size() - 1}) {
      auto s = h.raw(ioc);
      co_await write_all(s, std::string_view(frame).substr(0, cut));
      s.close();
      EXPECT_TRUE(co_await eventually([&] { return h.srv.connection_count() == 0; })) << cut;
    }
    EXPECT_EQ(h.stats.calls, 0);
    co_await h.stop();
  });
}

TEST(ClientServer, UnknownMessageTypesAreIgnored) {
  run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
    harness h(ioc);
    auto s = h.raw(ioc);
    frame_reader r;
    // Type 0x7f on stream 1, type 2 (a response) on stream 3, then a request on stream 5.
    co_await write_all(s, unhex("00000002 00000001 7f 00 abcd 00000000 00000003 02 00"));
    co_await write_all(s, raw_request(5, task_service, "Connect", connect_req("five")));
    auto reply = co_await read_reply(s, r);
    EXPECT_TRUE(reply);
    if (!reply)
      co_return;
    EXPECT_EQ(reply->header.stream_id, 5u);
    EXPECT_FALSE(reply->response.has_status());
    co_await h.stop();
  });
}

TEST(ClientServer, StreamIdRulesAnswerInvalidArgument) {
  run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
    harness h(ioc);
    auto s = h.raw(ioc);
    frame_reader r;
    struct step {
      std::string bytes;
      std::uint32_t id;
      code status;
      std::string message;
    };
    const step steps[] = {
        {raw_request(2, task_service, "Connect", connect_req("a")), 2, code::invalid_argument,
         "StreamID must be odd for client initiated streams"},
        {raw_request(7, task_service, "Connect", connect_req("b")), 7, code::ok, ""},
        {raw_request(7, task_service, "Connect", connect_req("c")), 7, code::invalid_argument,
         "StreamID cannot be re-used and must increment"},
        {raw_request(5, task_service, "Connect", connect_req("d")), 5, code::invalid_argument,
         "StreamID cannot be re-used and must increment"},
        {unhex("00000001 00000009 03 00 00"), 9, code::invalid_argument,
         "StreamID is no longer active"},
        {raw_request(11, task_service, "Nope", connect_req("e")), 11, code::unimplemented,
         "method Nope"},
        {raw_request(13, "no.such.Service", "Connect", connect_req("f")), 13, code::unimplemented,
         "service no.such.Service"},
        {raw_request(15, task_service, "Connect", connect_req("g")), 15, code::ok, ""},
    };
    for (const auto& st : steps) {
      co_await write_all(s, st.bytes);
      auto reply = co_await read_reply(s, r);
      EXPECT_TRUE(reply) << st.message;
      if (!reply)
        co_return;
      EXPECT_EQ(reply->header.stream_id, st.id);
      EXPECT_EQ(reply->response.status().code(), static_cast<int>(st.status));
      EXPECT_EQ(reply->response.status().message(), st.message);
    }
    co_await h.stop();
  });
}

TEST(ClientServer, HandlerErrorsBecomeStatuses) {
  run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
    harness h(ioc);
    auto c = h.connect(ioc);
    task::StateRequest state;
    task::StateResponse state_resp;
    auto err = co_await c.call(task_service, "State", state, state_resp, in(5000ms));
    EXPECT_EQ(err.code, code::unimplemented);
    EXPECT_EQ(err.message, "not implemented by ttrpc-peer");
    task::KillRequest kill;
    google::protobuf::Empty empty;
    err = co_await c.call(task_service, "Kill", kill, empty, in(5000ms));
    EXPECT_EQ(err.code, code::unknown);
    EXPECT_EQ(err.message, "process already finished");
    task::DeleteRequest del;
    task::DeleteResponse del_resp;
    err = co_await c.call(task_service, "Delete", del, del_resp, in(5000ms));
    EXPECT_EQ(err.code, code::unknown);
    EXPECT_EQ(err.message, "handler blew up");
    task::ConnectResponse resp;
    err = co_await c.call(task_service, "Nope", connect_req("x"), resp, in(5000ms));
    EXPECT_EQ(err.code, code::unimplemented);
    EXPECT_EQ(err.message, "method Nope");
    err = co_await c.call("no.such.Service", "Connect", connect_req("x"), resp, in(5000ms));
    EXPECT_EQ(err.code, code::unimplemented);
    EXPECT_EQ(err.message, "service no.such.Service");
    task::ShutdownRequest shutdown;
    err = co_await c.call(task_service, "Shutdown", shutdown, empty, in(5000ms));
    EXPECT_FALSE(err.code) << err.message;
    co_await h.stop();
  });
}

TEST(ClientServer, ServerDeadlineAnswersDeadlineExceeded) {
  run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
    harness h(ioc);
    auto s = h.raw(ioc);
    frame_reader r;
    const auto start = steady_clock::now();
    co_await write_all(s, raw_request(1, task_service, "Pids", task::PidsRequest{}, 50'000'000));
    auto reply = co_await read_reply(s, r);
    const auto took = steady_clock::now() - start;
    EXPECT_TRUE(reply);
    if (!reply)
      co_return;
    EXPECT_EQ(reply->response.status().code(), static_cast<int>(code::deadline_exceeded));
    EXPECT_EQ(reply->response.status().message(), "context deadline exceeded");
    EXPECT_GE(took, 50ms);
    EXPECT_LT(took, 500ms);
    EXPECT_EQ(h.stats.cancelled, 1);
    co_await h.stop();
  });
}

TEST(ClientServer, IdlePeerIsClosedByShutdownAndLeftAloneOtherwise) {
  run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
    harness h(ioc);
    auto s = h.raw(ioc);
    co_await sleep_for(50ms);
    EXPECT_EQ(h.srv.connection_count(), 1u);
    const auto start = steady_clock::now();
    h.srv.shutdown(5000ms);
    EXPECT_TRUE(co_await with_deadline(h.srv.wait_drained(), in(5000ms)));
    EXPECT_LT(steady_clock::now() - start, 1000ms);  // idle: no need to wait for the grace
    EXPECT_EQ(h.srv.connection_count(), 0u);
    char byte;
    auto [ec, n] =
        co_await s.async_read_some(asio::buffer(&byte, 1), asio::as_tuple(asio::use_awaitable));
    EXPECT_EQ(ec, asio::error::eof);
    // A connection arriving after shutdown is closed at once.
    auto late = h.raw(ioc);
    std::tie(ec, n) =
        co_await late.async_read_some(asio::buffer(&byte, 1), asio::as_tuple(asio::use_awaitable));
    EXPECT_EQ(ec, asio::error::eof);
  });
}

TEST(ClientServer, GracefulShutdownWaitsForTheCallInFlight) {
  run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
    harness h(ioc);
    auto c = h.connect(ioc);
    std::optional<runhcs::error> result;
    task::ConnectResponse resp;
    asio::co_spawn(ioc, c.call(task_service, "Connect", connect_req("sleep:200"), resp, in(5000ms)),
                   [&](std::exception_ptr, runhcs::error e) { result = e; });
    co_await sleep_for(50ms);
    h.srv.shutdown(5000ms);
    EXPECT_TRUE(co_await with_deadline(h.srv.wait_drained(), in(5000ms)));
    EXPECT_TRUE(co_await eventually([&] { return result.has_value(); }));
    EXPECT_FALSE(result->code) << result->message;
    EXPECT_EQ(resp.version(), "sleep:200");
    EXPECT_EQ(h.srv.connection_count(), 0u);
  });
}

TEST(ClientServer, ShutdownGraceCutsAStuckCall) {
  run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
    harness h(ioc);
    auto c = h.connect(ioc);
    std::optional<runhcs::error> result;
    task::PidsRequest req;
    task::PidsResponse resp;
    asio::co_spawn(ioc, c.call(task_service, "Pids", req, resp, in(10000ms)),
                   [&](std::exception_ptr, runhcs::error e) { result = e; });
    co_await sleep_for(20ms);
    const auto start = steady_clock::now();
    h.srv.shutdown(100ms);
    EXPECT_TRUE(co_await with_deadline(h.srv.wait_drained(), in(5000ms)));
    const auto took = steady_clock::now() - start;
    EXPECT_GE(took, 100ms);
    EXPECT_LT(took, 1000ms);
    EXPECT_TRUE(co_await eventually([&] { return result.has_value(); }));
    EXPECT_EQ(result->code, errc::closed) << result->message;
    EXPECT_EQ(h.stats.cancelled, 1);
  });
}

TEST(ClientServer, CloseIsImmediate) {
  run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
    harness h(ioc);
    auto c = h.connect(ioc);
    std::optional<runhcs::error> result;
    task::ConnectResponse resp;
    asio::co_spawn(ioc,
                   c.call(task_service, "Connect", connect_req("sleep:5000"), resp, in(10000ms)),
                   [&](std::exception_ptr, runhcs::error e) { result = e; });
    co_await sleep_for(20ms);
    const auto start = steady_clock::now();
    h.srv.close();
    EXPECT_TRUE(co_await with_deadline(h.srv.wait_drained(), in(5000ms)));
    EXPECT_LT(steady_clock::now() - start, 500ms);
    EXPECT_TRUE(co_await eventually([&] { return result.has_value(); }));
    EXPECT_EQ(result->code, errc::closed);
  });
}

TEST(ClientServer, ClientCloseFailsPendingCalls) {
  run_bounded([](asio::io_context& ioc) -> asio::awaitable<void> {
    harness h(ioc);
    std::optional<runhcs::error> result;
    task::ConnectResponse resp;
    {
      auto c = std::make_unique<client>(h.connect(ioc));
      asio::co_spawn(ioc,
                     c->call(task_service, "Connect", connect_req("sleep:5000"), resp, in(10000ms)),
                     [&](std::exception_ptr, runhcs::error e) { result = e; });
      co_await sleep_for(20ms);
    }  // the client is destroyed with a call pending
    EXPECT_TRUE(co_await eventually([&] { return result.has_value(); }));
    EXPECT_EQ(result->code, errc::closed);
    EXPECT_TRUE(co_await eventually([&] { return h.srv.connection_count() == 0; }));
    co_await h.stop();
  });
}

}  // namespace
}  // namespace runhcs::ttrpc
