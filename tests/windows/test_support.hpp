// Shared by the Windows tests: run a coroutine test body with a hard bound, unique pipe names,
// and elapsed-time measurement for the deadline checks.
#pragma once

#include <gtest/gtest.h>
#include <windows.h>

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <exception>
#include <functional>
#include <string>

namespace runhcs::test {

using namespace std::chrono_literals;

// Runs body on a fresh io_context. A body that has not finished after bound fails the test
// instead of hanging it. Test bodies use EXPECT_* (ASSERT_* cannot return from a coroutine).
inline void run_bounded(std::function<boost::asio::awaitable<void>()> body,
                        std::chrono::seconds bound = 30s) {
  boost::asio::io_context io;
  bool finished = false;
  std::exception_ptr failure;
  boost::asio::co_spawn(io, body(), [&](std::exception_ptr e) {
    finished = true;
    failure = e;
  });
  io.run_for(bound);
  ASSERT_TRUE(finished) << "the test body did not finish within " << bound.count() << " s";
  if (failure) {
    std::rethrow_exception(failure);
  }
}

// A pipe name no other test (or test run) uses.
inline std::string unique_pipe(const std::string& what) {
  static std::atomic<unsigned> counter{0};
  return R"(\\.\pipe\runhcs-test-)" + what + "-" + std::to_string(::GetCurrentProcessId()) + "-" +
         std::to_string(counter++);
}

inline std::chrono::milliseconds since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               start);
}

}  // namespace runhcs::test
