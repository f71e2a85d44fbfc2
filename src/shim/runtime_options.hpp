// The runtime options containerd writes to the shim's stdin (a protobuf Any; empty means
// defaults). A shim must read stdin to EOF or containerd can hang; we bound that read.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <string>

#include "common/deadline.hpp"
#include "common/result.hpp"

namespace runhcs::shim {

// The most stdin may hold; runtime options are a few hundred bytes.
inline constexpr std::size_t max_runtime_options_size = 1 << 20;

// Reads stdin to EOF until the deadline (errc::stdin_timeout), then closes it (stdin becomes
// the null device). A terminal on stdin is not read. Cancellation: terminal.
boost::asio::awaitable<result<std::string>> read_runtime_options(deadline until);

}  // namespace runhcs::shim
