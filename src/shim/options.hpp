// What every shim command is told: containerd's global flags, and the operator's settings from
// the environment (containerd decides argv, so operators tune the shim through variables).
#pragma once

#include <chrono>
#include <string>

#include "common/duration.hpp"
#include "common/result.hpp"

namespace runhcs::shim {

// The global flags, already checked (required ones present, identifiers valid).
struct global_options {
  std::string ns;                  // -namespace
  std::string containerd_address;  // -address
  std::string publish_binary;      // -publish-binary
  std::string id;                  // -id
  std::string bundle;              // -bundle (delete only)
  bool debug = false;              // -debug
};

// Bounds and places an operator can set; each has a documented default (README).
struct settings {
  duration dial_timeout = std::chrono::seconds(5);     // RUNHCS_DIAL_TIMEOUT
  duration connect_timeout = std::chrono::seconds(5);  // RUNHCS_CONNECT_TIMEOUT
  duration ready_timeout = std::chrono::seconds(10);   // RUNHCS_READY_TIMEOUT
  duration stdin_timeout = std::chrono::seconds(5);    // RUNHCS_STDIN_TIMEOUT
  duration delete_timeout = std::chrono::seconds(10);  // RUNHCS_DELETE_TIMEOUT
  std::string socket_dir;                              // RUNHCS_SOCKET_DIR
};

// Reads the settings from the environment. A value that is not a positive Go duration is an
// error naming the variable.
result<settings> settings_from_environment();

}  // namespace runhcs::shim
