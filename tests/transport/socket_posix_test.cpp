// The Linux unix-socket transport against real sockets: deadlines, retries, file modes, stale
// and live sockets, close, cancellation, close-on-exec and the peer-credential rule.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "transport/transport.hpp"

namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;
using runhcs::steady_clock;
using runhcs::transport::dial;
using runhcs::transport::errc;
using runhcs::transport::listener;
using runhcs::transport::stream;

// Generous slack for a loaded 2-core CI machine; deadlines themselves are asserted exactly.
constexpr auto slack = 2s;

class temp_dir {
 public:
  temp_dir() {
    std::string pattern = "/tmp/rt-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
      throw std::runtime_error("mkdtemp failed");
    }
    path_ = pattern;
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  ~temp_dir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::string path(const std::string& name) const { return path_ + "/" + name; }
  std::string address(const std::string& name) const { return "unix://" + path(name); }

 private:
  std::string path_;
};

// Runs body to completion on ioc; a test that takes longer than bound fails instead of hanging.
void run(asio::io_context& ioc, asio::awaitable<void> body, std::chrono::seconds bound = 20s) {
  bool done = false;
  std::exception_ptr error;
  ioc.restart();  // a previous run() may have left it stopped
  asio::co_spawn(ioc, std::move(body), [&](std::exception_ptr e) {
    done = true;
    error = e;
  });
  ioc.run_for(bound);
  if (!done) {
    throw std::runtime_error("test coroutine did not finish within its bound");
  }
  if (error) {
    std::rethrow_exception(error);
  }
}

asio::awaitable<void> sleep_for(steady_clock::duration d) {
  asio::steady_timer timer(co_await asio::this_coro::executor, d);
  co_await timer.async_wait(asio::use_awaitable);
}

// A socket file nobody listens on, as a crashed shim leaves behind.
void make_stale_socket(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  path.copy(sa.sun_path, sizeof(sa.sun_path) - 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0) << path;
  ::close(fd);
  struct stat sb {};
  ASSERT_EQ(::lstat(path.c_str(), &sb), 0);
  ASSERT_TRUE(S_ISSOCK(sb.st_mode));
}

ino_t inode_of(const std::string& path) {
  struct stat sb {};
  return ::lstat(path.c_str(), &sb) == 0 ? sb.st_ino : 0;
}

bool exists(const std::string& path) {
  struct stat sb {};
  return ::lstat(path.c_str(), &sb) == 0;
}

mode_t mode_of(const std::string& path) {
  struct stat sb {};
  EXPECT_EQ(::lstat(path.c_str(), &sb), 0) << path;
  return sb.st_mode & 07777;
}

// Accepts one peer; returns the accept's error.
asio::awaitable<std::error_code> accept_one(listener& l) {
  std::error_code ec;
  stream s = co_await l.accept(ec);
  co_return ec;
}

TEST(Dial, MissingSocketTimesOutAtTheDeadline) {
  temp_dir dir;
  asio::io_context ioc;
  const auto bound = 300ms;
  std::error_code ec;
  steady_clock::duration elapsed{};
  run(ioc, [&]() -> asio::awaitable<void> {
    const auto start = steady_clock::now();
    stream s = co_await dial(dir.address("missing.sock"), start + bound, ec);
    elapsed = steady_clock::now() - start;
  }());
  EXPECT_EQ(ec, errc::timeout) << ec.message();
  EXPECT_EQ(ec, std::errc::timed_out);
  EXPECT_GE(elapsed, bound);
  EXPECT_LT(elapsed, bound + slack);
}

TEST(Dial, ReachesAListenerThatAppearsLater) {
  temp_dir dir;
  asio::io_context ioc;
  const std::string address = dir.address("late/shim.sock");
  std::error_code dial_ec, accept_ec;
  run(ioc, [&]() -> asio::awaitable<void> {
    auto late_server = [&]() -> asio::awaitable<void> {
      co_await sleep_for(150ms);
      std::error_code ec;
      listener l = listener::listen(co_await asio::this_coro::executor, address, ec);
      EXPECT_FALSE(ec) << ec.message();
      accept_ec = co_await accept_one(l);
    };
    auto client = [&]() -> asio::awaitable<void> {
      stream s = co_await dial(address, steady_clock::now() + 5s, dial_ec);
      EXPECT_TRUE(dial_ec || s.is_open());
    };
    co_await (client() && late_server());
  }());
  EXPECT_FALSE(dial_ec) << dial_ec.message();
  EXPECT_FALSE(accept_ec) << accept_ec.message();
}

TEST(Dial, RetriesARefusingStaleSocketUntilTheDeadline) {
  temp_dir dir;
  make_stale_socket(dir.path("stale.sock"));
  asio::io_context ioc;
  const auto bound = 200ms;
  std::error_code ec;
  steady_clock::duration elapsed{};
  run(ioc, [&]() -> asio::awaitable<void> {
    const auto start = steady_clock::now();
    stream s = co_await dial(dir.address("stale.sock"), start + bound, ec);
    elapsed = steady_clock::now() - start;
  }());
  // Refused is retried, not returned at once.
  EXPECT_EQ(ec, errc::timeout) << ec.message();
  EXPECT_GE(elapsed, bound);
  EXPECT_LT(elapsed, bound + slack);
}

TEST(Dial, RetriesARefusingStaleSocketUntilAServerTakesOver) {
  temp_dir dir;
  const std::string address = dir.address("stale.sock");
  make_stale_socket(dir.path("stale.sock"));
  asio::io_context ioc;
  std::error_code dial_ec, accept_ec;
  run(ioc, [&]() -> asio::awaitable<void> {
    auto late_server = [&]() -> asio::awaitable<void> {
      co_await sleep_for(150ms);
      std::error_code ec;
      listener l = listener::listen(co_await asio::this_coro::executor, address, ec);
      EXPECT_FALSE(ec) << ec.message();
      accept_ec = co_await accept_one(l);
    };
    auto client = [&]() -> asio::awaitable<void> {
      stream s = co_await dial(address, steady_clock::now() + 5s, dial_ec);
    };
    co_await (client() && late_server());
  }());
  EXPECT_FALSE(dial_ec) << dial_ec.message();
  EXPECT_FALSE(accept_ec) << accept_ec.message();
}

TEST(Dial, CancellationIsTerminalAndPrompt) {
  temp_dir dir;
  asio::io_context ioc;
  std::error_code ec;
  steady_clock::duration elapsed{};
  run(ioc, [&]() -> asio::awaitable<void> {
    const auto start = steady_clock::now();
    // The timer wins the race; the dial gets terminal cancellation.
    co_await ([&]() -> asio::awaitable<void> {
      stream s = co_await dial(dir.address("missing.sock"), start + 30s, ec);
    }() || sleep_for(100ms));
    elapsed = steady_clock::now() - start;
  }());
  EXPECT_EQ(ec, std::errc::operation_canceled) << ec.message();
  EXPECT_LT(elapsed, slack);
}

TEST(Dial, EveryConcurrentDialIsAccepted) {
  temp_dir dir;
  asio::io_context ioc;
  const std::string address = dir.address("busy.sock");
  constexpr int count = 64;
  int dialled = 0;
  int accepted = 0;
  run(ioc, [&]() -> asio::awaitable<void> {
    std::error_code ec;
    listener l = listener::listen(co_await asio::this_coro::executor, address, ec);
    EXPECT_FALSE(ec) << ec.message();
    std::vector<stream> keep;  // connections stay open until every dial is done
    auto server = [&]() -> asio::awaitable<void> {
      for (int i = 0; i < count; ++i) {
        std::error_code accept_ec;
        keep.push_back(co_await l.accept(accept_ec));
        if (accept_ec) {
          ADD_FAILURE() << accept_ec.message();
          co_return;
        }
        ++accepted;
      }
    };
    auto client = [&]() -> asio::awaitable<void> {
      std::error_code dial_ec;
      keep.push_back(co_await dial(address, steady_clock::now() + 10s, dial_ec));
      EXPECT_FALSE(dial_ec) << dial_ec.message();
      dialled += dial_ec ? 0 : 1;
    };
    // All dials in flight at once.
    auto clients = [&]() -> asio::awaitable<void> {
      auto executor = co_await asio::this_coro::executor;
      using op = decltype(asio::co_spawn(executor, client(), asio::deferred));
      std::vector<op> ops;
      for (int i = 0; i < count; ++i) {
        ops.push_back(asio::co_spawn(executor, client(), asio::deferred));
      }
      co_await asio::experimental::make_parallel_group(std::move(ops))
          .async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
    };
    co_await (server() && clients());
  }());
  EXPECT_EQ(dialled, count);
  EXPECT_EQ(accepted, count);
}

// Both dial and listen refuse what containerd would treat as abstract or cannot bind.
struct bad_address {
  const char* name;
  std::string address;
  errc expected;
};

std::vector<bad_address> bad_addresses() {
  return {
      {"empty", "", errc::invalid_address},
      {"no_scheme", "/run/containerd/s/abc", errc::invalid_address},
      {"abstract", "unix://@containerd-shim", errc::invalid_address},
      {"abstract_nul", std::string("unix://\0shim", 11), errc::invalid_address},
      {"relative", "unix://run/s/abc", errc::invalid_address},
      {"scheme_only", "unix://", errc::invalid_address},
      {"other_scheme", "npipe:////./pipe/x", errc::invalid_address},
      {"pipe", "\\\\.\\pipe\\x", errc::invalid_address},
      {"nul_inside", std::string("unix:///tmp/a\0b", 15), errc::invalid_address},
      {"too_long", "unix:///" + std::string(sizeof(sockaddr_un::sun_path), 'a'),
       errc::path_too_long},
  };
}

void PrintTo(const bad_address& c, std::ostream* os) {
  *os << c.name;
}

class BadAddress : public testing::TestWithParam<bad_address> {};

TEST_P(BadAddress, DialFailsAtOnce) {
  asio::io_context ioc;
  std::error_code ec;
  steady_clock::duration elapsed{};
  run(ioc, [&]() -> asio::awaitable<void> {
    const auto start = steady_clock::now();
    stream s = co_await dial(GetParam().address, start + 30s, ec);
    elapsed = steady_clock::now() - start;
  }());
  EXPECT_EQ(ec, GetParam().expected) << ec.message();
  EXPECT_LT(elapsed, slack);
}

TEST_P(BadAddress, ListenFails) {
  asio::io_context ioc;
  std::error_code ec;
  listener l = listener::listen(ioc.get_executor(), GetParam().address, ec);
  EXPECT_EQ(ec, GetParam().expected) << ec.message();
  EXPECT_FALSE(l.is_open());
}

INSTANTIATE_TEST_SUITE_P(Table, BadAddress, testing::ValuesIn(bad_addresses()),
                         [](const auto& test) { return std::string(test.param.name); });

TEST(Listen, LongestPathThatFitsWorks) {
  temp_dir dir;
  std::string path = dir.path("");
  path.append(sizeof(sockaddr_un::sun_path) - 1 - path.size(), 'p');
  asio::io_context ioc;
  std::error_code ec;
  listener l = listener::listen(ioc.get_executor(), "unix://" + path, ec);
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_TRUE(exists(path));
  listener too_long = listener::listen(ioc.get_executor(), "unix://" + path + "q", ec);
  EXPECT_EQ(ec, errc::path_too_long);
}

// The modes must not depend on the caller's umask.
class ListenModes : public testing::TestWithParam<mode_t> {};

TEST_P(ListenModes, DirectoriesAre0700AndSocketIs0600) {
  temp_dir dir;
  asio::io_context ioc;
  const mode_t old_mask = ::umask(GetParam());
  std::error_code ec;
  listener l = listener::listen(ioc.get_executor(), dir.address("a/b/s.sock"), ec);
  ::umask(old_mask);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(mode_of(dir.path("a")), 0700u);
  EXPECT_EQ(mode_of(dir.path("a/b")), 0700u);
  struct stat sb {};
  ASSERT_EQ(::lstat(dir.path("a/b/s.sock").c_str(), &sb), 0);
  EXPECT_TRUE(S_ISSOCK(sb.st_mode));
  EXPECT_EQ(sb.st_mode & 07777, 0600u);
}

INSTANTIATE_TEST_SUITE_P(Umask, ListenModes, testing::Values(0000, 0022, 0777));

TEST(Listen, LeavesAnExistingDirectoryAlone) {
  temp_dir dir;
  ASSERT_EQ(::mkdir(dir.path("shared").c_str(), 0755), 0);
  ASSERT_EQ(::chmod(dir.path("shared").c_str(), 0755), 0);
  asio::io_context ioc;
  std::error_code ec;
  listener l = listener::listen(ioc.get_executor(), dir.address("shared/s.sock"), ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(mode_of(dir.path("shared")), 0755u);
}

TEST(Listen, ReplacesAStaleSocketFile) {
  temp_dir dir;
  const std::string path = dir.path("s.sock");
  make_stale_socket(path);
  asio::io_context ioc;
  std::error_code ec;
  listener l = listener::listen(ioc.get_executor(), "unix://" + path, ec);
  ASSERT_FALSE(ec) << ec.message();
  // (The inode number may be reused for the new file: only a connection proves the change.)
  std::error_code dial_ec, accept_ec;
  run(ioc, [&]() -> asio::awaitable<void> {
    auto client = [&]() -> asio::awaitable<void> {
      stream s = co_await dial("unix://" + path, steady_clock::now() + 5s, dial_ec);
    };
    auto server = [&]() -> asio::awaitable<void> { accept_ec = co_await accept_one(l); };
    co_await (client() && server());
  }());
  EXPECT_FALSE(dial_ec) << dial_ec.message();
  EXPECT_FALSE(accept_ec) << accept_ec.message();
}

TEST(Listen, NeverDeletesAFileThatIsNotASocket) {
  temp_dir dir;
  const std::string path = dir.path("config.json");
  ASSERT_EQ(::close(::open(path.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600)), 0);
  asio::io_context ioc;
  std::error_code ec;
  listener l = listener::listen(ioc.get_executor(), "unix://" + path, ec);
  EXPECT_EQ(ec, std::errc::file_exists) << ec.message();
  EXPECT_FALSE(l.is_open());
  struct stat sb {};
  ASSERT_EQ(::lstat(path.c_str(), &sb), 0);
  EXPECT_TRUE(S_ISREG(sb.st_mode));
}

TEST(Listen, SecondListenerOnALiveAddressFails) {
  temp_dir dir;
  const std::string address = dir.address("s.sock");
  asio::io_context ioc;
  std::error_code ec;
  listener first = listener::listen(ioc.get_executor(), address, ec);
  ASSERT_FALSE(ec) << ec.message();
  const ino_t ino = inode_of(dir.path("s.sock"));
  {
    listener second = listener::listen(ioc.get_executor(), address, ec);
    EXPECT_EQ(ec, errc::address_in_use) << ec.message();
    EXPECT_EQ(ec, std::errc::address_in_use);
    EXPECT_FALSE(second.is_open());
  }
  // The failed second listener touched nothing: the first still owns the file and serves.
  EXPECT_EQ(inode_of(dir.path("s.sock")), ino);
  std::error_code dial_ec, accept_ec;
  run(ioc, [&]() -> asio::awaitable<void> {
    auto client = [&]() -> asio::awaitable<void> {
      stream s = co_await dial(address, steady_clock::now() + 5s, dial_ec);
    };
    auto server = [&]() -> asio::awaitable<void> { accept_ec = co_await accept_one(first); };
    co_await (client() && server());
  }());
  EXPECT_FALSE(dial_ec) << dial_ec.message();
  EXPECT_FALSE(accept_ec) << accept_ec.message();
}

TEST(Listen, CloseEndsAPendingAcceptAndRemovesTheFile) {
  temp_dir dir;
  const std::string path = dir.path("s.sock");
  asio::io_context ioc;
  std::error_code ec;
  listener l = listener::listen(ioc.get_executor(), "unix://" + path, ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_TRUE(l.is_open());
  EXPECT_EQ(l.address(), "unix://" + path);
  std::error_code accept_ec;
  run(ioc, [&]() -> asio::awaitable<void> {
    auto server = [&]() -> asio::awaitable<void> { accept_ec = co_await accept_one(l); };
    auto closer = [&]() -> asio::awaitable<void> {
      co_await sleep_for(50ms);
      l.close();
    };
    co_await (server() && closer());
  }());
  EXPECT_EQ(accept_ec, std::errc::operation_canceled) << accept_ec.message();
  EXPECT_FALSE(l.is_open());
  EXPECT_FALSE(exists(path));
  l.close();  // idempotent
  EXPECT_FALSE(l.is_open());
  std::error_code again;
  run(ioc, [&]() -> asio::awaitable<void> { again = co_await accept_one(l); }());
  EXPECT_EQ(again, std::errc::operation_canceled);
}

TEST(Listen, DestroyingTheListenerEndsAPendingAccept) {
  temp_dir dir;
  const std::string path = dir.path("s.sock");
  asio::io_context ioc;
  std::error_code accept_ec;
  run(ioc, [&]() -> asio::awaitable<void> {
    std::error_code ec;
    auto l = std::make_unique<listener>(
        listener::listen(co_await asio::this_coro::executor, "unix://" + path, ec));
    EXPECT_FALSE(ec) << ec.message();
    auto server = [&]() -> asio::awaitable<void> { accept_ec = co_await accept_one(*l); };
    auto destroyer = [&]() -> asio::awaitable<void> {
      co_await sleep_for(50ms);
      l.reset();
    };
    co_await (server() && destroyer());
  }());
  EXPECT_EQ(accept_ec, std::errc::operation_canceled) << accept_ec.message();
  EXPECT_FALSE(exists(path));
}

TEST(Listen, CloseLeavesASuccessorsSocketAlone) {
  temp_dir dir;
  const std::string address = dir.address("s.sock");
  const std::string path = dir.path("s.sock");
  asio::io_context ioc;
  std::error_code ec;
  listener old = listener::listen(ioc.get_executor(), address, ec);
  ASSERT_FALSE(ec) << ec.message();
  // Somebody removed our file and a new server took the path.
  ASSERT_EQ(::unlink(path.c_str()), 0);
  listener successor = listener::listen(ioc.get_executor(), address, ec);
  ASSERT_FALSE(ec) << ec.message();
  const ino_t ino = inode_of(path);
  old.close();
  EXPECT_EQ(inode_of(path), ino);
  EXPECT_TRUE(successor.is_open());
}

TEST(Listen, MovedListenerKeepsServing) {
  temp_dir dir;
  const std::string address = dir.address("s.sock");
  asio::io_context ioc;
  std::error_code ec;
  listener moved = listener::listen(ioc.get_executor(), address, ec);
  ASSERT_FALSE(ec) << ec.message();
  listener l = std::move(moved);
  EXPECT_TRUE(l.is_open());
  std::error_code dial_ec, accept_ec;
  run(ioc, [&]() -> asio::awaitable<void> {
    auto client = [&]() -> asio::awaitable<void> {
      stream s = co_await dial(address, steady_clock::now() + 5s, dial_ec);
    };
    auto server = [&]() -> asio::awaitable<void> { accept_ec = co_await accept_one(l); };
    co_await (client() && server());
  }());
  EXPECT_FALSE(dial_ec) << dial_ec.message();
  EXPECT_FALSE(accept_ec) << accept_ec.message();
  // Assigning over an open listener closes it.
  l = listener::listen(ioc.get_executor(), dir.address("other.sock"), ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_FALSE(exists(dir.path("s.sock")));
}

// Every socket fd in the process: the listener's, the dialled and the accepted one.
std::vector<int> socket_fds() {
  std::vector<int> fds;
  DIR* d = ::opendir("/proc/self/fd");
  if (d == nullptr) {
    return fds;
  }
  while (dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name == "." || name == "..") {
      continue;
    }
    char target[256] = {};
    const std::string link = "/proc/self/fd/" + name;
    if (::readlink(link.c_str(), target, sizeof(target) - 1) > 0 &&
        std::string_view(target).starts_with("socket:")) {
      fds.push_back(std::stoi(name));
    }
  }
  ::closedir(d);
  return fds;
}

TEST(Sockets, EveryFdIsCloseOnExec) {
  temp_dir dir;
  const std::string address = dir.address("s.sock");
  asio::io_context ioc;
  std::error_code ec;
  listener l = listener::listen(ioc.get_executor(), address, ec);
  ASSERT_FALSE(ec) << ec.message();
  std::vector<std::pair<int, int>> fd_flags;  // taken while all three sockets are open
  run(ioc, [&]() -> asio::awaitable<void> {
    std::error_code dial_ec, accept_ec;
    auto client = [&]() -> asio::awaitable<stream> {
      co_return co_await dial(address, steady_clock::now() + 5s, dial_ec);
    };
    auto server = [&]() -> asio::awaitable<stream> { co_return co_await l.accept(accept_ec); };
    auto [a, b] = co_await (client() && server());
    EXPECT_FALSE(dial_ec);
    EXPECT_FALSE(accept_ec);
    for (int fd : socket_fds()) {
      fd_flags.emplace_back(fd, ::fcntl(fd, F_GETFD));
    }
  }());
  ASSERT_GE(fd_flags.size(), 3u);
  for (auto [fd, flags] : fd_flags) {
    EXPECT_NE(flags & FD_CLOEXEC, 0) << "fd " << fd;
  }
}

// Waits for a child, bounded; kills it if it overstays.
int wait_child(pid_t pid) {
  int status = 0;
  for (int i = 0; i < 1000; ++i) {
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    ::usleep(10'000);
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  return -1;
}

constexpr uid_t nobody = 65534;

// A child that takes another uid or gid, connects, tells us, and reports 0 when the server hangs
// up on it without a word. Only async-signal-safe calls after fork.
pid_t connect_as(const std::string& path, bool change_uid, bool change_gid, int ready_fd) {
  const pid_t pid = ::fork();
  if (pid != 0) {
    return pid;
  }
  ::alarm(10);
  if ((change_gid && ::setgid(nobody) != 0) || (change_uid && ::setuid(nobody) != 0)) {
    ::_exit(10);
  }
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  path.copy(sa.sun_path, sizeof(sa.sun_path) - 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
    ::_exit(11);
  }
  char byte = 'c';
  if (::write(ready_fd, &byte, 1) != 1) {
    ::_exit(12);
  }
  const ssize_t n = ::read(fd, &byte, 1);
  ::_exit(n == 0 ? 0 : 13);
}

struct peer_case {
  const char* name;
  bool change_uid;
  bool change_gid;
};

void PrintTo(const peer_case& c, std::ostream* os) {
  *os << c.name;
}

class PeerCredentials : public testing::TestWithParam<peer_case> {};

TEST_P(PeerCredentials, AnotherUserIsRefusedAndTheNextPeerIsAccepted) {
  if (::geteuid() != 0) {
    GTEST_SKIP() << "needs root to connect as another uid/gid (CI runs as root)";
  }
  temp_dir dir;
  const std::string path = dir.path("d/s.sock");
  asio::io_context ioc;
  std::error_code ec;
  listener l = listener::listen(ioc.get_executor(), "unix://" + path, ec);
  ASSERT_FALSE(ec) << ec.message();
  // Open the file modes so that only the peer-credential check stands in the way.
  ASSERT_EQ(::chmod(dir.path("").c_str(), 0755), 0);
  ASSERT_EQ(::chmod(dir.path("d").c_str(), 0755), 0);
  ASSERT_EQ(::chmod(path.c_str(), 0666), 0);

  int ready[2];
  ASSERT_EQ(::pipe2(ready, O_CLOEXEC), 0);
  const pid_t child = connect_as(path, GetParam().change_uid, GetParam().change_gid, ready[1]);
  ASSERT_GT(child, 0);
  ::close(ready[1]);
  pollfd pfd{ready[0], POLLIN, 0};
  ASSERT_EQ(::poll(&pfd, 1, 10'000), 1) << "the child never connected";
  ::close(ready[0]);

  // The refused peer is first in the backlog; accept must skip it and return ours.
  std::error_code dial_ec, accept_ec;
  ucred peer{};
  run(ioc, [&]() -> asio::awaitable<void> {
    auto client = [&]() -> asio::awaitable<stream> {
      co_return co_await dial("unix://" + path, steady_clock::now() + 5s, dial_ec);
    };
    auto server = [&]() -> asio::awaitable<stream> { co_return co_await l.accept(accept_ec); };
    auto [a, b] = co_await (client() && server());
    socklen_t len = sizeof(peer);
    EXPECT_EQ(::getsockopt(b.native_handle(), SOL_SOCKET, SO_PEERCRED, &peer, &len), 0);
  }());
  EXPECT_FALSE(dial_ec) << dial_ec.message();
  EXPECT_FALSE(accept_ec) << accept_ec.message();
  EXPECT_EQ(peer.uid, 0u);
  EXPECT_EQ(peer.gid, 0u);
  EXPECT_EQ(wait_child(child), 0) << "the refused peer was not hung up on";
}

INSTANTIATE_TEST_SUITE_P(Rule, PeerCredentials,
                         testing::Values(peer_case{"other_uid", true, false},
                                         peer_case{"other_gid", false, true},
                                         peer_case{"other_uid_and_gid", true, true}),
                         [](const auto& test) { return std::string(test.param.name); });

TEST(Dial, AccessDeniedIsReported) {
  if (::geteuid() != 0) {
    GTEST_SKIP() << "needs root to dial as another uid (CI runs as root)";
  }
  temp_dir dir;
  const std::string path = dir.path("s.sock");
  asio::io_context ioc;
  std::error_code ec;
  listener l = listener::listen(ioc.get_executor(), "unix://" + path, ec);
  ASSERT_FALSE(ec) << ec.message();
  ASSERT_EQ(::chmod(dir.path("").c_str(), 0755), 0);  // the 0600 socket itself is the barrier
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // A child with a fresh io_context: 0 means "access_denied, at once".
    ::alarm(10);
    if (::setgid(nobody) != 0 || ::setuid(nobody) != 0) {
      ::_exit(10);
    }
    asio::io_context child_ioc;
    std::error_code dial_ec;
    steady_clock::duration elapsed{};
    asio::co_spawn(
        child_ioc,
        [&]() -> asio::awaitable<void> {
          const auto start = steady_clock::now();
          stream s = co_await dial("unix://" + path, start + 30s, dial_ec);
          elapsed = steady_clock::now() - start;
        },
        [](std::exception_ptr) {});
    child_ioc.run_for(20s);
    ::_exit(dial_ec == errc::access_denied && elapsed < slack ? 0 : 1);
  }
  EXPECT_EQ(wait_child(pid), 0) << "dial as another user was not refused with access_denied";
}

}  // namespace
