// The start flow as one coroutine: every wait bounded, every failure clean (DESIGN.md).
#include "shim/start.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>

#include "common/identifier.hpp"
#include "oci/annotations.hpp"
#include "oci/sandbox.hpp"
#include "process/launch.hpp"
#include "shim/address.hpp"
#include "shim/bundle_files.hpp"
#include "shim/console.hpp"
#include "shim/pod_shim.hpp"
#include "shim/self.hpp"
#include "transport/transport.hpp"

namespace runhcs::shim {
namespace asio = boost::asio;

namespace {

// After EOF on serve's stdout, one connection proves the listener is up: a serve that died
// before listening, or raced our exit check, is refused here.
constexpr auto listener_probe_bound = std::chrono::milliseconds(100);
// How long a serve that was found dead may take to be reaped, to report its exit status.
constexpr auto exit_report_bound = std::chrono::seconds(1);
// How much of panic.log a failure report quotes.
constexpr std::size_t panic_log_tail = 2048;

std::string read_tail(const std::filesystem::path& path, std::size_t limit) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return {};
  }
  in.seekg(0, std::ios::end);
  auto size = static_cast<std::size_t>(in.tellg());
  std::size_t from = size > limit ? size - limit : 0;
  in.seekg(static_cast<std::streamoff>(from));
  std::string tail(size - from, '\0');
  in.read(tail.data(), static_cast<std::streamsize>(tail.size()));
  return tail;
}

std::string trim_trailing_newlines(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) {
    text.pop_back();
  }
  return text;
}

// The failure of a serve that did not become ready: our line first, then what serve said.
error serve_failure(errc code, std::string headline, const std::string& output,
                    const std::filesystem::path& panic_log) {
  std::string message = std::move(headline);
  if (auto said = trim_trailing_newlines(output); !said.empty()) {
    message += "\n" + said;
  }
  if (auto tail = trim_trailing_newlines(read_tail(panic_log, panic_log_tail)); !tail.empty()) {
    message += "\npanic.log: " + tail;
  }
  return {code, std::move(message)};
}

// Launches serve and waits for it to be ready: its stdout at EOF, the process still running,
// and its listener answering. The caller owns the child: it dies with a later failure.
asio::awaitable<result<process::child>> launch_serve(const start_request& request,
                                                     const std::string& address, bool is_sandbox) {
  const auto& flags = request.flags;
  process::launch_options options;
  options.executable = request.executable;
  for (const auto& [flag, value] :
       {std::pair{"--namespace", &flags.ns}, std::pair{"--address", &flags.containerd_address},
        std::pair{"--publish-binary", &flags.publish_binary}, std::pair{"--id", &flags.id}}) {
    options.arguments.insert(options.arguments.end(), {flag, *value});
  }
  if (flags.debug) {
    options.arguments.emplace_back("--debug");
  }
  options.arguments.insert(options.arguments.end(), {"serve", "--socket", address});
  if (is_sandbox) {
    options.arguments.emplace_back("--is-sandbox");
  }
  options.working_directory = request.bundle;
  options.stderr_path = request.bundle / "panic.log";

  auto executor = co_await asio::this_coro::executor;
  auto launched = process::launch(executor, options);
  if (!launched) {
    co_return launched.error();
  }
  process::child child = std::move(*launched);

  const auto ready_bound = request.config.ready_timeout;
  auto drained = co_await child.drain_stdout(steady_clock::now() + ready_bound);
  if (drained.what == process::drain_outcome::kind::timed_out) {
    co_return serve_failure(errc::ready_timeout,
                            "timed out after " + format_duration(ready_bound) +
                                " waiting for the shim to be ready (RUNHCS_READY_TIMEOUT)",
                            drained.output, options.stderr_path);
  }
  // Serve writes on stdout only to report an error (runhcs forwards it; hcsshim #510 shows
  // what happens when such text is taken for success).
  bool alive = !child.try_exit_status().has_value();
  if (alive && drained.output.empty()) {
    std::error_code ec;
    auto probe = co_await transport::dial(address, steady_clock::now() + listener_probe_bound, ec);
    if (!ec) {
      co_return std::move(child);
    }
  }
  auto status = co_await child.wait_exit(steady_clock::now() + exit_report_bound);
  std::string headline = status ? "shim exited before it was ready: " + status->describe()
                                : "shim failed before it was ready";
  co_return serve_failure(errc::serve_exited, std::move(headline), drained.output,
                          options.stderr_path);
}

// shim.pid, then address: containerd reads address; a failure removes what was written.
result<void> record_shim(const std::filesystem::path& bundle, const start_outcome& outcome) {
  auto pid_file = bundle / "shim.pid";
  if (auto r = write_file_atomic(pid_file, std::to_string(outcome.pid)); !r) {
    return r;
  }
  if (auto r = write_file_atomic(bundle / "address", outcome.address); !r) {
    std::error_code ignored;
    std::filesystem::remove(pid_file, ignored);
    return r;
  }
  return {};
}

}  // namespace

asio::awaitable<result<start_outcome>> start(const start_request& request) {
  auto annotations = oci::read_annotations(request.bundle / "config.json");
  if (!annotations) {
    co_return annotations.error();
  }
  auto sandbox = oci::sandbox_type_and_id(*annotations);
  if (!sandbox) {
    co_return sandbox.error();
  }
  if (sandbox->type != oci::container_type::none && !is_valid_identifier(sandbox->id)) {
    co_return error{errc::invalid_argument, "invalid 'io.kubernetes.cri.sandbox-id': '" +
                                                sandbox->id +
                                                "': not a valid containerd identifier"};
  }
  const auto& flags = request.flags;
  auto address_for = [&](const std::string& id) {
    return shim_address({flags.containerd_address, flags.ns, id, request.config.socket_dir});
  };

  start_outcome outcome;
  std::optional<process::child> serve;
  if (sandbox->type == oci::container_type::container) {
    outcome.address = address_for(sandbox->id);
    auto pid = co_await pod_shim_pid(outcome.address, sandbox->id, request.config);
    if (!pid) {
      co_return pid.error();
    }
    outcome.pid = *pid;
  } else {
    bool is_sandbox = sandbox->type == oci::container_type::sandbox;
    if (auto r = oci::check_sandbox_id(flags.id, *sandbox); !r) {
      co_return r.error();
    }
    outcome.address = address_for(flags.id);
    auto launched = co_await launch_serve(request, outcome.address, is_sandbox);
    if (!launched) {
      co_return launched.error();
    }
    serve.emplace(std::move(*launched));
    outcome.pid = serve->pid();
  }
  if (auto r = record_shim(request.bundle, outcome); !r) {
    co_return r.error();  // serve, if we launched one, is killed on the way out
  }
  if (serve) {
    serve->detach();
  }
  co_return outcome;
}

int run_start(const global_options& flags) {
  auto config = settings_from_environment();
  if (!config) {
    return report_failure(config.error());
  }
  start_request request{flags, *config, {}, {}};
  std::error_code ec;
  request.bundle = std::filesystem::current_path(ec);
  if (ec) {
    return report_failure(make_error(ec, "getwd: " + ec.message()));
  }
  // An operator may run serve through a wrapper (a debugger, a tracer); tests use misbehaving
  // stand-ins. Otherwise serve is this binary.
  if (const char* serve = std::getenv("RUNHCS_SERVE_EXECUTABLE"); serve != nullptr && *serve) {
    request.executable = serve;
  } else {
    auto self = self_executable();
    if (!self) {
      return report_failure(self.error());
    }
    request.executable = *self;
  }

  asio::io_context context(1);
  std::optional<result<start_outcome>> outcome;
  asio::co_spawn(
      context,
      [&]() -> asio::awaitable<result<start_outcome>> {
        using namespace asio::experimental::awaitable_operators;
        asio::signal_set signals(co_await asio::this_coro::executor, SIGINT, SIGTERM);
        auto raced = co_await (start(request) || signals.async_wait(asio::use_awaitable));
        if (raced.index() == 1) {
          co_return error{errc::cancelled,
                          "start interrupted by signal " + std::to_string(std::get<1>(raced))};
        }
        co_return std::move(std::get<0>(raced));
      },
      [&](std::exception_ptr failure, result<start_outcome> r) {
        if (failure) {
          try {
            std::rethrow_exception(failure);
          } catch (const std::exception& e) {
            r = error{errc::cancelled, std::string("start failed: ") + e.what()};
          }
        }
        outcome = std::move(r);
      });
  context.run();
  if (!outcome || !*outcome) {
    return report_failure(outcome ? outcome->error() : error{errc::cancelled, "start aborted"});
  }
  return print_address((*outcome)->address);
}

}  // namespace runhcs::shim
