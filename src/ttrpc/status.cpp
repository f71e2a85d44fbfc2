// Texts and folding rules for the ttrpc error codes.
#include "ttrpc/status.hpp"

#include <boost/asio/error.hpp>

namespace runhcs::ttrpc {
namespace {

class grpc_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "grpc"; }
  std::string message(int value) const override {
    // gRPC's own names (codes.Code.String() in Go), which is how peers print them.
    switch (static_cast<code>(value)) {
      case code::ok:
        return "OK";
      case code::cancelled:
        return "Canceled";
      case code::unknown:
        return "Unknown";
      case code::invalid_argument:
        return "InvalidArgument";
      case code::deadline_exceeded:
        return "DeadlineExceeded";
      case code::not_found:
        return "NotFound";
      case code::already_exists:
        return "AlreadyExists";
      case code::permission_denied:
        return "PermissionDenied";
      case code::resource_exhausted:
        return "ResourceExhausted";
      case code::failed_precondition:
        return "FailedPrecondition";
      case code::aborted:
        return "Aborted";
      case code::out_of_range:
        return "OutOfRange";
      case code::unimplemented:
        return "Unimplemented";
      case code::internal:
        return "Internal";
      case code::unavailable:
        return "Unavailable";
      case code::data_loss:
        return "DataLoss";
      case code::unauthenticated:
        return "Unauthenticated";
    }
    return "Code(" + std::to_string(value) + ")";
  }
};

class ttrpc_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "ttrpc"; }
  std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
      case errc::closed:
        return "ttrpc: closed";
      case errc::message_too_large:
        return "message exceeds the maximum size of 4194304 bytes";
      case errc::protocol_error:
        return "ttrpc: protocol error";
    }
    return "unknown ttrpc error";
  }
};

}  // namespace

const std::error_category& grpc_category() noexcept {
  static const grpc_category_impl category;
  return category;
}

const std::error_category& ttrpc_category() noexcept {
  static const ttrpc_category_impl category;
  return category;
}

std::error_code fold_closed(const boost::system::error_code& ec) noexcept {
  namespace ae = boost::asio::error;
  if (ec == ae::eof || ec == ae::broken_pipe || ec == ae::connection_reset ||
      ec == ae::connection_aborted || ec == ae::bad_descriptor || ec == ae::not_connected ||
      ec == ae::shut_down) {
    return errc::closed;
  }
  return ec;
}

code to_status_code(const std::error_code& ec) noexcept {
  if (ec.category() == grpc_category()) {
    return static_cast<code>(ec.value());
  }
  if (ec == runhcs::errc::call_timeout) {
    return code::deadline_exceeded;
  }
  return code::unknown;
}

}  // namespace runhcs::ttrpc
