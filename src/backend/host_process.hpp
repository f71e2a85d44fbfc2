// The host-process backend, like Windows HostProcess containers: the task's process runs on
// the host as a child of the shim, with the spec's args, env, cwd, user and rlimits, in its own
// process group, and root.path given to it in CONTAINER_SANDBOX_MOUNT_POINT.
// host_process_posix.cpp (Linux); host_process_win.cpp (not yet: every call fails).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <memory>

#include "backend/backend.hpp"

namespace runhcs::backend {

// The variable that tells the process where its root filesystem is.
inline constexpr std::string_view sandbox_mount_point_variable = "CONTAINER_SANDBOX_MOUNT_POINT";

// A backend whose processes and callbacks live on executor (single-threaded). On Linux it
// makes the shim a child subreaper.
std::unique_ptr<backend> make_host_process_backend(const boost::asio::any_io_executor& executor);

}  // namespace runhcs::backend
