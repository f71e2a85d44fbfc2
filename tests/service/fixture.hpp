// Running coroutines to completion in tests, always bounded: a test that would hang fails.
#pragma once

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <exception>
#include <optional>

namespace runhcs::testing {

// Runs op on ctx until it completes or limit passes (then the test fails and nullopt).
template <class T>
std::optional<T> run_bounded(boost::asio::io_context& ctx, boost::asio::awaitable<T> op,
                             std::chrono::milliseconds limit = std::chrono::seconds(20)) {
  std::optional<T> out;
  std::exception_ptr failure;
  bool done = false;
  boost::asio::co_spawn(ctx, std::move(op), [&](std::exception_ptr e, T value) {
    failure = e;
    if (!e) {
      out = std::move(value);
    }
    done = true;
  });
  auto until = std::chrono::steady_clock::now() + limit;
  while (!done && std::chrono::steady_clock::now() < until) {
    ctx.run_one_for(std::chrono::milliseconds(50));
  }
  if (!done) {
    ADD_FAILURE() << "operation did not finish within " << limit.count() << " ms";
    return std::nullopt;
  }
  if (failure) {
    std::rethrow_exception(failure);
  }
  return out;
}

}  // namespace runhcs::testing
