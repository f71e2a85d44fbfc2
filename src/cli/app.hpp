// The command line of containerd-shim-runhcs-v1: global flags, then start, serve or delete.
#pragma once

#include <span>
#include <string_view>

namespace runhcs::cli {

// Parses the command line, runs the command and returns the process exit code:
// 0 success, 1 any failure (usage errors included), with one line on stderr.
int run(std::span<const std::string_view> args);

}  // namespace runhcs::cli
