// A minimal ttrpc peer written from the wire format alone (reference/ttrpc.md), independent of
// the code under test: one request out, one response back, over a blocking unix socket.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "google/rpc/status.pb.h"
#include "ttrpc/ttrpc.pb.h"

namespace runhcs::test {

// Connects to a unix:// address and calls service/method with payload; nullopt when the
// connection fails or no complete response arrives within the bound.
std::optional<::ttrpc::Response> call_raw(
    const std::string& address, const std::string& method, const std::string& payload,
    std::chrono::milliseconds bound = std::chrono::seconds(5));

// The 10-byte frame header: length, stream id (big-endian), type, flags.
std::string frame(std::uint32_t stream_id, std::uint8_t type, const std::string& body);

// Listens on a unix socket path; the caller decides whether to accept.
int listen_unix(const std::string& path);

}  // namespace runhcs::test
