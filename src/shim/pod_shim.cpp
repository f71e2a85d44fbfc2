// Asking a pod's shim for its pid: one dial and one Connect call, each with its own deadline.
#include "shim/pod_shim.hpp"

#include "common/duration.hpp"
#include "containerd/task/v2/shim.pb.h"
#include "transport/transport.hpp"
#include "ttrpc/client.hpp"
#include "ttrpc/status.hpp"

namespace runhcs::shim {
namespace asio = boost::asio;

namespace {

constexpr std::string_view task_service = "containerd.task.v2.Task";

// How Go's ttrpc client words a remote status, which is what containerd users know.
std::string describe_call_error(const error& e, duration bound) {
  if (e.code == errc::call_timeout) {
    return "Connect: timed out after " + format_duration(bound) + " (RUNHCS_CONNECT_TIMEOUT)";
  }
  if (e.code.category() == ttrpc::grpc_category()) {
    return "rpc error: code = " + e.code.message() + " desc = " + e.message;
  }
  return e.message.empty() ? e.code.message() : e.message;
}

}  // namespace

asio::awaitable<result<int>> pod_shim_pid(std::string address, std::string sandbox_id,
                                          const settings& config) {
  std::error_code ec;
  auto stream = co_await transport::dial(address, steady_clock::now() + config.dial_timeout, ec);
  if (ec == transport::errc::timeout) {
    // The phase's own code, like call_timeout and ready_timeout.
    co_return error{errc::connect_timeout,
                    "failed to connect to hosting shim: dial " + address + ": timed out after " +
                        format_duration(config.dial_timeout) + " (RUNHCS_DIAL_TIMEOUT)"};
  }
  if (ec) {
    co_return error{ec, "failed to connect to hosting shim: dial " + address + ": " + ec.message()};
  }
  ttrpc::client client(std::move(stream));
  containerd::task::v2::ConnectRequest request;
  request.set_id(sandbox_id);
  containerd::task::v2::ConnectResponse response;
  auto failure = co_await client.call(task_service, "Connect", request, response,
                                      steady_clock::now() + config.connect_timeout);
  client.close();
  if (failure.code) {
    co_return error{failure.code, "failed to get shim pid from hosting shim: " +
                                      describe_call_error(failure, config.connect_timeout)};
  }
  co_return static_cast<int>(response.shim_pid());
}

}  // namespace runhcs::shim
