// The backend error category's messages.
#include <string>

#include "backend/backend.hpp"

namespace runhcs::backend {
namespace {

class category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "runhcs.backend"; }
  std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
      case errc::not_implemented:
        return "not implemented";
      case errc::already_started:
        return "process already started";
      case errc::not_started:
        return "process not started";
      case errc::already_exited:
        return "process already finished";
      case errc::still_running:
        return "process is still running";
      case errc::invalid_spec:
        return "invalid spec";
    }
    return "unknown backend error";
  }
};

}  // namespace

const std::error_category& backend_category() noexcept {
  static const category instance;
  return instance;
}

}  // namespace runhcs::backend
