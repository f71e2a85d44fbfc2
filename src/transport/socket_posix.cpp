// Unix-socket transport for Linux: filesystem sockets only (never abstract: CVE-2020-15257),
// every fd close-on-exec, directory 0700, socket 0600, peers of another user refused.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <chrono>
#include <memory>
#include <string>
#include <utility>

#include "transport/transport.hpp"

namespace runhcs::transport {
namespace {

namespace asio = boost::asio;
using local_protocol = asio::local::stream_protocol;
using namespace std::chrono_literals;

constexpr std::string_view unix_scheme = "unix://";

// Dial retries start fast (a listener is usually a few ms away) and back off to a gentle poll.
constexpr auto first_backoff = 1ms;
constexpr auto max_backoff = 25ms;

std::error_code os_error(int err) {
  return {err, std::system_category()};
}

std::error_code aborted() {
  return std::make_error_code(std::errc::operation_canceled);
}

// "unix:///abs/path" -> "/abs/path". No scheme would mean an abstract socket to containerd.
std::error_code parse_address(std::string_view address, std::string& path) {
  if (!address.starts_with(unix_scheme)) {
    return errc::invalid_address;
  }
  std::string_view rest = address.substr(unix_scheme.size());
  if (rest.empty() || rest.front() != '/' || rest.find('\0') != std::string_view::npos) {
    return errc::invalid_address;
  }
  // sun_path needs room for the terminating NUL.
  if (rest.size() >= sizeof(sockaddr_un::sun_path)) {
    return errc::path_too_long;
  }
  path.assign(rest);
  return {};
}

sockaddr_un make_sockaddr(const std::string& path) {
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  path.copy(sa.sun_path, path.size());
  return sa;
}

// Owns a raw fd until it is handed to an Asio object.
class unique_fd {
 public:
  explicit unique_fd(int fd = -1) noexcept : fd_(fd) {}
  unique_fd(unique_fd&& other) noexcept : fd_(other.release()) {}
  unique_fd& operator=(unique_fd&&) = delete;
  ~unique_fd() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  int get() const noexcept { return fd_; }
  int release() noexcept { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

// Asio opens sockets without SOCK_CLOEXEC; a forked child must never inherit ours.
unique_fd open_socket(std::error_code& ec) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    ec = os_error(errno);
  }
  return unique_fd(fd);
}

// A unix-socket connect never waits: it succeeds, or fails at once (EAGAIN when the backlog is
// full). Asio's async_connect would wrongly report success after EAGAIN, so connect by hand.
unique_fd try_connect(const sockaddr_un& sa, int& err) {
  std::error_code ec;
  unique_fd fd = open_socket(ec);
  if (ec) {
    err = ec.value();
    return fd;
  }
  int rc;
  do {
    rc = ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&sa), sizeof(sa));
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    err = errno;
    return unique_fd();
  }
  err = 0;
  return fd;
}

bool dial_retryable(int err) {
  return err == ENOENT || err == ECONNREFUSED || err == EAGAIN || err == EWOULDBLOCK;
}

std::error_code map_connect_error(int err) {
  if (err == EACCES || err == EPERM) {
    return errc::access_denied;
  }
  return os_error(err);
}

// mkdir -p with 0700 for every directory we create; chmod makes the mode umask-proof. Existing
// directories are left as they are.
std::error_code make_parent_dirs(const std::string& path) {
  std::string::size_type slash = path.rfind('/');
  if (slash == 0 || slash == std::string::npos) {
    return {};
  }
  const std::string parent = path.substr(0, slash);
  struct stat sb {};
  if (::stat(parent.c_str(), &sb) == 0) {
    return S_ISDIR(sb.st_mode) ? std::error_code() : os_error(ENOTDIR);
  }
  for (auto next = parent.find('/', 1);; next = parent.find('/', next + 1)) {
    const std::string dir = parent.substr(0, next);
    if (::mkdir(dir.c_str(), 0700) == 0) {
      if (::chmod(dir.c_str(), 0700) != 0) {
        return os_error(errno);
      }
    } else if (errno != EEXIST) {
      return os_error(errno);
    } else if (::stat(dir.c_str(), &sb) != 0 || !S_ISDIR(sb.st_mode)) {
      return os_error(ENOTDIR);
    }
    if (next == std::string::npos) {
      return {};
    }
  }
}

// A socket file already at path: live server -> address_in_use; stale (refused) -> removed.
std::error_code clear_stale_socket(const std::string& path, const sockaddr_un& sa) {
  struct stat sb {};
  if (::lstat(path.c_str(), &sb) != 0) {
    return errno == ENOENT ? std::error_code() : os_error(errno);
  }
  if (!S_ISSOCK(sb.st_mode)) {
    // Never delete something that is not a socket.
    return std::make_error_code(std::errc::file_exists);
  }
  int err = 0;
  unique_fd probe = try_connect(sa, err);
  if (err == 0 || err == EAGAIN || err == EWOULDBLOCK) {
    return errc::address_in_use;
  }
  if (err == ENOENT) {
    return {};
  }
  if (err != ECONNREFUSED) {
    return map_connect_error(err);
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return os_error(errno);
  }
  return {};
}

}  // namespace

boost::asio::awaitable<stream> dial(std::string address, deadline until, std::error_code& ec) {
  auto executor = co_await asio::this_coro::executor;
  // Report cancellation through ec like every other failure.
  co_await asio::this_coro::throw_if_cancelled(false);
  stream result(executor);
  std::string path;
  ec = parse_address(address, path);
  if (ec) {
    co_return result;
  }
  const sockaddr_un sa = make_sockaddr(path);
  asio::steady_timer timer(executor);
  auto backoff = std::chrono::duration_cast<steady_clock::duration>(first_backoff);
  for (;;) {
    if ((co_await asio::this_coro::cancellation_state).cancelled() !=
        asio::cancellation_type::none) {
      ec = aborted();
      co_return result;
    }
    int err = 0;
    unique_fd fd = try_connect(sa, err);
    if (err == 0) {
      boost::system::error_code assign_ec;
      result.assign(local_protocol(), fd.get(), assign_ec);
      if (assign_ec) {
        ec = assign_ec;
        co_return result;
      }
      fd.release();
      ec = {};
      co_return result;
    }
    if (!dial_retryable(err)) {
      ec = map_connect_error(err);
      co_return result;
    }
    const auto now = steady_clock::now();
    if (now >= until) {
      ec = errc::timeout;
      co_return result;
    }
    // Never sleep past the deadline: the last attempt happens at the deadline itself.
    timer.expires_at(std::min(now + backoff, until));
    auto [wait_ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (wait_ec) {
      ec = aborted();
      co_return result;
    }
    backoff = std::min<steady_clock::duration>(backoff * 2, max_backoff);
  }
}

// Shared with pending accepts so that closing or destroying the listener never leaves them
// holding a dangling pointer.
struct listen_state {
  explicit listen_state(const asio::any_io_executor& executor) : acceptor(executor) {}

  local_protocol::acceptor acceptor;
  std::string address;
  std::string path;
  dev_t dev = 0;
  ino_t ino = 0;
  bool open = false;
};

struct listener::impl {
  std::shared_ptr<listen_state> state;
};

listener::listener(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
listener::listener(listener&&) noexcept = default;

listener& listener::operator=(listener&& other) noexcept {
  if (this != &other) {
    close();
    impl_ = std::move(other.impl_);
  }
  return *this;
}

listener::~listener() {
  close();
}

listener listener::listen(const boost::asio::any_io_executor& executor, std::string_view address,
                          std::error_code& ec) {
  auto state = std::make_shared<listen_state>(executor);
  state->address.assign(address);
  listener result(std::make_unique<impl>(impl{state}));

  ec = parse_address(address, state->path);
  if (ec) {
    return result;
  }
  const std::string& path = state->path;
  const sockaddr_un sa = make_sockaddr(path);
  if ((ec = make_parent_dirs(path)) || (ec = clear_stale_socket(path, sa))) {
    return result;
  }
  unique_fd fd = open_socket(ec);
  if (ec) {
    return result;
  }
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&sa), sizeof(sa)) != 0) {
    // Another listener won the race to the path since we cleared it.
    ec = errno == EADDRINUSE ? std::error_code(errc::address_in_use) : map_connect_error(errno);
    return result;
  }
  // From here on the file is ours: any failure removes it.
  struct stat sb {};
  if (::chmod(path.c_str(), 0600) != 0 || ::lstat(path.c_str(), &sb) != 0 ||
      ::listen(fd.get(), SOMAXCONN) != 0) {
    ec = os_error(errno);
    ::unlink(path.c_str());
    return result;
  }
  state->dev = sb.st_dev;
  state->ino = sb.st_ino;
  boost::system::error_code assign_ec;
  state->acceptor.assign(local_protocol(), fd.get(), assign_ec);
  if (assign_ec) {
    ec = assign_ec;
    ::unlink(path.c_str());
    return result;
  }
  fd.release();
  state->open = true;
  return result;
}

boost::asio::awaitable<stream> listener::accept(std::error_code& ec) {
  // A copy: close() or destruction of *this while we wait must not pull the state away.
  std::shared_ptr<listen_state> state = impl_ ? impl_->state : nullptr;
  co_await asio::this_coro::throw_if_cancelled(false);
  const uid_t euid = ::geteuid();
  const gid_t egid = ::getegid();
  for (;;) {
    if (!state || !state->open ||
        (co_await asio::this_coro::cancellation_state).cancelled() !=
            asio::cancellation_type::none) {
      ec = aborted();
      co_return stream(co_await asio::this_coro::executor);
    }
    // Accept by hand: Asio's accept does not set close-on-exec on the new socket.
    unique_fd fd(
        ::accept4(state->acceptor.native_handle(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
    if (fd.get() < 0) {
      const int err = errno;
      if (err == EAGAIN || err == EWOULDBLOCK) {
        auto [wait_ec] = co_await state->acceptor.async_wait(local_protocol::acceptor::wait_read,
                                                             asio::as_tuple(asio::use_awaitable));
        if (wait_ec) {
          ec = wait_ec == asio::error::operation_aborted ? aborted() : std::error_code(wait_ec);
          co_return stream(co_await asio::this_coro::executor);
        }
        continue;
      }
      // The peer gave up before we took it: not our failure.
      if (err == EINTR || err == ECONNABORTED) {
        continue;
      }
      ec = os_error(err);
      co_return stream(co_await asio::this_coro::executor);
    }
    // containerd's ttrpc rule (UnixSocketRequireSameUser): the peer's effective uid and gid at
    // connect time must both equal ours; root gets no exception.
    ucred peer{};
    socklen_t len = sizeof(peer);
    if (::getsockopt(fd.get(), SOL_SOCKET, SO_PEERCRED, &peer, &len) != 0 || peer.uid != euid ||
        peer.gid != egid) {
      continue;
    }
    stream peer_stream(state->acceptor.get_executor());
    boost::system::error_code assign_ec;
    peer_stream.assign(local_protocol(), fd.get(), assign_ec);
    if (assign_ec) {
      ec = assign_ec;
      co_return stream(co_await asio::this_coro::executor);
    }
    fd.release();
    ec = {};
    co_return peer_stream;
  }
}

void listener::close() {
  if (!impl_ || !impl_->state || !impl_->state->open) {
    return;
  }
  listen_state& state = *impl_->state;
  state.open = false;
  // Remove the file only while it is still the one we bound: a successor may own the path now.
  // Unlink before closing: our open socket keeps its inode, so the number cannot be reused yet.
  struct stat sb {};
  if (::lstat(state.path.c_str(), &sb) == 0 && S_ISSOCK(sb.st_mode) && sb.st_dev == state.dev &&
      sb.st_ino == state.ino) {
    ::unlink(state.path.c_str());
  }
  boost::system::error_code ignored;
  state.acceptor.close(ignored);
}

bool listener::is_open() const noexcept {
  return impl_ && impl_->state && impl_->state->open;
}

const std::string& listener::address() const noexcept {
  static const std::string none;
  return impl_ && impl_->state ? impl_->state->address : none;
}

}  // namespace runhcs::transport
