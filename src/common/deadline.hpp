// Deadlines: every wait in the shim is bounded (DESIGN.md). An operation races a timer; the
// timer winning is the only thing reported as a timeout.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <optional>
#include <type_traits>

namespace runhcs {

using steady_clock = std::chrono::steady_clock;
using deadline = steady_clock::time_point;

// Runs op until it completes or the deadline passes, whichever is first. On the deadline the
// operation gets terminal cancellation and the result is nullopt. Exceptions from op
// propagate. op must react to cancellation (Asio I/O and timers do).
template <class T>
boost::asio::awaitable<std::optional<T>> with_deadline(boost::asio::awaitable<T> op,
                                                       deadline until) {
  using namespace boost::asio::experimental::awaitable_operators;
  boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, until);
  auto outcome = co_await (std::move(op) || timer.async_wait(boost::asio::use_awaitable));
  if (outcome.index() == 0) {
    co_return std::move(std::get<0>(outcome));
  }
  co_return std::nullopt;
}

// The same for an operation with no value: true when it finished, false on the deadline.
inline boost::asio::awaitable<bool> with_deadline(boost::asio::awaitable<void> op, deadline until) {
  using namespace boost::asio::experimental::awaitable_operators;
  boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, until);
  auto outcome = co_await (std::move(op) || timer.async_wait(boost::asio::use_awaitable));
  co_return outcome.index() == 0;
}

}  // namespace runhcs
