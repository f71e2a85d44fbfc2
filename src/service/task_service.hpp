// containerd's task service (containerd.task.v2.Task, all 17 methods) for every task one shim
// hosts: a pod's sandbox and its containers, or one standalone container. Processes come from
// a backend (backend/backend.hpp); events go to containerd (service/events.hpp).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "backend/backend.hpp"
#include "service/events.hpp"

namespace runhcs::ttrpc {
class server;
}

namespace runhcs::service {

inline constexpr std::string_view task_service_name = "containerd.task.v2.Task";

struct task_service_options {
  std::string id;  // the shim's own id (the sandbox id for a pod)
  std::string ns;
  std::string containerd_address;
  std::string ttrpc_address;  // TTRPC_ADDRESS, where events are forwarded
  std::string publish_binary;
  std::filesystem::path bundle;  // the shim's bundle (its working directory)
  bool is_sandbox = false;
};

// Everything runs on the executor given, one thread: not thread-safe.
class task_service {
 public:
  // The serving shim's service: the host-process backend and containerd's event publisher.
  // on_shutdown(now) is posted after a Shutdown that acts, so its reply goes out first.
  task_service(boost::asio::any_io_executor ex, task_service_options opts,
               std::function<void(bool now)> on_shutdown);
  // The same with a chosen backend and event sink (tests; future backends).
  task_service(boost::asio::any_io_executor ex, task_service_options opts,
               std::function<void(bool now)> on_shutdown, std::unique_ptr<backend::backend> backend,
               std::shared_ptr<event_publisher> events);
  task_service(const task_service&) = delete;
  task_service& operator=(const task_service&) = delete;
  // Kills whatever tasks are still running.
  ~task_service();

  // Registers all 17 methods of containerd.task.v2.Task. The service must outlive the server's
  // handlers.
  void register_with(runhcs::ttrpc::server& server);

  // How many tasks the shim holds (Shutdown without now acts only at zero).
  std::size_t task_count() const noexcept;

  struct impl;

 private:
  std::shared_ptr<impl> impl_;
};

}  // namespace runhcs::service
