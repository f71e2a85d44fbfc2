// The security descriptor every shim pipe is created with (DESIGN.md, Security): SYSTEM and
// BUILTIN\Administrators get full control, nobody else gets anything. Private to transport.
#pragma once

#include <windows.h>

#include <memory>
#include <string_view>
#include <system_error>

namespace runhcs::transport::detail {

// SDDL: protected DACL (no inherited entries), generic-all to SYSTEM and Administrators.
inline constexpr std::wstring_view default_pipe_sddl = L"D:P(A;;GA;;;SY)(A;;GA;;;BA)";
// Operators may replace it (e.g. to grant a service account access).
inline constexpr const char* pipe_sddl_env = "RUNHCS_PIPE_SDDL";

struct local_free {
  void operator()(void* p) const noexcept { ::LocalFree(p); }
};
using security_descriptor = std::unique_ptr<void, local_free>;

// The descriptor from RUNHCS_PIPE_SDDL, or the default when it is unset or empty. An SDDL
// string Windows rejects sets ec (ERROR_INVALID_PARAMETER or similar) and returns null.
security_descriptor make_pipe_security(std::error_code& ec);

// The descriptor for an explicit SDDL string.
security_descriptor security_from_sddl(std::wstring_view sddl, std::error_code& ec);

}  // namespace runhcs::transport::detail
