// Files the shim keeps in the bundle (shim-contract.md §2): written atomically so that
// containerd never reads half a file, and a failed write leaves nothing behind.
#pragma once

#include <filesystem>
#include <string_view>

#include "common/result.hpp"

namespace runhcs::shim {

// Writes content to path through a temp file in the same directory: write, flush to disk,
// close, rename over path (mode 0644). On any failure the temp file is removed and path is
// untouched. One source file per OS (bundle_files_posix.cpp, bundle_files_win.cpp).
result<void> write_file_atomic(const std::filesystem::path& path, std::string_view content);

}  // namespace runhcs::shim
