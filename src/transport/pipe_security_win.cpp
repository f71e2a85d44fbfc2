// Builds the pipes' security descriptor from SDDL, so the policy reads like the documentation.
#include "transport/pipe_security_win.hpp"

#include <sddl.h>

#include <cstdlib>
#include <string>

#include "common/win32_win.hpp"

namespace runhcs::transport::detail {

security_descriptor security_from_sddl(std::wstring_view sddl, std::error_code& ec) {
  ec = {};
  std::wstring text(sddl);
  PSECURITY_DESCRIPTOR descriptor = nullptr;
  if (!::ConvertStringSecurityDescriptorToSecurityDescriptorW(text.c_str(), SDDL_REVISION_1,
                                                              &descriptor, nullptr)) {
    ec = win32::last_error();
    return nullptr;
  }
  return security_descriptor(descriptor);
}

security_descriptor make_pipe_security(std::error_code& ec) {
  const char* custom = std::getenv(pipe_sddl_env);
  if (custom != nullptr && *custom != '\0') {
    return security_from_sddl(win32::widen(custom), ec);
  }
  return security_from_sddl(default_pipe_sddl, ec);
}

}  // namespace runhcs::transport::detail
