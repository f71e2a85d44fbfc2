// This binary's path on Windows, from the module handle of the process.
#include <windows.h>

#include <filesystem>
#include <string>

#include "shim/self.hpp"

namespace runhcs::shim {

result<std::filesystem::path> self_executable() {
  std::wstring buffer(MAX_PATH, L'\0');
  for (;;) {
    DWORD n = ::GetModuleFileNameW(nullptr, buffer.data(), static_cast<DWORD>(buffer.size()));
    if (n == 0) {
      std::error_code ec(static_cast<int>(::GetLastError()), std::system_category());
      return error{ec, "cannot find this executable: " + ec.message()};
    }
    if (n < buffer.size()) {
      buffer.resize(n);
      return std::filesystem::path(buffer);
    }
    buffer.resize(buffer.size() * 2);
  }
}

}  // namespace runhcs::shim
