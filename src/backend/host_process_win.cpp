// The host-process backend on Windows is not written yet (it will use job objects and
// CreateProcessAsUser); until then every Create fails with not_implemented.
#include "backend/host_process.hpp"

namespace runhcs::backend {
namespace {

class unavailable_backend final : public backend {
 public:
  result<std::unique_ptr<container>> create(const container_options&) override {
    return make_error(make_error_code(errc::not_implemented),
                      "the host-process backend is not implemented on Windows yet");
  }
  std::string_view name() const noexcept override { return "host-process"; }
};

}  // namespace

std::unique_ptr<backend> make_host_process_backend(const boost::asio::any_io_executor&) {
  return std::make_unique<unavailable_backend>();
}

}  // namespace runhcs::backend
