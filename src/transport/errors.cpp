// Texts for the transport's own error codes; shared by every OS, so no OS words in them.
#include "transport/transport.hpp"

namespace runhcs::transport {
namespace {

class transport_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "runhcs.transport"; }

  std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
      case errc::timeout:
        return "timed out waiting for the address to accept a connection";
      case errc::invalid_address:
        return "invalid address";
      case errc::path_too_long:
        return "address too long";
      case errc::address_in_use:
        return "address already in use";
      case errc::access_denied:
        return "access denied";
      case errc::peer_rejected:
        return "peer rejected";
    }
    return "unknown transport error";
  }

  // Lets callers test against the portable conditions (ec == std::errc::timed_out).
  std::error_condition default_error_condition(int value) const noexcept override {
    switch (static_cast<errc>(value)) {
      case errc::timeout:
        return std::errc::timed_out;
      case errc::address_in_use:
        return std::errc::address_in_use;
      case errc::access_denied:
        return std::errc::permission_denied;
      case errc::path_too_long:
        return std::errc::filename_too_long;
      case errc::invalid_address:
        return std::errc::invalid_argument;
      default:
        return {value, *this};
    }
  }
};

}  // namespace

const std::error_category& transport_category() noexcept {
  static const transport_category_impl category;
  return category;
}

}  // namespace runhcs::transport
