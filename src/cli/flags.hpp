// Command-line parsing with the syntax of Go's `flag` package, which containerd relies on:
// "-x v", "--x v", "-x=v", "--x=v"; booleans as "-x" or "-x=true"; parsing stops at the first
// non-flag argument (the command word) or after "--".
#pragma once

#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace runhcs::cli {

struct flag_spec {
  std::string_view name;
  bool is_bool = false;
};

struct parsed_flags {
  std::map<std::string, std::string, std::less<>> values;  // bools hold "true" / "false"
  std::vector<std::string> rest;                           // the command word and what follows

  std::string_view get(std::string_view name) const;  // "" when absent
  bool has(std::string_view name) const;
  bool get_bool(std::string_view name) const;
};

// Parses args against specs. Errors: "flag provided but not defined: -x",
// "flag needs an argument: -x", "invalid boolean value "v" for -x".
result<parsed_flags> parse_flags(std::span<const std::string_view> args,
                                 std::span<const flag_spec> specs);

}  // namespace runhcs::cli
