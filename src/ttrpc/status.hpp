// Error codes of the ttrpc layers: gRPC status codes (what a peer answers) and our own local
// failures (what happened on this side), both as std::error_code.
#pragma once

#include <boost/system/error_code.hpp>
#include <cstdint>
#include <system_error>

#include "common/error.hpp"

namespace runhcs::ttrpc {

// gRPC status codes, as carried in google.rpc.Status.code.
enum class code : std::int32_t {
  ok = 0,
  cancelled = 1,
  unknown = 2,
  invalid_argument = 3,
  deadline_exceeded = 4,
  not_found = 5,
  already_exists = 6,
  permission_denied = 7,
  resource_exhausted = 8,
  failed_precondition = 9,
  aborted = 10,
  out_of_range = 11,
  unimplemented = 12,
  internal = 13,
  unavailable = 14,
  data_loss = 15,
  unauthenticated = 16,
};

// The category whose values are gRPC codes: a remote status becomes {code, grpc_category()}.
const std::error_category& grpc_category() noexcept;
inline std::error_code make_error_code(code c) noexcept {
  return {static_cast<int>(c), grpc_category()};
}

// Local failures of a ttrpc connection. A deadline is runhcs::errc::call_timeout.
enum class errc {
  closed = 1,         // the connection is gone: EOF, broken pipe, reset, or closed by us
  message_too_large,  // a frame over the 4 MiB limit: refused before sending, or received
  protocol_error,     // the peer sent something we cannot decode
};

const std::error_category& ttrpc_category() noexcept;
inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), ttrpc_category()};
}

// Folds the ways a stream ends (EOF, EPIPE, ECONNRESET, a closed descriptor) into errc::closed,
// like ttrpc's filterCloseErr; any other code is returned unchanged.
std::error_code fold_closed(const boost::system::error_code& ec) noexcept;

// The gRPC status a handler's error becomes: its own code when it is in grpc_category(),
// DEADLINE_EXCEEDED for runhcs::errc::call_timeout, UNKNOWN for everything else.
code to_status_code(const std::error_code& ec) noexcept;

}  // namespace runhcs::ttrpc

template <>
struct std::is_error_code_enum<runhcs::ttrpc::code> : std::true_type {};
template <>
struct std::is_error_code_enum<runhcs::ttrpc::errc> : std::true_type {};
