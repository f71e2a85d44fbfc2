// Atomic bundle file writes on Windows: a temp file beside the target, written and flushed to
// disk, then moved over the target with MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH.
#include <windows.h>

#include <random>
#include <string>

#include "common/win32_win.hpp"
#include "shim/bundle_files.hpp"

namespace runhcs::shim {
namespace {

error os_error(std::string_view what, const std::filesystem::path& path) {
  std::error_code code = win32::last_error();
  return {code, std::string(what) + " " + path.string() + ": " + code.message()};
}

// A name no other writer uses: the target's name, our pid and a random suffix.
std::filesystem::path temp_path_for(const std::filesystem::path& path) {
  std::random_device random;
  // Appended piecewise: GCC 12 at -O3 warns falsely (-Wrestrict) on "." + std::string.
  std::string name(".");
  name += path.filename().string();
  name += '.';
  name += std::to_string(::GetCurrentProcessId());
  name += '.';
  name += std::to_string(random());
  name += ".tmp";
  return path.parent_path() / name;
}

}  // namespace

result<void> write_file_atomic(const std::filesystem::path& path, std::string_view content) {
  const auto temp = temp_path_for(path);
  // CREATE_NEW: never reuse a file someone else made; no sharing while we write it.
  win32::unique_handle file(::CreateFileW(temp.c_str(), GENERIC_WRITE, 0, nullptr, CREATE_NEW,
                                          FILE_ATTRIBUTE_NORMAL, nullptr));
  if (!file) {
    return os_error("open", temp);
  }
  auto fail = [&](std::string_view what, const std::filesystem::path& subject) {
    error e = os_error(what, subject);
    file.reset();
    ::DeleteFileW(temp.c_str());
    return e;
  };
  std::size_t written = 0;
  while (written < content.size()) {
    DWORD chunk = static_cast<DWORD>(std::min<std::size_t>(content.size() - written, 1 << 20));
    DWORD done = 0;
    if (!::WriteFile(file.get(), content.data() + written, chunk, &done, nullptr)) {
      return fail("write", temp);
    }
    written += done;
  }
  if (!::FlushFileBuffers(file.get())) {
    return fail("sync", temp);
  }
  if (!::CloseHandle(file.release())) {
    return fail("close", temp);
  }
  if (!::MoveFileExW(temp.c_str(), path.c_str(),
                     MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH)) {
    return fail("rename", path);
  }
  return {};
}

}  // namespace runhcs::shim
