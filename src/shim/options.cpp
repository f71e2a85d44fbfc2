// Operator settings from environment variables.
#include "shim/options.hpp"

#include <cstdlib>
#include <filesystem>

#include "shim/address.hpp"

namespace runhcs::shim {
namespace {

// Sets out from the variable when it is set; leaves the default otherwise.
result<void> duration_from_environment(const char* name, duration& out) {
  const char* text = std::getenv(name);
  if (text == nullptr || *text == '\0') {
    return {};
  }
  auto parsed = parse_duration(text);
  if (!parsed || *parsed <= duration::zero()) {
    return error{errc::invalid_argument, std::string("invalid ") + name + " \"" + text +
                                             "\": want a positive duration such as 5s or 250ms"};
  }
  out = *parsed;
  return {};
}

}  // namespace

result<settings> settings_from_environment() {
  settings s;
  for (auto [name, field] : {std::pair{"RUNHCS_DIAL_TIMEOUT", &s.dial_timeout},
                             std::pair{"RUNHCS_CONNECT_TIMEOUT", &s.connect_timeout},
                             std::pair{"RUNHCS_READY_TIMEOUT", &s.ready_timeout},
                             std::pair{"RUNHCS_STDIN_TIMEOUT", &s.stdin_timeout},
                             std::pair{"RUNHCS_DELETE_TIMEOUT", &s.delete_timeout}}) {
    if (auto r = duration_from_environment(name, *field); !r) {
      return r.error();
    }
  }
  const char* dir = std::getenv("RUNHCS_SOCKET_DIR");
  s.socket_dir = dir != nullptr && *dir != '\0' ? dir : std::string(default_socket_dir);
#if !defined(_WIN32)  // Windows addresses are pipe names; there is no socket directory
  if (!std::filesystem::path(s.socket_dir).is_absolute()) {
    return error{errc::invalid_argument,
                 "invalid RUNHCS_SOCKET_DIR \"" + s.socket_dir + "\": want an absolute path"};
  }
#endif
  return s;
}

}  // namespace runhcs::shim
