// The serve command: read the runtime options, listen, host the task service, say "ready" by
// closing stdout, and run until Shutdown or a signal.
#include "shim/serve.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdlib>
#include <filesystem>
#include <optional>

#include "service/task_service.hpp"
#include "shim/console.hpp"
#include "shim/logging.hpp"
#include "shim/runtime_options.hpp"
#include "transport/transport.hpp"
#include "ttrpc/server.hpp"

namespace runhcs::shim {
namespace asio = boost::asio;

namespace {

// Shutdown without `now` stops within this bound (runhcs: 3 s).
constexpr auto graceful_bound = std::chrono::seconds(3);
// Shutdown with `now` still lets the reply to Shutdown itself go out.
constexpr auto immediate_bound = std::chrono::milliseconds(50);

// Before readiness, errors go to stdout: start forwards them and fails.
int fail_before_ready(const error& e) {
  write_all(1, e.message + "\n");
  return 1;
}

// Readiness: stdout reaches EOF at start's end of the pipe.
void signal_ready() {
  int null_fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (null_fd >= 0) {
    ::dup2(null_fd, 1);
    ::close(null_fd);
  }
}

}  // namespace

int run_serve(const serve_options& options) {
  ::signal(SIGPIPE, SIG_IGN);
  std::error_code ec;
  auto bundle = std::filesystem::current_path(ec);
  init_logging(bundle, options.flags.debug);
  if (options.socket.empty()) {
    return fail_before_ready(error{errc::invalid_argument, "socket is required"});
  }
  auto config = settings_from_environment();
  if (!config) {
    return fail_before_ready(config.error());
  }

  asio::io_context context(1);
  std::optional<error> failure;
  std::optional<transport::listener> listener;
  ttrpc::server server(context.get_executor());
  auto stop_serving = [&](std::chrono::milliseconds bound) {
    if (listener) {
      listener->close();  // no new connections, and the socket file is gone
    }
    server.shutdown(bound);
  };
  const char* ttrpc_address = std::getenv("TTRPC_ADDRESS");
  service::task_service tasks(
      context.get_executor(),
      service::task_service_options{options.flags.id, options.flags.ns,
                                    options.flags.containerd_address,
                                    ttrpc_address != nullptr ? ttrpc_address : "",
                                    options.flags.publish_binary, bundle, options.is_sandbox},
      [&](bool now) {
        spdlog::info("shutdown requested (now={})", now);
        stop_serving(now ? immediate_bound : graceful_bound);
      });
  tasks.register_with(server);

  asio::signal_set signals(context, SIGINT, SIGTERM);
  signals.async_wait([&](std::error_code wait_error, int signal_number) {
    if (!wait_error) {
      spdlog::info("signal {}: shutting down", signal_number);
      stop_serving(graceful_bound);
    }
  });

  asio::co_spawn(
      context,
      [&]() -> asio::awaitable<void> {
        auto options_read =
            co_await read_runtime_options(steady_clock::now() + config->stdin_timeout);
        if (!options_read) {
          failure = options_read.error();
          co_return;
        }
        std::error_code listen_error;
        listener = transport::listener::listen(co_await asio::this_coro::executor, options.socket,
                                               listen_error);
        if (listen_error) {
          failure = error{listen_error, "listen " + options.socket + ": " + listen_error.message()};
          co_return;
        }
        signal_ready();
        spdlog::info("serving on {}", options.socket);
        co_await server.serve(*listener);
      },
      [&](std::exception_ptr crashed) {
        if (crashed) {
          try {
            std::rethrow_exception(crashed);
          } catch (const std::exception& e) {
            failure = error{errc::cancelled, std::string("serve failed: ") + e.what()};
          }
        }
        // Whatever else is pending (task watchers, timers) ends with the process.
        context.stop();
      });
  context.run();
  if (listener) {
    listener->close();
  }
  if (failure) {
    spdlog::error("{}", failure->message);
    return fail_before_ready(*failure);
  }
  return 0;
}

}  // namespace runhcs::shim
