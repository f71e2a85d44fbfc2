// Dispatch: Go-flag global flags, runhcs's required-flag checks in runhcs's order, identifier
// checks before any id becomes part of a path, then the command.
#include "cli/app.hpp"

#include <array>
#include <string>

#include "cli/flags.hpp"
#include "common/identifier.hpp"
#include "shim/console.hpp"
#include "shim/delete.hpp"
#include "shim/serve.hpp"
#include "shim/start.hpp"

namespace runhcs::cli {
namespace {

constexpr std::array global_flags{
    flag_spec{"namespace"}, flag_spec{"address"}, flag_spec{"publish-binary"},
    flag_spec{"id"},        flag_spec{"bundle"},  flag_spec{"debug", true},
};
constexpr std::array serve_flags{flag_spec{"socket"}, flag_spec{"is-sandbox", true}};

int fail(std::string message) {
  return shim::report_failure(error{errc::invalid_argument, std::move(message)});
}

int run_serve_command(const shim::global_options& options, std::span<const std::string_view> args) {
  auto parsed = parse_flags(args, serve_flags);
  if (!parsed) {
    return fail(parsed.error().message);
  }
  if (!parsed->rest.empty()) {
    return fail("serve: unexpected argument \"" + parsed->rest.front() + "\"");
  }
  shim::serve_options serve{options, std::string(parsed->get("socket")),
                            parsed->get_bool("is-sandbox")};
  return shim::run_serve(serve);
}

}  // namespace

int run(std::span<const std::string_view> args) {
  auto parsed = parse_flags(args, global_flags);
  if (!parsed) {
    return fail(parsed.error().message);
  }
  // runhcs checks these before any command runs, in this order.
  for (std::string_view required : {"namespace", "address", "publish-binary", "id"}) {
    if (parsed->get(required).empty()) {
      return fail(std::string(required) + " is required");
    }
  }
  shim::global_options options{
      std::string(parsed->get("namespace")),      std::string(parsed->get("address")),
      std::string(parsed->get("publish-binary")), std::string(parsed->get("id")),
      std::string(parsed->get("bundle")),         parsed->get_bool("debug")};
  // Ids and namespaces become parts of socket paths and pipe names.
  for (auto [name, value] : {std::pair{"namespace", &options.ns}, std::pair{"id", &options.id}}) {
    if (!is_valid_identifier(*value)) {
      return fail("invalid " + std::string(name) + " \"" + *value +
                  "\": want letters and digits separated by single '.', '_' or '-', at most " +
                  std::to_string(max_identifier_length) + " characters");
    }
  }
  if (parsed->rest.empty()) {
    return fail("missing command: want start, serve or delete");
  }
  std::string_view command = parsed->rest.front();
  std::vector<std::string_view> command_args(parsed->rest.begin() + 1, parsed->rest.end());
  if (command == "start") {
    if (!command_args.empty()) {
      return fail("start: unexpected argument \"" + std::string(command_args.front()) + "\"");
    }
    return shim::run_start(options);
  }
  if (command == "serve") {
    return run_serve_command(options, command_args);
  }
  if (command == "delete") {
    return shim::run_delete(options);
  }
  return fail("unknown command \"" + std::string(command) + "\": want start, serve or delete");
}

}  // namespace runhcs::cli
