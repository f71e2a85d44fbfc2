// One error model for the whole shim: a std::error_code for programs, plus a message chain
// for people ("failed to connect to hosting shim: dial unix:///...: timed out after 5s").
#pragma once

#include <string>
#include <string_view>
#include <system_error>
#include <utility>

namespace runhcs {

// Codes for the shim's own failures, one per phase that can time out (STYLE.md: errors).
enum class errc {
  connect_timeout = 1,  // dialling a shim's address did not succeed before the deadline
  call_timeout,         // an RPC got no reply before its deadline
  ready_timeout,        // serve did not signal readiness before the deadline
  stdin_timeout,        // stdin did not reach EOF before the deadline
  serve_exited,         // serve exited before it was ready
  invalid_argument,     // bad flag, identifier, duration or annotation
  invalid_spec,         // config.json could not be decoded
  cancelled,            // a signal asked us to stop
};

const std::error_category& shim_category() noexcept;
inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), shim_category()};
}

// A failure: what went wrong (code) and what to tell a person (message, outermost first).
struct error {
  std::error_code code;
  std::string message;

  // Prefixes context the way Go's errors.Wrap does: "context: message".
  [[nodiscard]] error wrap(std::string_view context) const& {
    return {code, std::string(context) + ": " + message};
  }
  [[nodiscard]] error wrap(std::string_view context) && {
    message.insert(0, std::string(context) + ": ");
    return std::move(*this);
  }
};

// An error whose message is the code's own text.
inline error make_error(std::error_code code) {
  return {code, code.message()};
}
inline error make_error(std::error_code code, std::string message) {
  return {code, std::move(message)};
}

}  // namespace runhcs

template <>
struct std::is_error_code_enum<runhcs::errc> : std::true_type {};
