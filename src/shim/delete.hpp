// `delete`: clean up after a shim that died (shim-contract.md §3). containerd runs it, takes
// stdout as a protobuf DeleteResponse and logs stderr as cleanup warnings, then removes the
// bundle.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>

#include "common/duration.hpp"
#include "common/result.hpp"
#include "shim/options.hpp"

namespace runhcs::shim {

// The most of panic.log delete reports.
inline constexpr std::size_t max_panic_log_report = 1 << 20;

struct delete_outcome {
  std::string response;  // the serialized containerd.task.v2.DeleteResponse
  std::string warnings;  // for stderr: panic.log's head, processes that would not die
};

// The cleanup itself, without touching stdout or stderr: reads panic.log, kills the processes
// the dead shim recorded (only those whose kernel start time still matches), removes the
// shim's socket when nobody listens on it, and builds the response (exit_status 255 unless the
// shim recorded the real one; exited_at now). A bundle that no longer exists succeeds.
// Errors: errc::invalid_argument "bundle is required".
result<delete_outcome> delete_task(const std::filesystem::path& bundle, duration timeout);

// The command: runs delete_task bounded by RUNHCS_DELETE_TIMEOUT (settings), writes the response
// on stdout and warnings on stderr; returns the exit code.
int run_delete(const global_options& flags);

}  // namespace runhcs::shim
