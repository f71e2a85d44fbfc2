// Task events for containerd (/tasks/create, /tasks/start, /tasks/exit, ...): sent in order
// over ttrpc (containerd.services.events.ttrpc.v1.Events/Forward at TTRPC_ADDRESS), falling
// back to `<publish-binary> --address A publish --topic T --namespace NS` when that address
// cannot be reached. A lost event is logged, never fatal.
#pragma once

#include <google/protobuf/message_lite.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <memory>
#include <string>

namespace runhcs::service {

inline constexpr std::string_view topic_create = "/tasks/create";
inline constexpr std::string_view topic_start = "/tasks/start";
inline constexpr std::string_view topic_exit = "/tasks/exit";
inline constexpr std::string_view topic_delete = "/tasks/delete";
inline constexpr std::string_view topic_exec_added = "/tasks/exec-added";
inline constexpr std::string_view topic_exec_started = "/tasks/exec-started";

// Where events go. publish() never blocks and never fails: it queues.
class event_publisher {
 public:
  virtual ~event_publisher() = default;
  virtual void publish(std::string_view topic, const google::protobuf::MessageLite& event) = 0;
};

struct publisher_options {
  std::string ns;
  std::string ttrpc_address;                        // TTRPC_ADDRESS: a path, or unix://path
  std::string containerd_address;                   // -address, for the publish binary
  std::string publish_binary;                       // -publish-binary
  std::chrono::milliseconds dial_timeout{5000};     // runhcs dials lazily with 5 s
  std::chrono::milliseconds forward_timeout{5000};  // each Forward call
  std::chrono::milliseconds binary_timeout{5000};   // each publish-binary run
};

// The publisher a serving shim uses. Events are sent one at a time, in publish order, from a
// coroutine on executor that ends when the publisher goes away (its pending events are lost).
std::shared_ptr<event_publisher> make_containerd_publisher(boost::asio::any_io_executor executor,
                                                           publisher_options options);

// The containerd type URL of an event ("containerd.events.TaskExit"), as containerd's typeurl
// registry expects it: the message's full name with no prefix.
std::string event_type_url(const google::protobuf::MessageLite& event);

// Runs the publish binary with the Any on stdin, up to the deadline (then kills it). Returns
// an empty string on success, else what went wrong. Cancellation: terminal.
boost::asio::awaitable<std::string> run_publish_binary(const publisher_options& options,
                                                       std::string topic, std::string any_bytes);

}  // namespace runhcs::service
