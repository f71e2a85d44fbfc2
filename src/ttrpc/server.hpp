// ttrpc server (DESIGN.md layer 4): dispatches registered services' methods to coroutine
// handlers, applies the protocol's error rules (frame.hpp), serves many connections and many
// requests per connection at once, and shuts down gracefully or at once.
//
// Everything runs on the server's executor, one thread: not thread-safe. The server must
// outlive the serve() and serve_connection() coroutines it runs.
#pragma once

#include <google/protobuf/message_lite.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/deadline.hpp"
#include "common/error.hpp"
#include "transport/transport.hpp"
#include "ttrpc/envelope.hpp"
#include "ttrpc/status.hpp"

namespace runhcs::ttrpc {

// What a handler knows about its call. Valid for the duration of the handler.
struct call_context {
  std::string_view service;
  std::string_view method;
  deadline until = deadline::max();  // from the request's timeout_nano; max() when none
  const ::ttrpc::Request* request = nullptr;

  // The first value of a metadata key, empty when absent.
  std::string_view metadata(std::string_view key) const noexcept;
};

// A handler's answer: an empty error is OK; an error in grpc_category() is sent as that
// status; anything else as UNKNOWN (DEADLINE_EXCEEDED for runhcs::errc::call_timeout), with
// the error's message. Handlers are cancelled (terminal) when their deadline passes, their
// connection drops, or the server closes.
using raw_handler = std::function<boost::asio::awaitable<runhcs::error>(
    call_context&, std::string_view request, std::string& response)>;

class server {
 public:
  explicit server(boost::asio::any_io_executor ex);
  server(const server&) = delete;
  server& operator=(const server&) = delete;
  ~server();

  // Registers service/method. Typed: the payload is decoded as Req (INVALID_ARGUMENT when it
  // does not decode) and Resp is encoded as the reply.
  template <class Req, class Resp>
  void add(std::string service, std::string method,
           std::function<boost::asio::awaitable<runhcs::error>(call_context&, const Req&, Resp&)>
               handler) {
    add_raw(std::move(service), std::move(method),
            [h = std::move(handler)](call_context& ctx, std::string_view in,
                                     std::string& out) -> boost::asio::awaitable<runhcs::error> {
              Req req;
              if (!req.ParseFromArray(in.data(), static_cast<int>(in.size()))) {
                co_return runhcs::error{code::invalid_argument,
                                        "unmarshal request error: undecodable payload"};
              }
              Resp resp;
              auto err = co_await h(ctx, req, resp);
              if (!err.code) {
                resp.SerializeToString(&out);
              }
              co_return err;
            });
  }
  void add_raw(std::string service, std::string method, raw_handler handler);

  // Accepts connections until shutdown() or close(), then returns once every connection it
  // accepted is closed. Cancellation: none (use shutdown/close).
  boost::asio::awaitable<void> serve(transport::listener& l);

  // Serves one connection until the peer leaves or the server closes it; returns after the
  // connection's handlers are done (or abandoned, see handler_grace). Cancellation: none.
  boost::asio::awaitable<void> serve_connection(transport::stream s);

  // Graceful: stops accepting, closes idle connections, lets calls in flight finish for up to
  // grace, then closes everything.
  void shutdown(std::chrono::milliseconds grace);
  // Immediate: stops accepting, cancels every handler, closes every connection.
  void close();

  // Returns once no connection is open (after shutdown() or close(), within their bounds).
  // Cancellation: terminal, partial and total.
  boost::asio::awaitable<void> wait_drained();

  std::size_t connection_count() const noexcept { return connections_.size(); }
  bool stopping() const noexcept { return stopping_; }

  // How long a closing connection waits for its cancelled handlers before leaving them behind
  // (they hold what they use, and their replies are dropped). Default 1 s.
  void set_handler_grace(std::chrono::milliseconds g) { handler_grace_ = g; }

  struct connection;
  struct request_task;

 private:
  struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  using method_map = std::unordered_map<std::string, std::shared_ptr<const raw_handler>,
                                        string_hash, std::equal_to<>>;
  using service_map = std::unordered_map<std::string, method_map, string_hash, std::equal_to<>>;

  void on_frame(const std::shared_ptr<connection>& c, const frame_header& h, std::string_view data);
  static boost::asio::awaitable<void> run_request(std::shared_ptr<connection> c,
                                                  std::shared_ptr<request_task> t,
                                                  std::shared_ptr<const raw_handler> handler,
                                                  std::unique_ptr<::ttrpc::Request> req);

  boost::asio::any_io_executor ex_;
  service_map services_;
  std::list<connection*> connections_;
  std::list<std::function<void()>> listeners_;  // closers of the listeners serve() runs
  boost::asio::steady_timer drained_;           // cancelled when connections_ becomes empty
  boost::asio::steady_timer grace_timer_;       // the bound of a graceful shutdown
  std::chrono::milliseconds handler_grace_{1000};
  bool stopping_ = false;
  std::shared_ptr<bool> alive_;  // lets late handler completions see the server is gone
};

}  // namespace runhcs::ttrpc
