// Windows shim addresses, as runhcs names them, so containerd and a runhcs pod shim agree.
#include <string>

#include "shim/address.hpp"

namespace runhcs::shim {

std::string shim_address(const address_inputs& in) {
  // ProtectedPrefix\Administrators: only elevated processes may create a pipe here (no squatting).
  std::string address = R"(\\.\pipe\ProtectedPrefix\Administrators\containerd-shim-)";
  address.append(in.ns).append("-").append(in.id).append("-pipe");
  return address;
}

std::string log_pipe_address(std::string_view ns, std::string_view id) {
  std::string address = R"(\\.\pipe\containerd-shim-)";
  address.append(ns).append("-").append(id).append("-log");
  return address;
}

}  // namespace runhcs::shim
