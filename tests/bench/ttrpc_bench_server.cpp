// Benchmark server: our ttrpc server hosting containerd.task.v2.Task Connect (4242/4343) and
// Shutdown on a unix socket, for scripts/bench-ttrpc to compare with the Go reference.
//
// Usage: ttrpc_bench_server --socket PATH    (prints "ready"; exits on SIGTERM/SIGINT or Shutdown)
#include <google/protobuf/empty.pb.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdio>
#include <cstring>
#include <string>

#include "containerd/task/v2/shim.pb.h"
#include "ttrpc/server.hpp"

namespace asio = boost::asio;
namespace task = ::containerd::task::v2;
using runhcs::ttrpc::call_context;

namespace {

asio::awaitable<void> accept_loop(asio::local::stream_protocol::acceptor& acceptor,
                                  runhcs::ttrpc::server& srv) {
  for (;;) {
    auto [ec, s] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) {
        co_return;
      }
      continue;
    }
    asio::co_spawn(acceptor.get_executor(), srv.serve_connection(std::move(s)), asio::detached);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string socket;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--socket") == 0) {
      socket = argv[i + 1];
    }
  }
  if (socket.empty()) {
    std::fprintf(stderr, "usage: ttrpc_bench_server --socket PATH\n");
    return 2;
  }
  asio::io_context ioc(1);
  runhcs::ttrpc::server srv(ioc.get_executor());
  asio::local::stream_protocol::acceptor acceptor(ioc);
  asio::signal_set signals(ioc, SIGTERM, SIGINT);
  auto stop = [&] {
    boost::system::error_code ignored;
    acceptor.close(ignored);
    signals.cancel(ignored);
    srv.shutdown(std::chrono::milliseconds(100));
  };
  srv.add<task::ConnectRequest, task::ConnectResponse>(
      "containerd.task.v2.Task", "Connect",
      [](call_context&, const task::ConnectRequest&,
         task::ConnectResponse& resp) -> asio::awaitable<runhcs::error> {
        resp.set_shim_pid(4242);
        resp.set_task_pid(4343);
        co_return runhcs::error{};
      });
  srv.add<task::ShutdownRequest, google::protobuf::Empty>(
      "containerd.task.v2.Task", "Shutdown",
      [&](call_context&, const task::ShutdownRequest&,
          google::protobuf::Empty&) -> asio::awaitable<runhcs::error> {
        asio::post(ioc, stop);
        co_return runhcs::error{};
      });

  ::unlink(socket.c_str());
  boost::system::error_code ec;
  acceptor.open(asio::local::stream_protocol(), ec);
  if (!ec)
    acceptor.bind(asio::local::stream_protocol::endpoint(socket), ec);
  if (!ec)
    acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    std::fprintf(stderr, "ttrpc_bench_server: listen %s: %s\n", socket.c_str(),
                 ec.message().c_str());
    return 1;
  }
  signals.async_wait([&](boost::system::error_code e, int) {
    if (!e)
      stop();
  });
  asio::co_spawn(ioc, accept_loop(acceptor, srv), asio::detached);
  std::fputs("ready\n", stdout);
  std::fflush(stdout);
  ioc.run();
  ::unlink(socket.c_str());
  return 0;
}
