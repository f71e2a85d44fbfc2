// ttrpc client (DESIGN.md layer 4): unary calls over one connection, multiplexed by stream id,
// each with its own deadline.
//
// No background task outlives a call: the connection's reader runs only while calls are
// pending (started by the first call, ended when the last one completes), and a request is
// written by its call itself, falling back to a writer coroutine only when the stream is
// full. So one call in a short-lived process costs one read coroutine and no thread. The
// reader and writer share the connection state, so destroying the client mid-call is safe:
// pending calls fail with errc::closed.
//
// Everything runs on the stream's executor, one thread: not thread-safe.
#pragma once

#include <google/protobuf/message_lite.h>

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <memory>
#include <string_view>

#include "common/deadline.hpp"
#include "common/error.hpp"
#include "transport/transport.hpp"
#include "ttrpc/envelope.hpp"
#include "ttrpc/status.hpp"

namespace runhcs::ttrpc {

class client {
 public:
  explicit client(transport::stream s);
  client(client&&) noexcept;
  client& operator=(client&&) noexcept;
  client(const client&) = delete;
  client& operator=(const client&) = delete;
  ~client();

  // Calls service/method with req; fills resp on success and returns an empty error. Errors:
  // a remote status ({code, message} in grpc_category()); errc::closed when the connection is
  // or goes down (every pending call fails at once); errc::message_too_large for a request
  // over 4 MiB (nothing is written) or a reply over it; errc::protocol_error for a reply that
  // does not decode; runhcs::errc::call_timeout when until passes first (the remaining time
  // is sent as timeout_nano; deadline::max() sends none); operation_aborted when cancelled.
  // Cancellation: terminal, partial and total; a cancelled call's late reply is dropped and
  // the connection stays usable.
  boost::asio::awaitable<runhcs::error> call(std::string_view service, std::string_view method,
                                             const google::protobuf::MessageLite& req,
                                             google::protobuf::MessageLite& resp, deadline until,
                                             const metadata& md = {});

  // Closes the connection; pending calls fail with errc::closed. Idempotent.
  void close();
  bool is_open() const noexcept;
  // Calls waiting for a reply (for tests).
  std::size_t pending() const noexcept;

  struct state;

 private:
  std::shared_ptr<state> state_;
};

}  // namespace runhcs::ttrpc
