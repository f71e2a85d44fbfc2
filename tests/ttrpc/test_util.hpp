// Helpers shared by the ttrpc tests: hex bytes, and running a coroutine on an io_context under
// a bound so that no test can hang.
#pragma once

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <exception>
#include <span>
#include <string>
#include <string_view>

namespace runhcs::ttrpc::test {

inline std::string unhex(std::string_view hex) {
  std::string out;
  int nibble = -1;
  for (char ch : hex) {
    int v = -1;
    if (ch >= '0' && ch <= '9')
      v = ch - '0';
    if (ch >= 'a' && ch <= 'f')
      v = ch - 'a' + 10;
    if (v < 0)
      continue;  // spaces and separators
    if (nibble < 0) {
      nibble = v;
    } else {
      out.push_back(static_cast<char>(nibble * 16 + v));
      nibble = -1;
    }
  }
  return out;
}

inline std::string hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char ch : bytes) {
    out.push_back(digits[ch >> 4]);
    out.push_back(digits[ch & 15]);
  }
  return out;
}

inline std::span<const std::uint8_t> as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// Runs body(ioc) to completion, failing the test if it takes longer than bound.
template <class Body>
void run_bounded(Body body, std::chrono::milliseconds bound = std::chrono::seconds(20)) {
  boost::asio::io_context ioc;
  bool done = false;
  std::exception_ptr failure;
  boost::asio::co_spawn(ioc, body(ioc), [&](std::exception_ptr e) {
    done = true;
    failure = e;
    ioc.stop();
  });
  ioc.run_for(bound);
  ASSERT_TRUE(done) << "test did not finish within " << bound.count() << " ms";
  if (failure) {
    std::rethrow_exception(failure);
  }
}

}  // namespace runhcs::ttrpc::test
