// ttrpc server: one reading coroutine per connection; each request runs as its own coroutine
// whose reply is queued on the connection's serialized writer.
#include "ttrpc/server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <limits>

#include "ttrpc/io.hpp"

namespace runhcs::ttrpc {

namespace asio = boost::asio;

std::string_view call_context::metadata(std::string_view key) const noexcept {
  if (request != nullptr) {
    for (const auto& kv : request->metadata()) {
      if (kv.key() == key) {
        return kv.value();
      }
    }
  }
  return {};
}

struct server::request_task {
  request_task(const asio::any_io_executor& ex, std::uint32_t stream_id)
      : id(stream_id), timer(ex) {}
  std::uint32_t id;
  asio::cancellation_signal cancel;
  asio::steady_timer timer;  // the handler's deadline
  bool timed_out = false;
};

struct server::connection : std::enable_shared_from_this<server::connection> {
  explicit connection(transport::stream s)
      : stream(std::move(s)), handlers_done(stream.get_executor()) {}

  transport::stream stream;
  frame_reader reader;
  stream_rules rules;
  std::string out;
  std::string writing;
  bool writer_running = false;
  bool closed = false;    // the stream is closed; replies are dropped
  bool draining = false;  // graceful shutdown: close once idle
  std::size_t active = 0;
  std::unordered_map<std::uint32_t, std::shared_ptr<request_task>> tasks;
  asio::steady_timer handlers_done;  // cancelled when the last handler finishes after closing

  bool idle() const noexcept { return active == 0 && !writer_running && out.empty(); }

  void close_stream() {
    if (!closed) {
      closed = true;
      boost::system::error_code ignored;
      stream.close(ignored);
    }
  }

  void cancel_handlers() {
    for (auto& [id, t] : tasks) {
      t->cancel.emit(asio::cancellation_type::terminal);
    }
  }

  void send(std::uint32_t id, code status, std::string_view message, std::string_view payload) {
    if (closed) {
      return;
    }
    append_response(out, id, status, message, payload);
    flush();
  }

  void flush() {
    if (writer_running || out.empty() || closed) {
      return;
    }
    boost::system::error_code ec;
    const auto n = write_now(stream, out, ec);
    if (ec) {
      close_stream();
      return;
    }
    out.erase(0, n);
    if (!out.empty()) {
      writer_running = true;
      asio::co_spawn(stream.get_executor(), write_loop(shared_from_this()), asio::detached);
    } else if (draining && idle()) {
      close_stream();
    }
  }

  static asio::awaitable<void> write_loop(std::shared_ptr<connection> c) {
    while (!c->out.empty() && !c->closed) {
      c->writing.swap(c->out);
      c->out.clear();
      auto [ec, n] = co_await asio::async_write(c->stream, asio::buffer(c->writing),
                                                asio::as_tuple(asio::use_awaitable));
      if (ec) {
        c->close_stream();
      }
    }
    c->writer_running = false;
    if (c->draining && c->idle()) {
      c->close_stream();
    }
  }

  void handler_finished() {
    --active;
    if (active == 0) {
      if (closed) {
        handlers_done.cancel();
      } else if (draining && idle()) {
        close_stream();
      }
    }
  }
};

server::server(asio::any_io_executor ex)
    : ex_(std::move(ex)),
      drained_(ex_, deadline::max()),
      grace_timer_(ex_),
      alive_(std::make_shared<bool>(true)) {}

server::~server() {
  close();
  *alive_ = false;
}

void server::add_raw(std::string service, std::string method, raw_handler handler) {
  services_[std::move(service)][std::move(method)] =
      std::make_shared<const raw_handler>(std::move(handler));
}

void server::on_frame(const std::shared_ptr<connection>& c, const frame_header& h,
                      std::string_view data) {
  const auto verdict = c->rules.check(h);
  if (verdict == stream_verdict::ignore) {
    return;
  }
  if (verdict != stream_verdict::accept) {
    c->send(h.stream_id, code::invalid_argument, verdict_message(verdict), {});
    return;
  }
  auto req = std::make_unique<::ttrpc::Request>();
  if (!req->ParseFromArray(data.data(), static_cast<int>(data.size()))) {
    c->send(h.stream_id, code::invalid_argument,
            "unmarshal request error: undecodable ttrpc.Request", {});
    return;
  }
  const auto service = services_.find(std::string_view(req->service()));
  if (service == services_.end()) {
    c->send(h.stream_id, code::unimplemented, "service " + req->service(), {});
    return;
  }
  const auto method = service->second.find(std::string_view(req->method()));
  if (method == service->second.end()) {
    c->send(h.stream_id, code::unimplemented, "method " + req->method(), {});
    return;
  }

  auto t = std::make_shared<request_task>(ex_, h.stream_id);
  if (req->timeout_nano() != 0) {
    // Saturate: a peer may send any int64; negative means already expired, as in Go.
    const auto now = steady_clock::now();
    const auto room = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline::max() - now);
    const auto ns = std::chrono::nanoseconds(std::max<std::int64_t>(req->timeout_nano(), 0));
    t->timer.expires_at(ns >= room ? deadline::max() : now + ns);
    t->timer.async_wait([t](boost::system::error_code ec) {
      if (!ec) {
        t->timed_out = true;
        t->cancel.emit(asio::cancellation_type::terminal);
      }
    });
  } else {
    t->timer.expires_at(deadline::max());
  }
  c->tasks.emplace(h.stream_id, t);
  ++c->active;
  // The completion handler holds the task: its signal must outlive the coroutine's frame.
  asio::co_spawn(ex_, run_request(c, t, method->second, std::move(req)),
                 asio::bind_cancellation_slot(t->cancel.slot(), [t](std::exception_ptr) {}));
}

asio::awaitable<void> server::run_request(std::shared_ptr<connection> c,
                                          std::shared_ptr<request_task> t,
                                          std::shared_ptr<const raw_handler> handler,
                                          std::unique_ptr<::ttrpc::Request> req) {
  call_context ctx{req->service(), req->method(), t->timer.expiry(), req.get()};
  std::string out;
  runhcs::error err;
  try {
    err = co_await (*handler)(ctx, req->payload(), out);
  } catch (const boost::system::system_error& e) {
    // A cancelled handler's next co_await throws operation_aborted (Asio's throw_if_cancelled).
    err = {e.code(), e.what()};
  } catch (const std::exception& e) {
    err = {code::unknown, e.what()};
  }
  t->timer.cancel();
  c->tasks.erase(t->id);
  if (t->timed_out) {
    c->send(t->id, code::deadline_exceeded, "context deadline exceeded", {});
  } else if (!err.code) {
    c->send(t->id, code::ok, {}, out);
  } else {
    c->send(t->id, to_status_code(err.code), err.message, {});
  }
  c->handler_finished();
}

asio::awaitable<void> server::serve_connection(transport::stream s) {
  auto alive = alive_;
  auto c = std::make_shared<connection>(std::move(s));
  connections_.push_front(c.get());
  const auto where = connections_.begin();
  if (stopping_) {
    c->close_stream();
  }
  try {
    while (!c->closed) {
      auto [ec, ev] = co_await read_event(c->stream, c->reader);
      if (!*alive) {
        co_return;  // the server is gone (its destructor closed this stream)
      }
      if (ec) {
        break;  // the peer left (EOF, reset, mid-frame too) or we closed the stream
      }
      if (ev == frame_reader::event::oversized) {
        // The frame's data is gone; answer on its stream and keep the connection.
        c->send(c->reader.header().stream_id, code::resource_exhausted,
                oversize_message(c->reader.header().length), {});
        continue;
      }
      on_frame(c, c->reader.header(), c->reader.data());
    }
  } catch (const std::exception&) {
    // Unexpected (allocation failure): drop this connection, keep the server.
  }
  c->close_stream();
  c->cancel_handlers();
  const auto cancelled = (co_await asio::this_coro::cancellation_state).cancelled();
  if (c->active > 0 && cancelled == asio::cancellation_type::none) {
    c->handlers_done.expires_after(handler_grace_);
    co_await c->handlers_done.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  if (!*alive) {
    co_return;
  }
  connections_.erase(where);
  if (connections_.empty()) {
    drained_.cancel();
  }
}

void server::shutdown(std::chrono::milliseconds grace) {
  if (stopping_) {
    return;
  }
  stopping_ = true;
  for (auto& close_listener : listeners_) {
    close_listener();
  }
  for (auto* c : connections_) {
    c->draining = true;
    if (c->idle()) {
      c->close_stream();
    }
  }
  grace_timer_.expires_after(grace);
  grace_timer_.async_wait([this, alive = alive_](boost::system::error_code ec) {
    if (!ec && *alive) {
      close();
    }
  });
}

void server::close() {
  stopping_ = true;
  grace_timer_.cancel();
  for (auto& close_listener : listeners_) {
    close_listener();
  }
  for (auto* c : connections_) {
    c->close_stream();
    c->cancel_handlers();
  }
}

asio::awaitable<void> server::wait_drained() {
  while (!connections_.empty()) {
    drained_.expires_at(deadline::max());
    co_await drained_.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

}  // namespace runhcs::ttrpc
