// Texts for the shim's own error codes.
#include "common/error.hpp"

#include "common/result.hpp"

namespace runhcs {
namespace {

class shim_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "runhcs"; }
  std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
      case errc::connect_timeout:
        return "timed out connecting";
      case errc::call_timeout:
        return "timed out waiting for a reply";
      case errc::ready_timeout:
        return "timed out waiting for the shim to be ready";
      case errc::stdin_timeout:
        return "timed out reading stdin";
      case errc::serve_exited:
        return "the shim exited before it was ready";
      case errc::invalid_argument:
        return "invalid argument";
      case errc::invalid_spec:
        return "invalid OCI spec";
      case errc::cancelled:
        return "cancelled";
    }
    return "unknown runhcs error";
  }
};

}  // namespace

const std::error_category& shim_category() noexcept {
  static const shim_category_impl category;
  return category;
}

}  // namespace runhcs

namespace runhcs {

void throw_exception_from_error(const error& e, const boost::source_location&) {
  throw std::system_error(e.code, e.message);
}

}  // namespace runhcs
