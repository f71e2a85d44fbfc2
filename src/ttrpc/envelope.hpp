// ttrpc message encoding, separate from framing (ttrpc codec.go vs channel.go): the Request and
// Response envelopes of proto/ttrpc/ttrpc.proto, and their mapping to our errors.
#pragma once

#include <google/protobuf/message_lite.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "common/error.hpp"
#include "ttrpc/frame.hpp"
#include "ttrpc/status.hpp"
#include "ttrpc/ttrpc.pb.h"

namespace runhcs::ttrpc {

// Request metadata, in order; a key may repeat.
using metadata = std::vector<std::pair<std::string, std::string>>;

// The metadata key containerd puts its namespace in.
inline constexpr std::string_view namespace_key = "containerd-namespace-ttrpc";

// Appends one frame carrying msg. Refuses (errc::message_too_large, out unchanged) when the
// encoded message is over max_message_size.
std::error_code append_message(std::string& out, std::uint32_t stream_id, message_type type,
                               const google::protobuf::MessageLite& msg);

// Fills a Request envelope. timeout_nano 0 means no deadline.
void make_request(::ttrpc::Request& req, std::string_view service, std::string_view method,
                  const google::protobuf::MessageLite& payload, std::int64_t timeout_nano,
                  const metadata& md);

// Appends a response frame: no status field at all for OK (ttrpc.md), else {code, message}.
// A response too large to send becomes RESOURCE_EXHAUSTED on the same stream.
void append_response(std::string& out, std::uint32_t stream_id, code status,
                     std::string_view message, std::string_view payload);

// "message length N exceed maximum message size of 4194304" (channel.go).
std::string oversize_message(std::uint64_t length);

// The error a Response stands for: empty when it has no status or status OK, else
// {code in grpc_category(), status message}.
runhcs::error response_error(const ::ttrpc::Response& resp);

}  // namespace runhcs::ttrpc
