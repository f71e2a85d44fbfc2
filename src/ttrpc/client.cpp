// ttrpc client: calls wait on their own deadline timer; a reader that lives only while calls
// are pending hands each reply to its call and wakes it by cancelling that timer.
#include "ttrpc/client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <unordered_map>

#include "ttrpc/io.hpp"

namespace runhcs::ttrpc {

namespace asio = boost::asio;

namespace {

struct pending_call {
  pending_call(const asio::any_io_executor& ex, deadline until, google::protobuf::MessageLite& r)
      : timer(ex, until), resp(&r) {}

  asio::steady_timer timer;  // expires at the deadline; cancelled to say "done"
  google::protobuf::MessageLite* resp;
  runhcs::error result;
  bool done = false;
};

}  // namespace

struct client::state : std::enable_shared_from_this<client::state> {
  explicit state(transport::stream s) : stream(std::move(s)) {}

  transport::stream stream;
  frame_reader reader;
  std::unordered_map<std::uint32_t, pending_call*> calls;
  std::uint32_t next_id = 1;
  std::string out;      // bytes queued behind the writer
  std::string writing;  // bytes the writer is writing
  bool writer_running = false;
  bool reader_running = false;
  bool closed = false;
  asio::cancellation_signal read_cancel;

  void finish(std::uint32_t id, runhcs::error result) {
    auto it = calls.find(id);
    if (it == calls.end()) {
      return;  // a cancelled or timed-out call's late reply
    }
    auto* p = it->second;
    calls.erase(it);
    p->result = std::move(result);
    p->done = true;
    p->timer.cancel();
  }

  // The connection is unusable: close it and fail every pending call at once.
  void fail(std::error_code ec) {
    if (!closed) {
      closed = true;
      boost::system::error_code ignored;
      stream.close(ignored);
    }
    auto pending = std::move(calls);
    calls.clear();
    for (auto& [id, p] : pending) {
      p->result = make_error(ec);
      p->done = true;
      p->timer.cancel();
    }
  }

  void on_frame(const frame_header& h, std::string_view data) {
    if (h.type != static_cast<std::uint8_t>(message_type::response)) {
      return;  // unknown types are ignored for future compatibility
    }
    auto it = calls.find(h.stream_id);
    if (it == calls.end()) {
      return;
    }
    ::ttrpc::Response resp;
    if (!resp.ParseFromArray(data.data(), static_cast<int>(data.size()))) {
      finish(h.stream_id, make_error(errc::protocol_error, "ttrpc: undecodable response"));
      return;
    }
    auto err = response_error(resp);
    if (!err.code && !it->second->resp->ParseFromString(resp.payload())) {
      err = make_error(errc::protocol_error, "ttrpc: undecodable response payload");
    }
    finish(h.stream_id, std::move(err));
  }

  // Writes queued bytes now if the stream takes them, else leaves them to a writer coroutine.
  void flush() {
    if (writer_running || out.empty() || closed) {
      return;
    }
    boost::system::error_code ec;
    const auto n = write_now(stream, out, ec);
    if (ec) {
      fail(fold_closed(ec));
      return;
    }
    out.erase(0, n);
    if (!out.empty()) {
      writer_running = true;
      asio::co_spawn(stream.get_executor(), write_loop(shared_from_this()), asio::detached);
    }
  }

  // Ends when the queue is empty or the connection is closed (client::close, destructor).
  static asio::awaitable<void> write_loop(std::shared_ptr<state> s) {
    while (!s->out.empty() && !s->closed) {
      s->writing.swap(s->out);
      s->out.clear();
      auto [ec, n] = co_await asio::async_write(s->stream, asio::buffer(s->writing),
                                                asio::as_tuple(asio::use_awaitable));
      if (ec) {
        s->fail(ec == asio::error::operation_aborted ? errc::closed : fold_closed(ec));
        break;
      }
    }
    s->writer_running = false;
  }

  void ensure_reader() {
    if (!reader_running && !closed && !calls.empty()) {
      reader_running = true;
      asio::co_spawn(stream.get_executor(), read_loop(shared_from_this()), asio::detached);
    }
  }

  // Runs while calls are pending: a call that leaves last stops it.
  static asio::awaitable<void> read_loop(std::shared_ptr<state> s) {
    while (!s->closed) {
      const auto ev = s->reader.next();
      if (ev == frame_reader::event::frame) {
        s->on_frame(s->reader.header(), s->reader.data());
        continue;
      }
      if (ev == frame_reader::event::oversized) {
        s->finish(s->reader.header().stream_id,
                  make_error(errc::message_too_large, oversize_message(s->reader.header().length)));
        continue;
      }
      if (s->calls.empty()) {
        break;
      }
      auto [ec, n] = co_await s->stream.async_read_some(
          to_buffer(s->reader.prepare()),
          asio::bind_cancellation_slot(s->read_cancel.slot(), asio::as_tuple(asio::use_awaitable)));
      if (ec == asio::error::operation_aborted && !s->closed) {
        continue;  // asked to stop: the loop stops unless a call came in meanwhile
      }
      if (ec) {
        s->fail(ec == asio::error::operation_aborted ? errc::closed : fold_closed(ec));
        break;
      }
      s->reader.commit(n);
    }
    s->reader_running = false;
  }

  void leave(std::uint32_t id) {
    calls.erase(id);
    if (calls.empty() && reader_running) {
      read_cancel.emit(asio::cancellation_type::total);
    }
  }
};

client::client(transport::stream s) : state_(std::make_shared<state>(std::move(s))) {}
client::client(client&&) noexcept = default;
client& client::operator=(client&& other) noexcept {
  if (this != &other) {
    close();
    state_ = std::move(other.state_);
  }
  return *this;
}
client::~client() {
  close();
}

void client::close() {
  if (state_) {
    state_->fail(errc::closed);
  }
}

bool client::is_open() const noexcept {
  return state_ && !state_->closed;
}

std::size_t client::pending() const noexcept {
  return state_ ? state_->calls.size() : 0;
}

asio::awaitable<runhcs::error> client::call(std::string_view service, std::string_view method,
                                            const google::protobuf::MessageLite& req,
                                            google::protobuf::MessageLite& resp, deadline until,
                                            const metadata& md) {
  auto s = state_;  // the call keeps the connection alive, whatever happens to *this
  if (!s || s->closed) {
    co_return make_error(errc::closed);
  }
  const auto now = steady_clock::now();
  if (until <= now) {
    co_return make_error(runhcs::errc::call_timeout);
  }
  const std::int64_t timeout_nano =
      until == deadline::max()
          ? 0
          : std::chrono::duration_cast<std::chrono::nanoseconds>(until - now).count();

  ::ttrpc::Request envelope;
  make_request(envelope, service, method, req, timeout_nano, md);
  const auto id = s->next_id;
  if (auto ec = append_message(s->out, id, message_type::request, envelope)) {
    co_return make_error(ec, "ttrpc: request of " + std::to_string(envelope.ByteSizeLong()) +
                                 " bytes exceeds the maximum message size of " +
                                 std::to_string(max_message_size));
  }
  s->next_id += 2;

  pending_call p(s->stream.get_executor(), until, resp);
  s->calls.emplace(id, &p);
  s->flush();
  s->ensure_reader();
  boost::system::error_code ec;
  if (!p.done) {
    std::tie(ec) = co_await p.timer.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  if (p.done) {
    co_return std::move(p.result);
  }
  s->leave(id);
  if (ec == asio::error::operation_aborted) {
    co_return make_error(boost::system::error_code(asio::error::operation_aborted));
  }
  co_return make_error(runhcs::errc::call_timeout);
}

}  // namespace runhcs::ttrpc
