// Joining a pod: the pod's shim already serves this container, so start only asks it for its
// pid over ttrpc (containerd.task.v2.Task/Connect).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <string>

#include "common/result.hpp"
#include "shim/options.hpp"

namespace runhcs::shim {

// Dials address (retrying while it is missing, busy or refusing, up to dial_timeout) and calls
// Connect{id: sandbox_id} (bounded by connect_timeout). Errors carry runhcs's prefixes:
// "failed to connect to hosting shim: ..." and "failed to get shim pid from hosting shim: ...".
// Cancellation: terminal.
boost::asio::awaitable<result<int>> pod_shim_pid(std::string address, std::string sandbox_id,
                                                 const settings& config);

}  // namespace runhcs::shim
