// Console output for the commands: unbuffered, whole writes, nothing else ever printed.
#include "shim/console.hpp"

#include <cerrno>
#include <string>

#if defined(_WIN32)
#include <io.h>
#define RUNHCS_WRITE ::_write
#else
#include <unistd.h>
#define RUNHCS_WRITE ::write
#endif

namespace runhcs::shim {

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    auto n = RUNHCS_WRITE(fd, data.data(), static_cast<unsigned>(data.size()));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

int report_failure(const error& e) {
  std::string line = e.message.empty() ? e.code.message() : e.message;
  line += '\n';
  write_all(2, line);
  return 1;
}

int print_address(std::string_view address) {
  return write_all(1, address) ? 0 : 1;
}

}  // namespace runhcs::shim
