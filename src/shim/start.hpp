// `start`: decide whether this container gets a new shim or joins its pod's shim, make sure
// that shim is ready, record it in the bundle and print its address (runhcs-start.md).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <filesystem>
#include <string>

#include "common/result.hpp"
#include "shim/options.hpp"

namespace runhcs::shim {

struct start_request {
  global_options flags;
  settings config;
  std::filesystem::path bundle;      // start's working directory
  std::filesystem::path executable;  // this binary, launched as `serve`
};

// What start prints, and the pid it recorded.
struct start_outcome {
  std::string address;
  int pid = 0;
};

// The whole flow. On failure nothing is left behind: no address, no shim.pid, no temp file,
// no running serve. Cancellation: terminal (a signal during start); it fails cleanly.
boost::asio::awaitable<result<start_outcome>> start(const start_request& request);

// The command: runs start on its own io_context, prints the address or the error, and returns
// the exit code. SIGINT and SIGTERM end it with the same clean failure.
int run_start(const global_options& flags);

}  // namespace runhcs::shim
