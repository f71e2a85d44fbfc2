// Small Win32 helpers shared by the Windows sources: UTF-8 <-> UTF-16 for the W APIs, an
// owning HANDLE, and GetLastError() as an error code in the category Asio uses.
#pragma once

#include <windows.h>

#include <boost/system/error_code.hpp>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

namespace runhcs::win32 {

// UTF-8 (what flags, ids and paths are in the shim) to UTF-16 (what the W APIs take).
inline std::wstring widen(std::string_view text) {
  if (text.empty()) {
    return {};
  }
  int size =
      ::MultiByteToWideChar(CP_UTF8, 0, text.data(), static_cast<int>(text.size()), nullptr, 0);
  std::wstring wide(static_cast<std::size_t>(size), L'\0');
  ::MultiByteToWideChar(CP_UTF8, 0, text.data(), static_cast<int>(text.size()), wide.data(), size);
  return wide;
}

inline std::string narrow(std::wstring_view text) {
  if (text.empty()) {
    return {};
  }
  int size = ::WideCharToMultiByte(CP_UTF8, 0, text.data(), static_cast<int>(text.size()), nullptr,
                                   0, nullptr, nullptr);
  std::string out(static_cast<std::size_t>(size), '\0');
  ::WideCharToMultiByte(CP_UTF8, 0, text.data(), static_cast<int>(text.size()), out.data(), size,
                        nullptr, nullptr);
  return out;
}

// The same category Asio's Windows completions use, so codes compare equal to asio::error::*.
inline std::error_code error_code_from(DWORD code) {
  return boost::system::error_code(static_cast<int>(code), boost::system::system_category());
}
inline std::error_code last_error() {
  return error_code_from(::GetLastError());
}

// Owns a kernel handle; null and INVALID_HANDLE_VALUE both mean "none".
class unique_handle {
 public:
  unique_handle() noexcept = default;
  explicit unique_handle(HANDLE h) noexcept : handle_(h) {}
  unique_handle(unique_handle&& other) noexcept : handle_(other.release()) {}
  unique_handle& operator=(unique_handle&& other) noexcept {
    reset(other.release());
    return *this;
  }
  unique_handle(const unique_handle&) = delete;
  unique_handle& operator=(const unique_handle&) = delete;
  ~unique_handle() { reset(); }

  HANDLE get() const noexcept { return handle_; }
  explicit operator bool() const noexcept {
    return handle_ != nullptr && handle_ != INVALID_HANDLE_VALUE;
  }
  HANDLE release() noexcept { return std::exchange(handle_, nullptr); }
  void reset(HANDLE h = nullptr) noexcept {
    HANDLE old = std::exchange(handle_, h);
    if (old != nullptr && old != INVALID_HANDLE_VALUE) {
      ::CloseHandle(old);
    }
  }

 private:
  HANDLE handle_ = nullptr;
};

}  // namespace runhcs::win32
