// A test server hosting a few methods of containerd.task.v2.Task, and socket-pair plumbing, for
// the ttrpc integration and interop tests.
#pragma once

#include <google/protobuf/empty.pb.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/local/connect_pair.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <string>
#include <utility>

#include "containerd/task/v2/shim.pb.h"
#include "ttrpc/client.hpp"
#include "ttrpc/server.hpp"

namespace runhcs::ttrpc::test {

namespace asio = boost::asio;
namespace task = ::containerd::task::v2;
using namespace std::chrono_literals;

inline constexpr std::string_view task_service = "containerd.task.v2.Task";

// What the test service saw, for assertions.
struct service_stats {
  int calls = 0;
  int active = 0;
  int max_active = 0;
  int cancelled = 0;  // handlers that saw their sleep cut short
  deadline last_deadline = deadline::max();
  std::string last_namespace;
};

// Sleeps for d, or until cancelled: true when the full time passed.
inline asio::awaitable<bool> sleep_for(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  auto [ec] = co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
  co_return !ec;
}

// Connect answers {4242, 4343, version = the request's id}; an id "sleep:N" sleeps N ms first.
// Shutdown answers Empty. State answers UNIMPLEMENTED like the Go peer. Pids sleeps forever
// (until cancelled). Kill fails with a non-gRPC error. Delete throws.
inline void add_task_service(server& srv, service_stats& stats,
                             std::chrono::milliseconds connect_delay = 0ms) {
  srv.add<task::ConnectRequest, task::ConnectResponse>(
      std::string(task_service), "Connect",
      [&stats, connect_delay](call_context& ctx, const task::ConnectRequest& req,
                              task::ConnectResponse& resp) -> asio::awaitable<runhcs::error> {
        ++stats.calls;
        stats.max_active = std::max(stats.max_active, ++stats.active);
        stats.last_deadline = ctx.until;
        stats.last_namespace = std::string(ctx.metadata(namespace_key));
        auto delay = connect_delay;
        if (req.id().rfind("sleep:", 0) == 0) {
          delay = std::chrono::milliseconds(std::stoi(req.id().substr(6)));
        }
        bool slept = true;
        if (delay > 0ms) {
          slept = co_await sleep_for(delay);
        }
        --stats.active;
        if (!slept) {
          ++stats.cancelled;
          co_return runhcs::make_error(std::make_error_code(std::errc::operation_canceled));
        }
        resp.set_shim_pid(4242);
        resp.set_task_pid(4343);
        resp.set_version(req.id());
        co_return runhcs::error{};
      });
  srv.add<task::ShutdownRequest, google::protobuf::Empty>(
      std::string(task_service), "Shutdown",
      [&stats](call_context&, const task::ShutdownRequest&,
               google::protobuf::Empty&) -> asio::awaitable<runhcs::error> {
        ++stats.calls;
        co_return runhcs::error{};
      });
  srv.add<task::StateRequest, task::StateResponse>(
      std::string(task_service), "State",
      [](call_context&, const task::StateRequest&,
         task::StateResponse&) -> asio::awaitable<runhcs::error> {
        co_return runhcs::error{code::unimplemented, "not implemented by ttrpc-peer"};
      });
  srv.add<task::PidsRequest, task::PidsResponse>(
      std::string(task_service), "Pids",
      [&stats](call_context&, const task::PidsRequest&,
               task::PidsResponse&) -> asio::awaitable<runhcs::error> {
        ++stats.calls;
        if (!co_await sleep_for(std::chrono::hours(1))) {
          ++stats.cancelled;
        }
        co_return runhcs::error{code::internal, "woke up"};
      });
  srv.add<task::KillRequest, google::protobuf::Empty>(
      std::string(task_service), "Kill",
      [](call_context&, const task::KillRequest&,
         google::protobuf::Empty&) -> asio::awaitable<runhcs::error> {
        co_return runhcs::make_error(std::make_error_code(std::errc::no_such_process),
                                     "process already finished");
      });
  srv.add<task::DeleteRequest, task::DeleteResponse>(
      std::string(task_service), "Delete",
      [](call_context&, const task::DeleteRequest&,
         task::DeleteResponse&) -> asio::awaitable<runhcs::error> {
        throw std::runtime_error("handler blew up");
        co_return runhcs::error{};
      });
}

// A connected pair: first end for the client (or a raw peer), second for the server.
inline std::pair<transport::stream, transport::stream> stream_pair(asio::io_context& ioc) {
  transport::stream a(ioc), b(ioc);
  asio::local::connect_pair(a, b);
  return {std::move(a), std::move(b)};
}

inline task::ConnectRequest connect_req(std::string id) {
  task::ConnectRequest r;
  r.set_id(std::move(id));
  return r;
}

}  // namespace runhcs::ttrpc::test
