// serve's log pipe: lines reach the newest client only, are dropped without one, and the
// queue is bounded; run() ends on close().
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <string>

#include "shim/address.hpp"
#include "shim/log_pipe.hpp"
#include "test_support.hpp"
#include "transport/transport.hpp"

namespace {

namespace asio = boost::asio;
using namespace runhcs;
using namespace runhcs::test;
using namespace asio::experimental::awaitable_operators;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

asio::awaitable<void> sleep_for(steady_clock::duration d) {
  asio::steady_timer timer(co_await asio::this_coro::executor, d);
  co_await timer.async_wait(use_tuple);
}

// Polls until the log pipe has a client (it accepts asynchronously), for at most 5 s.
asio::awaitable<bool> wait_for_client(const shim::log_pipe& log) {
  for (int i = 0; i < 500 && !log.has_client(); ++i) {
    co_await sleep_for(10ms);
  }
  co_return log.has_client();
}

asio::awaitable<std::string> read_exactly(transport::stream& s, std::size_t n) {
  std::string text(n, '\0');
  auto [ec, got] = co_await asio::async_read(s, asio::buffer(text), use_tuple);
  text.resize(got);
  co_return text;
}

// Runs body while the log pipe's run() serves, then closes it and checks run() ended.
void with_log_pipe(std::size_t capacity,
                   std::function<asio::awaitable<void>(shim::log_pipe&, const std::string&)> body) {
  run_bounded([&]() -> asio::awaitable<void> {
    auto executor = co_await asio::this_coro::executor;
    const std::string address = unique_pipe("log");
    shim::log_pipe log(executor, capacity);
    EXPECT_FALSE(log.listen(address));
    bool ran = false;
    auto serve = [&]() -> asio::awaitable<void> {
      co_await log.run();
      ran = true;
    };
    auto drive = [&]() -> asio::awaitable<void> {
      co_await body(log, address);
      log.close();
    };
    co_await (serve() && drive());
    EXPECT_TRUE(ran);
  });
}

TEST(log_pipe, lines_reach_the_newest_client_only) {
  with_log_pipe(shim::log_pipe::default_capacity,
                [](shim::log_pipe& log, const std::string& address) -> asio::awaitable<void> {
                  std::error_code ec;
                  auto first = co_await transport::dial(address, steady_clock::now() + 5s, ec);
                  EXPECT_FALSE(ec);
                  EXPECT_TRUE(co_await wait_for_client(log));
                  log.write("one");
                  EXPECT_EQ(co_await read_exactly(first, 4), "one\n");

                  auto second = co_await transport::dial(address, steady_clock::now() + 5s, ec);
                  EXPECT_FALSE(ec);
                  // The first client is dropped when the second arrives.
                  char byte = 0;
                  auto [first_end, n] =
                      co_await first.async_read_some(asio::buffer(&byte, 1), use_tuple);
                  EXPECT_TRUE(first_end);
                  log.write("two\n");
                  EXPECT_EQ(co_await read_exactly(second, 4), "two\n");
                });
}

TEST(log_pipe, lines_without_a_client_are_dropped) {
  with_log_pipe(shim::log_pipe::default_capacity,
                [](shim::log_pipe& log, const std::string& address) -> asio::awaitable<void> {
                  log.write("lost");
                  EXPECT_EQ(log.dropped(), 1u);
                  std::error_code ec;
                  auto client = co_await transport::dial(address, steady_clock::now() + 5s, ec);
                  EXPECT_TRUE(co_await wait_for_client(log));
                  log.write("kept");
                  EXPECT_EQ(co_await read_exactly(client, 5), "kept\n");
                });
}

TEST(log_pipe, the_queue_is_bounded) {
  with_log_pipe(16, [](shim::log_pipe& log, const std::string& address) -> asio::awaitable<void> {
    std::error_code ec;
    auto client = co_await transport::dial(address, steady_clock::now() + 5s, ec);
    EXPECT_TRUE(co_await wait_for_client(log));
    // Nothing is written until we yield: four 4-byte lines fit in 16 bytes, six do not.
    for (int i = 0; i < 10; ++i) {
      log.write("abc");
    }
    EXPECT_EQ(log.dropped(), 6u);
    EXPECT_EQ(co_await read_exactly(client, 16), "abc\nabc\nabc\nabc\n");
    log.write("end");
    EXPECT_EQ(co_await read_exactly(client, 4), "end\n");
  });
}

TEST(log_pipe, run_ends_when_cancelled) {
  run_bounded([]() -> asio::awaitable<void> {
    auto executor = co_await asio::this_coro::executor;
    shim::log_pipe log(executor);
    EXPECT_FALSE(log.listen(unique_pipe("log-cancel")));
    auto start = steady_clock::now();
    bool finished = co_await with_deadline(log.run(), start + 200ms);
    EXPECT_FALSE(finished);
    EXPECT_LT(since(start), 2s);
  });
}

TEST(log_pipe, the_address_is_runhcs_log_pipe) {
  EXPECT_EQ(shim::log_pipe_address("k8s.io", "abc"), R"(\\.\pipe\containerd-shim-k8s.io-abc-log)");
}

}  // namespace
