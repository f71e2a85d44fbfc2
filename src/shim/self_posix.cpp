// This binary's path on Linux: /proc/self/exe names the file even if argv[0] is relative.
#include <filesystem>

#include "shim/self.hpp"

namespace runhcs::shim {

result<std::filesystem::path> self_executable() {
  std::error_code ec;
  auto path = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) {
    return error{ec, "cannot find this executable: " + ec.message()};
  }
  return path;
}

}  // namespace runhcs::shim
