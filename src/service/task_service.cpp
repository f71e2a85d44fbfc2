// The task service: a table of tasks (id -> container and its execs), each method a coroutine
// that checks ids and states the way containerd's runc shim does and answers with the status
// codes containerd's errdefs understand.
#include "service/task_service.hpp"

#include <google/protobuf/empty.pb.h>
#include <google/protobuf/timestamp.pb.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <fmt/format.h>
#include <boost/asio/post.hpp>
#include <map>

#include "backend/host_process.hpp"
#include "backend/reaper.hpp"
#include "common/identifier.hpp"
#include "containerd/events/task.pb.h"
#include "containerd/task/v2/shim.pb.h"
#include "service/task_record.hpp"
#include "ttrpc/server.hpp"

namespace runhcs::service {

namespace asio = boost::asio;
namespace task_api = ::containerd::task::v2;
namespace events = ::containerd::events;
using ::google::protobuf::Empty;
using ttrpc::call_context;
using ttrpc::code;

namespace {

error status(code c, std::string message) {
  return {make_error_code(c), std::move(message)};
}

// A backend failure as the status containerd expects for it.
error to_status(const error& e) {
  if (e.code.category() == backend::backend_category()) {
    switch (static_cast<backend::errc>(e.code.value())) {
      case backend::errc::not_implemented:
        return status(code::unimplemented, e.message);
      case backend::errc::already_started:
      case backend::errc::not_started:
      case backend::errc::still_running:
        return status(code::failed_precondition, e.message);
      case backend::errc::already_exited:
        return status(code::not_found, e.message);
      case backend::errc::invalid_spec:
        return status(code::invalid_argument, e.message);
    }
  }
  return status(code::unknown, e.message);
}

void set_time(google::protobuf::Timestamp& out, backend::system_time at) {
  auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(at.time_since_epoch()).count();
  out.set_seconds(nanos / 1'000'000'000);
  out.set_nanos(static_cast<int>(nanos % 1'000'000'000));
}

::containerd::v1::types::Status to_status(backend::process_state s) {
  switch (s) {
    case backend::process_state::created:
      return ::containerd::v1::types::CREATED;
    case backend::process_state::running:
      return ::containerd::v1::types::RUNNING;
    case backend::process_state::stopped:
      return ::containerd::v1::types::STOPPED;
  }
  return ::containerd::v1::types::UNKNOWN;
}

error not_implemented(std::string_view what) {
  return status(code::unimplemented, fmt::format("{}: not implemented", what));
}

// An event sink that drops everything (no containerd to tell).
class null_publisher final : public event_publisher {
 public:
  void publish(std::string_view, const google::protobuf::MessageLite&) override {}
};

}  // namespace

struct exec_entry {
  std::unique_ptr<backend::process> process;
  backend::stdio_paths io;
};

struct task_entry {
  std::string id;
  std::filesystem::path bundle;
  backend::stdio_paths io;
  std::unique_ptr<backend::container> container;
  std::map<std::string, exec_entry, std::less<>> execs;
  task_record record;
};

struct task_service::impl : std::enable_shared_from_this<impl> {
  asio::any_io_executor executor;
  task_service_options options;
  std::function<void(bool)> on_shutdown;
  std::unique_ptr<backend::backend> backend;
  std::shared_ptr<event_publisher> events;
  std::map<std::string, std::unique_ptr<task_entry>, std::less<>> tasks;
  bool shutting_down = false;

  result<task_entry*> find_task(std::string_view id) {
    auto it = tasks.find(id);
    if (it == tasks.end()) {
      return status(code::not_found, fmt::format("task {}: not found", id));
    }
    return it->second.get();
  }

  // The init when exec_id is empty, else that exec.
  result<backend::process*> find_process(std::string_view id, std::string_view exec_id) {
    auto task = find_task(id);
    if (!task) {
      return task.error();
    }
    if (exec_id.empty()) {
      return &(*task)->container->init();
    }
    auto it = (*task)->execs.find(exec_id);
    if (it == (*task)->execs.end()) {
      return status(code::not_found, fmt::format("exec {} in task {}: not found", exec_id, id));
    }
    return it->second.process.get();
  }

  void save_record(task_entry& task) {
    if (auto r = write_task_record(task.bundle, task.record); !r) {
      spdlog::warn("task {}: {}", task.id, r.error().message);
    }
  }

  // Publishes the exit of a process (init when exec_id is empty) as soon as it is reaped.
  void watch_exit(task_entry& task, backend::process& p, std::string exec_id) {
    std::weak_ptr<impl> weak = weak_from_this();
    std::string id = task.id;
    int pid = p.pid();
    p.on_exit([weak, id, exec_id, pid](const backend::exit_info& info) {
      auto self = weak.lock();
      if (!self) {
        return;
      }
      events::TaskExit e;
      e.set_container_id(id);
      e.set_id(exec_id.empty() ? id : exec_id);
      e.set_pid(static_cast<std::uint32_t>(pid));
      e.set_exit_status(info.status);
      set_time(*e.mutable_exited_at(), info.at);
      self->events->publish(topic_exit, e);
      if (exec_id.empty()) {
        if (auto it = self->tasks.find(id); it != self->tasks.end()) {
          it->second->record.exit_status = info.status;
          self->save_record(*it->second);
        }
      }
    });
  }

  asio::awaitable<error> create(call_context&, const task_api::CreateTaskRequest& req,
                                task_api::CreateTaskResponse& resp) {
    if (!is_valid_identifier(req.id())) {
      co_return status(code::invalid_argument, fmt::format("invalid task id {:?}", req.id()));
    }
    if (tasks.contains(req.id())) {
      co_return status(code::already_exists, fmt::format("task {}: already exists", req.id()));
    }
    if (!req.checkpoint().empty()) {
      co_return not_implemented("restore from checkpoint");
    }
    if (req.rootfs_size() > 0) {
      spdlog::warn("task {}: rootfs mounts are not mounted by the {} backend", req.id(),
                   backend->name());
    }
    auto task = std::make_unique<task_entry>();
    task->id = req.id();
    task->bundle = req.bundle().empty() ? options.bundle : std::filesystem::path(req.bundle());
    task->io = {req.stdin(), req.stdout(), req.stderr(), req.terminal()};
    auto container = backend->create({task->id, task->bundle, task->io});
    if (!container) {
      co_return to_status(container.error().wrap(fmt::format("create task {}", req.id())));
    }
    task->container = std::move(*container);
    auto& init = task->container->init();
    task->record.init = {init.pid(), backend::process_start_time(init.pid()).value_or(0)};
    save_record(*task);
    watch_exit(*task, init, {});

    events::TaskCreate e;
    e.set_container_id(task->id);
    e.set_bundle(task->bundle.string());
    *e.mutable_rootfs() = req.rootfs();
    auto* io = e.mutable_io();
    io->set_stdin(req.stdin());
    io->set_stdout(req.stdout());
    io->set_stderr(req.stderr());
    io->set_terminal(req.terminal());
    e.set_checkpoint(req.checkpoint());
    e.set_pid(static_cast<std::uint32_t>(init.pid()));
    events->publish(topic_create, e);

    resp.set_pid(static_cast<std::uint32_t>(init.pid()));
    tasks.emplace(task->id, std::move(task));
    co_return error{};
  }

  asio::awaitable<error> start(call_context&, const task_api::StartRequest& req,
                               task_api::StartResponse& resp) {
    auto p = find_process(req.id(), req.exec_id());
    if (!p) {
      co_return p.error();
    }
    if (!req.exec_id().empty() && tasks.at(req.id())->container->init().exited()) {
      co_return status(code::failed_precondition,
                       fmt::format("task {} is stopped: cannot start exec", req.id()));
    }
    if (auto r = (*p)->start(); !r) {
      co_return to_status(r.error());
    }
    resp.set_pid(static_cast<std::uint32_t>((*p)->pid()));
    if (req.exec_id().empty()) {
      events::TaskStart e;
      e.set_container_id(req.id());
      e.set_pid(resp.pid());
      events->publish(topic_start, e);
    } else {
      events::TaskExecStarted e;
      e.set_container_id(req.id());
      e.set_exec_id(req.exec_id());
      e.set_pid(resp.pid());
      events->publish(topic_exec_started, e);
    }
    co_return error{};
  }

  asio::awaitable<error> state(call_context&, const task_api::StateRequest& req,
                               task_api::StateResponse& resp) {
    auto p = find_process(req.id(), req.exec_id());
    if (!p) {
      co_return p.error();
    }
    auto& task = *tasks.at(req.id());
    const auto& io = req.exec_id().empty() ? task.io : task.execs.at(req.exec_id()).io;
    resp.set_id(req.exec_id().empty() ? req.id() : req.exec_id());
    resp.set_exec_id(req.exec_id());
    resp.set_bundle(task.bundle.string());
    resp.set_pid(static_cast<std::uint32_t>((*p)->pid()));
    resp.set_status(to_status((*p)->state()));
    resp.set_stdin(io.stdin_path);
    resp.set_stdout(io.stdout_path);
    resp.set_stderr(io.stderr_path);
    resp.set_terminal(io.terminal);
    if (auto exit = (*p)->exited()) {
      resp.set_exit_status(exit->status);
      set_time(*resp.mutable_exited_at(), exit->at);
    }
    co_return error{};
  }

  // Waits for as long as the process runs: bounded by the caller's deadline (the server
  // cancels the handler then) and by the connection.
  asio::awaitable<error> wait(call_context&, const task_api::WaitRequest& req,
                              task_api::WaitResponse& resp) {
    auto p = find_process(req.id(), req.exec_id());
    if (!p) {
      co_return p.error();
    }
    auto self = shared_from_this();
    auto exit = co_await (*p)->wait();
    resp.set_exit_status(exit.status);
    set_time(*resp.mutable_exited_at(), exit.at);
    co_return error{};
  }

  asio::awaitable<error> kill(call_context&, const task_api::KillRequest& req, Empty&) {
    auto p = find_process(req.id(), req.exec_id());
    if (!p) {
      co_return p.error();
    }
    if (req.signal() == 0 || req.signal() >= 65) {
      co_return status(code::invalid_argument, fmt::format("invalid signal {}", req.signal()));
    }
    if (auto r = (*p)->signal(static_cast<int>(req.signal()), req.all()); !r) {
      co_return to_status(r.error());
    }
    co_return error{};
  }

  asio::awaitable<error> remove(call_context&, const task_api::DeleteRequest& req,
                                task_api::DeleteResponse& resp) {
    auto p = find_process(req.id(), req.exec_id());
    if (!p) {
      co_return p.error();
    }
    auto& task = *tasks.at(req.id());
    auto* process = *p;
    if (process->state() == backend::process_state::running) {
      co_return status(code::failed_precondition,
                       fmt::format("cannot delete a running process ({} in task {})",
                                   req.exec_id().empty() ? "init" : req.exec_id(), req.id()));
    }
    // A created process that never ran has no exit status of its own.
    auto exit = process->exited().value_or(backend::exit_info{0, std::chrono::system_clock::now()});
    resp.set_pid(static_cast<std::uint32_t>(process->pid()));
    resp.set_exit_status(exit.status);
    set_time(*resp.mutable_exited_at(), exit.at);
    if (!req.exec_id().empty()) {
      task.execs.erase(task.execs.find(req.exec_id()));
      co_return error{};
    }
    events::TaskDelete e;
    e.set_container_id(req.id());
    e.set_pid(resp.pid());
    e.set_exit_status(resp.exit_status());
    *e.mutable_exited_at() = resp.exited_at();
    remove_task_record(task.bundle);
    tasks.erase(tasks.find(req.id()));  // kills what is left: execs, a never-started init
    events->publish(topic_delete, e);
    co_return error{};
  }

  asio::awaitable<error> pids(call_context&, const task_api::PidsRequest& req,
                              task_api::PidsResponse& resp) {
    auto task = find_task(req.id());
    if (!task) {
      co_return task.error();
    }
    for (int pid : (*task)->container->pids()) {
      resp.add_processes()->set_pid(static_cast<std::uint32_t>(pid));
    }
    co_return error{};
  }

  asio::awaitable<error> exec(call_context&, const task_api::ExecProcessRequest& req, Empty&) {
    auto task = find_task(req.id());
    if (!task) {
      co_return task.error();
    }
    if (!is_valid_identifier(req.exec_id())) {
      co_return status(code::invalid_argument, fmt::format("invalid exec id {:?}", req.exec_id()));
    }
    if ((*task)->execs.contains(req.exec_id())) {
      co_return status(code::already_exists, fmt::format("id {}: already exists", req.exec_id()));
    }
    if ((*task)->container->init().exited()) {
      co_return status(code::failed_precondition, fmt::format("container {} is stopped", req.id()));
    }
    auto spec = backend::parse_process_spec(req.spec().value());
    if (!spec) {
      co_return status(code::invalid_argument, spec.error().message);
    }
    backend::stdio_paths io{req.stdin(), req.stdout(), req.stderr(), req.terminal()};
    auto p = (*task)->container->exec(*spec, io);
    if (!p) {
      co_return to_status(p.error().wrap(fmt::format("exec {}", req.exec_id())));
    }
    auto& process = **p;
    (*task)->record.execs.push_back(
        {process.pid(), backend::process_start_time(process.pid()).value_or(0)});
    save_record(**task);
    watch_exit(**task, process, req.exec_id());
    (*task)->execs.emplace(req.exec_id(), exec_entry{std::move(*p), io});
    events::TaskExecAdded e;
    e.set_container_id(req.id());
    e.set_exec_id(req.exec_id());
    events->publish(topic_exec_added, e);
    co_return error{};
  }

  asio::awaitable<error> resize_pty(call_context&, const task_api::ResizePtyRequest& req, Empty&) {
    auto p = find_process(req.id(), req.exec_id());
    if (!p) {
      co_return p.error();
    }
    if (auto r = (*p)->resize(req.width(), req.height()); !r) {
      co_return to_status(r.error());
    }
    co_return error{};
  }

  asio::awaitable<error> close_io(call_context&, const task_api::CloseIORequest& req, Empty&) {
    auto p = find_process(req.id(), req.exec_id());
    if (!p) {
      co_return p.error();
    }
    if (req.stdin()) {
      (*p)->close_stdin();
    }
    co_return error{};
  }

  asio::awaitable<error> pause(call_context&, const task_api::PauseRequest& req, Empty&) {
    auto task = find_task(req.id());
    if (!task) {
      co_return task.error();
    }
    if (auto r = (*task)->container->pause(); !r) {
      co_return to_status(r.error());
    }
    co_return error{};
  }

  asio::awaitable<error> resume(call_context&, const task_api::ResumeRequest& req, Empty&) {
    auto task = find_task(req.id());
    if (!task) {
      co_return task.error();
    }
    if (auto r = (*task)->container->resume(); !r) {
      co_return to_status(r.error());
    }
    co_return error{};
  }

  template <class Req>
  asio::awaitable<error> unsupported(const Req& req, std::string_view what) {
    auto task = find_task(req.id());
    if (!task) {
      co_return task.error();
    }
    co_return not_implemented(what);
  }

  asio::awaitable<error> connect(call_context&, const task_api::ConnectRequest& req,
                                 task_api::ConnectResponse& resp) {
    auto self_pid = static_cast<std::uint32_t>(::getpid());
    resp.set_shim_pid(self_pid);
    resp.set_task_pid(self_pid);
    if (auto it = tasks.find(req.id()); it != tasks.end()) {
      resp.set_task_pid(static_cast<std::uint32_t>(it->second->container->init().pid()));
    }
    co_return error{};
  }

  // Acts only for the shim's own id, and only when no task is left or now is set; any other
  // Shutdown is answered OK and changes nothing (runhcs-start.md).
  asio::awaitable<error> shutdown(call_context&, const task_api::ShutdownRequest& req, Empty&) {
    if (req.id() != options.id || (!req.now() && !tasks.empty()) || shutting_down) {
      co_return error{};
    }
    shutting_down = true;
    if (on_shutdown) {
      asio::post(executor, [callback = on_shutdown, now = req.now()] { callback(now); });
    }
    co_return error{};
  }
};

task_service::task_service(asio::any_io_executor ex, task_service_options opts,
                           std::function<void(bool now)> on_shutdown)
    : task_service(ex, opts, std::move(on_shutdown), backend::make_host_process_backend(ex),
                   make_containerd_publisher(
                       ex, publisher_options{opts.ns, opts.ttrpc_address, opts.containerd_address,
                                             opts.publish_binary})) {}

task_service::task_service(asio::any_io_executor ex, task_service_options opts,
                           std::function<void(bool now)> on_shutdown,
                           std::unique_ptr<backend::backend> backend,
                           std::shared_ptr<event_publisher> events)
    : impl_(std::make_shared<impl>()) {
  impl_->executor = std::move(ex);
  impl_->options = std::move(opts);
  impl_->on_shutdown = std::move(on_shutdown);
  impl_->backend = std::move(backend);
  impl_->events = events ? std::move(events) : std::make_shared<null_publisher>();
}

task_service::~task_service() {
  // Handlers may still hold the impl; the tasks (and their processes) end now.
  impl_->tasks.clear();
  impl_->on_shutdown = nullptr;
}

std::size_t task_service::task_count() const noexcept {
  return impl_->tasks.size();
}

void task_service::register_with(ttrpc::server& server) {
  auto self = impl_;
  const std::string name(task_service_name);
  // Each method forwards to impl; the handler holds the impl alive while it runs.
#define RUNHCS_TASK_METHOD(method, req_type, resp_type, member)                                   \
  server.add<req_type, resp_type>(                                                                \
      name, method,                                                                               \
      [self](call_context& ctx, const req_type& req, resp_type& resp) -> asio::awaitable<error> { \
        auto keep = self;                                                                         \
        co_return co_await keep->member(ctx, req, resp);                                          \
      })
  RUNHCS_TASK_METHOD("State", task_api::StateRequest, task_api::StateResponse, state);
  RUNHCS_TASK_METHOD("Create", task_api::CreateTaskRequest, task_api::CreateTaskResponse, create);
  RUNHCS_TASK_METHOD("Start", task_api::StartRequest, task_api::StartResponse, start);
  RUNHCS_TASK_METHOD("Delete", task_api::DeleteRequest, task_api::DeleteResponse, remove);
  RUNHCS_TASK_METHOD("Pids", task_api::PidsRequest, task_api::PidsResponse, pids);
  RUNHCS_TASK_METHOD("Pause", task_api::PauseRequest, Empty, pause);
  RUNHCS_TASK_METHOD("Resume", task_api::ResumeRequest, Empty, resume);
  RUNHCS_TASK_METHOD("Kill", task_api::KillRequest, Empty, kill);
  RUNHCS_TASK_METHOD("Exec", task_api::ExecProcessRequest, Empty, exec);
  RUNHCS_TASK_METHOD("ResizePty", task_api::ResizePtyRequest, Empty, resize_pty);
  RUNHCS_TASK_METHOD("CloseIO", task_api::CloseIORequest, Empty, close_io);
  RUNHCS_TASK_METHOD("Wait", task_api::WaitRequest, task_api::WaitResponse, wait);
  RUNHCS_TASK_METHOD("Connect", task_api::ConnectRequest, task_api::ConnectResponse, connect);
  RUNHCS_TASK_METHOD("Shutdown", task_api::ShutdownRequest, Empty, shutdown);
#undef RUNHCS_TASK_METHOD
  server.add<task_api::CheckpointTaskRequest, Empty>(
      name, "Checkpoint",
      [self](call_context&, const task_api::CheckpointTaskRequest& req,
             Empty&) -> asio::awaitable<error> {
        auto keep = self;
        co_return co_await keep->unsupported(req, "checkpoint");
      });
  server.add<task_api::UpdateTaskRequest, Empty>(
      name, "Update",
      [self](call_context&, const task_api::UpdateTaskRequest& req,
             Empty&) -> asio::awaitable<error> {
        auto keep = self;
        co_return co_await keep->unsupported(req, "update");
      });
  server.add<task_api::StatsRequest, task_api::StatsResponse>(
      name, "Stats",
      [self](call_context&, const task_api::StatsRequest& req,
             task_api::StatsResponse&) -> asio::awaitable<error> {
        auto keep = self;
        co_return co_await keep->unsupported(req, "stats");
      });
}

}  // namespace runhcs::service
