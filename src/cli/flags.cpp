// Go `flag` package semantics, without its usage output (start must print nothing else).
#include "cli/flags.hpp"

#include <algorithm>

namespace runhcs::cli {

std::string_view parsed_flags::get(std::string_view name) const {
  auto it = values.find(name);
  return it == values.end() ? std::string_view{} : std::string_view{it->second};
}

bool parsed_flags::has(std::string_view name) const {
  return values.contains(name);
}

bool parsed_flags::get_bool(std::string_view name) const {
  return get(name) == "true";
}

namespace {

error usage_error(std::string message) {
  return {errc::invalid_argument, std::move(message)};
}

// Go's strconv.ParseBool.
bool parse_bool(std::string_view text, bool& value) {
  static constexpr std::string_view truthy[] = {"1", "t", "T", "TRUE", "true", "True"};
  static constexpr std::string_view falsy[] = {"0", "f", "F", "FALSE", "false", "False"};
  if (std::ranges::find(truthy, text) != std::end(truthy)) {
    value = true;
    return true;
  }
  if (std::ranges::find(falsy, text) != std::end(falsy)) {
    value = false;
    return true;
  }
  return false;
}

}  // namespace

result<parsed_flags> parse_flags(std::span<const std::string_view> args,
                                 std::span<const flag_spec> specs) {
  parsed_flags out;
  std::size_t i = 0;
  for (; i < args.size(); ++i) {
    std::string_view arg = args[i];
    if (arg.size() < 2 || arg[0] != '-') {
      break;  // the command word
    }
    std::size_t dashes = arg[1] == '-' ? 2 : 1;
    if (dashes == 2 && arg.size() == 2) {
      ++i;  // "--" ends the flags
      break;
    }
    std::string_view body = arg.substr(dashes);
    if (body.empty() || body[0] == '-' || body[0] == '=') {
      return usage_error("bad flag syntax: " + std::string(arg));
    }
    std::string_view name = body;
    std::string_view value;
    bool has_value = false;
    if (auto eq = body.find('='); eq != std::string_view::npos) {
      name = body.substr(0, eq);
      value = body.substr(eq + 1);
      has_value = true;
    }
    auto spec = std::ranges::find(specs, name, &flag_spec::name);
    if (spec == specs.end()) {
      return usage_error("flag provided but not defined: -" + std::string(name));
    }
    if (spec->is_bool) {
      bool b = true;
      if (has_value && !parse_bool(value, b)) {
        return usage_error("invalid boolean value \"" + std::string(value) + "\" for -" +
                           std::string(name));
      }
      out.values[std::string(name)] = b ? "true" : "false";
      continue;
    }
    if (!has_value) {
      if (i + 1 >= args.size()) {
        return usage_error("flag needs an argument: -" + std::string(name));
      }
      value = args[++i];
    }
    out.values[std::string(name)] = std::string(value);
  }
  for (; i < args.size(); ++i) {
    out.rest.emplace_back(args[i]);
  }
  return out;
}

}  // namespace runhcs::cli
