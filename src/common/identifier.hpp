// containerd's identifier rule: ids and namespaces become parts of paths and pipe names, so
// they are checked before use.
#pragma once

#include <string_view>

namespace runhcs {

inline constexpr std::size_t max_identifier_length = 76;

// True when text matches ^[A-Za-z0-9]+(?:[._-](?:[A-Za-z0-9]+))*$ and is at most 76 long.
bool is_valid_identifier(std::string_view text) noexcept;

}  // namespace runhcs
