// containerd's identifier rule, without std::regex (it costs start-up time).
#include "common/identifier.hpp"

namespace runhcs {
namespace {

bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

}  // namespace

bool is_valid_identifier(std::string_view text) noexcept {
  if (text.empty() || text.size() > max_identifier_length) {
    return false;
  }
  // Separators may appear only singly, between alphanumeric runs.
  bool previous_alnum = false;
  for (char c : text) {
    if (is_alnum(c)) {
      previous_alnum = true;
    } else if ((c == '.' || c == '_' || c == '-') && previous_alnum) {
      previous_alnum = false;
    } else {
      return false;
    }
  }
  return previous_alnum;
}

}  // namespace runhcs
