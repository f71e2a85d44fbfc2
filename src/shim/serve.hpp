// `serve`: the long-lived shim. A ttrpc server on --socket hosting containerd's task service
// for one pod or one standalone container (runhcs-start.md, serve).
#pragma once

#include <string>

#include "shim/options.hpp"

namespace runhcs::shim {

struct serve_options {
  global_options flags;
  std::string socket;  // --socket: the address start computed
  bool is_sandbox = false;
};

// Runs until Shutdown or SIGTERM/SIGINT. Errors before readiness go to stdout (start forwards
// them) and give exit code 1; readiness is stdout closing.
int run_serve(const serve_options& options);

}  // namespace runhcs::shim
