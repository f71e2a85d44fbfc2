// The event queue and its sender: one coroutine drains the queue so that events reach
// containerd in the order they happened (a task's exit never before its start).
#include "service/events.hpp"

#include <google/protobuf/any.pb.h>
#include <google/protobuf/timestamp.pb.h>
#include <spdlog/spdlog.h>

#include <google/protobuf/empty.pb.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <deque>
#include <optional>

#include "containerd/services/events/ttrpc/v1/events.pb.h"
#include "transport/transport.hpp"
#include "ttrpc/client.hpp"

namespace runhcs::service {
namespace {

namespace asio = boost::asio;

constexpr std::string_view events_service = "containerd.services.events.ttrpc.v1.Events";
// A full queue drops the oldest event rather than grow without bound.
constexpr std::size_t max_queued_events = 4096;

std::string dial_address(const std::string& address) {
  if (!address.empty() && address.front() == '/') {
    return "unix://" + address;
  }
  return address;
}

struct queued_event {
  std::string topic;
  google::protobuf::Any event;
  google::protobuf::Timestamp at;
};

struct publisher_state : std::enable_shared_from_this<publisher_state> {
  publisher_state(asio::any_io_executor ex, publisher_options opts)
      : executor(std::move(ex)),
        options(std::move(opts)),
        wake(executor, asio::steady_timer::time_point::max()) {}

  asio::any_io_executor executor;
  publisher_options options;
  std::deque<queued_event> queue;
  asio::steady_timer wake;
  bool running = false;
  bool stopped = false;
  std::optional<ttrpc::client> client;
  asio::cancellation_signal cancel;

  // Forward over ttrpc, dialling when there is no connection; an empty string on success.
  asio::awaitable<std::string> forward(const queued_event& e) {
    if (options.ttrpc_address.empty()) {
      co_return std::string("no TTRPC_ADDRESS");
    }
    if (!client || !client->is_open()) {
      client.reset();
      std::error_code ec;
      auto until = steady_clock::now() + options.dial_timeout;
      auto stream = co_await transport::dial(dial_address(options.ttrpc_address), until, ec);
      if (ec) {
        co_return "dial " + options.ttrpc_address + ": " + ec.message();
      }
      client.emplace(std::move(stream));
    }
    ::containerd::services::events::ttrpc::v1::ForwardRequest request;
    auto* envelope = request.mutable_envelope();
    *envelope->mutable_timestamp() = e.at;
    envelope->set_namespace_(options.ns);
    envelope->set_topic(e.topic);
    *envelope->mutable_event() = e.event;
    google::protobuf::Empty reply;
    ttrpc::metadata md;
    md.emplace_back(ttrpc::namespace_key, options.ns);
    auto err = co_await client->call(events_service, "Forward", request, reply,
                                     steady_clock::now() + options.forward_timeout, md);
    if (err.code) {
      client.reset();
      co_return "forward: " + err.message;
    }
    co_return std::string{};
  }

  asio::awaitable<void> run() {
    auto self = shared_from_this();
    while (!stopped) {
      if (queue.empty()) {
        co_await wake.async_wait(asio::as_tuple(asio::use_awaitable));
        auto state = co_await asio::this_coro::cancellation_state;
        if (state.cancelled() != asio::cancellation_type::none) {
          co_return;
        }
        continue;
      }
      queued_event e = std::move(queue.front());
      queue.pop_front();
      auto failure = co_await forward(e);
      if (!failure.empty() && !stopped) {
        spdlog::debug("event {}: {}; trying {}", e.topic, failure, options.publish_binary);
        auto fallback = co_await run_publish_binary(options, e.topic, e.event.SerializeAsString());
        if (!fallback.empty()) {
          spdlog::warn("event {} lost: {}; {}", e.topic, failure, fallback);
        }
      }
    }
  }
};

class containerd_publisher final : public event_publisher {
 public:
  containerd_publisher(asio::any_io_executor ex, publisher_options options)
      : state_(std::make_shared<publisher_state>(std::move(ex), std::move(options))) {}

  ~containerd_publisher() override {
    state_->stopped = true;
    state_->cancel.emit(asio::cancellation_type::terminal);
    state_->wake.cancel();
    if (state_->client) {
      state_->client->close();
    }
  }

  void publish(std::string_view topic, const google::protobuf::MessageLite& event) override {
    queued_event e;
    e.topic = std::string(topic);
    e.event.set_type_url(event_type_url(event));
    e.event.set_value(event.SerializeAsString());
    auto now = std::chrono::system_clock::now().time_since_epoch();
    auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(now).count();
    e.at.set_seconds(nanos / 1'000'000'000);
    e.at.set_nanos(static_cast<int>(nanos % 1'000'000'000));
    if (state_->queue.size() >= max_queued_events) {
      spdlog::warn("event {} lost: queue full", state_->queue.front().topic);
      state_->queue.pop_front();
    }
    state_->queue.push_back(std::move(e));
    if (!state_->running) {
      state_->running = true;
      asio::co_spawn(state_->executor, state_->run(),
                     asio::bind_cancellation_slot(state_->cancel.slot(), asio::detached));
    }
    state_->wake.cancel();
  }

 private:
  std::shared_ptr<publisher_state> state_;
};

}  // namespace

std::string event_type_url(const google::protobuf::MessageLite& event) {
  return event.GetTypeName();
}

std::shared_ptr<event_publisher> make_containerd_publisher(asio::any_io_executor executor,
                                                           publisher_options options) {
  return std::make_shared<containerd_publisher>(std::move(executor), std::move(options));
}

}  // namespace runhcs::service
