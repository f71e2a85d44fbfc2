// The process-wide SIGCHLD reaper and the /proc walks behind Kill(all) and Pids.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/signal_set.hpp>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>

#include "backend/reaper.hpp"

namespace runhcs::backend {
namespace {

// Exits nobody registered yet are kept this long (in entries) for a late expect().
constexpr std::size_t max_unclaimed = 4096;

class posix_reaper final : public reaper, public std::enable_shared_from_this<posix_reaper> {
 public:
  explicit posix_reaper(const boost::asio::any_io_executor& executor)
      : executor_(executor), signals_(executor, SIGCHLD) {}

  void arm() {
    signals_.async_wait([weak = weak_from_this()](boost::system::error_code ec, int) {
      auto self = weak.lock();
      if (!self || ec) {
        return;
      }
      self->reap_now();
      self->arm();
    });
  }

  void expect(int pid, std::function<void(int)> callback) override {
    std::unique_lock lock(mutex_);
    if (auto it = unclaimed_.find(pid); it != unclaimed_.end()) {
      int status = it->second;
      unclaimed_.erase(it);
      lock.unlock();
      callback(status);
      return;
    }
    expected_[pid] = std::move(callback);
  }

  void reap_now() override {
    for (;;) {
      int status = 0;
      pid_t pid = ::waitpid(-1, &status, WNOHANG);
      if (pid <= 0) {
        if (pid < 0 && errno == EINTR) {
          continue;
        }
        return;
      }
      std::function<void(int)> callback;
      {
        std::lock_guard lock(mutex_);
        if (auto it = expected_.find(pid); it != expected_.end()) {
          callback = std::move(it->second);
          expected_.erase(it);
        } else {
          // Most are orphans of tasks; a few are children registered a moment from now.
          if (unclaimed_.size() >= max_unclaimed) {
            unclaimed_.erase(unclaimed_.begin());
          }
          unclaimed_[pid] = status;
        }
      }
      if (callback) {
        callback(status);
      }
    }
  }

 private:
  boost::asio::any_io_executor executor_;
  boost::asio::signal_set signals_;
  std::mutex mutex_;
  std::unordered_map<int, std::function<void(int)>> expected_;
  std::map<int, int> unclaimed_;
};

struct stat_line {
  int pid = 0;
  int ppid = 0;
  int pgrp = 0;
  std::uint64_t start_time = 0;
};

// Parses /proc/<pid>/stat; comm (field 2) may hold spaces and parentheses, so fields are
// counted from the last ')'.
std::optional<stat_line> read_stat(int pid) {
  std::string path = "/proc/" + std::to_string(pid) + "/stat";
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return std::nullopt;
  }
  char buffer[1024];
  ssize_t n = ::read(fd, buffer, sizeof buffer - 1);
  ::close(fd);
  if (n <= 0) {
    return std::nullopt;
  }
  std::string_view text(buffer, static_cast<std::size_t>(n));
  auto close_paren = text.rfind(')');
  if (close_paren == std::string_view::npos) {
    return std::nullopt;
  }
  // After ") ": field 3 state, 4 ppid, 5 pgrp, ... 22 starttime.
  std::string_view rest = text.substr(close_paren + 1);
  stat_line out;
  out.pid = pid;
  int field = 2;
  std::size_t pos = 0;
  while (pos < rest.size() && field < 22) {
    while (pos < rest.size() && rest[pos] == ' ') {
      ++pos;
    }
    std::size_t end = rest.find(' ', pos);
    if (end == std::string_view::npos) {
      end = rest.size();
    }
    ++field;
    std::string_view token = rest.substr(pos, end - pos);
    auto parse = [&](auto& target) {
      std::from_chars(token.data(), token.data() + token.size(), target);
    };
    if (field == 4) {
      parse(out.ppid);
    } else if (field == 5) {
      parse(out.pgrp);
    } else if (field == 22) {
      parse(out.start_time);
    }
    pos = end;
  }
  if (field < 22) {
    return std::nullopt;
  }
  return out;
}

std::vector<stat_line> all_processes() {
  std::vector<stat_line> out;
  std::error_code ec;
  for (std::filesystem::directory_iterator it("/proc", ec), end; !ec && it != end;
       it.increment(ec)) {
    const auto name = it->path().filename().string();
    int pid = 0;
    auto [ptr, err] = std::from_chars(name.data(), name.data() + name.size(), pid);
    if (err != std::errc{} || ptr != name.data() + name.size()) {
      continue;
    }
    if (auto line = read_stat(pid)) {
      out.push_back(*line);
    }
  }
  return out;
}

}  // namespace

result<void> become_subreaper() {
  if (::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) {
    return make_error(std::error_code(errno, std::system_category()),
                      std::string("prctl(PR_SET_CHILD_SUBREAPER): ") + std::strerror(errno));
  }
  return {};
}

std::shared_ptr<reaper> reaper::instance(const boost::asio::any_io_executor& executor) {
  // Held by its users (backends, publishers): when the last one goes, the next user may bring
  // another executor (tests run one io_context per test).
  static std::mutex mutex;
  static std::weak_ptr<posix_reaper> current;
  std::lock_guard lock(mutex);
  auto the_reaper = current.lock();
  if (!the_reaper) {
    the_reaper = std::make_shared<posix_reaper>(executor);
    the_reaper->arm();
    current = the_reaper;
  }
  return the_reaper;
}

std::optional<std::uint64_t> process_start_time(int pid) {
  if (auto line = read_stat(pid)) {
    return line->start_time;
  }
  return std::nullopt;
}

std::vector<int> process_tree(int pid) {
  auto processes = all_processes();
  std::set<int> members;
  for (const auto& p : processes) {
    if (p.pid == pid || p.pgrp == pid) {
      members.insert(p.pid);
    }
  }
  // Descendants that left the group: grow the set until no new child joins.
  for (bool grew = true; grew;) {
    grew = false;
    for (const auto& p : processes) {
      if (!members.contains(p.pid) && members.contains(p.ppid) && p.ppid != 0) {
        members.insert(p.pid);
        grew = true;
      }
    }
  }
  std::vector<int> out;
  if (members.erase(pid) != 0) {
    out.push_back(pid);
  }
  out.insert(out.end(), members.begin(), members.end());
  return out;
}

std::size_t signal_tree(int pid, int sig) {
  // The tree first: once the group is signalled, the members' children are re-parented and
  // parentage no longer leads to them.
  auto members = process_tree(pid);
  std::size_t count = 0;
  if (::kill(-pid, sig) == 0) {
    ++count;
  }
  for (int member : members) {
    if (member != ::getpid() && ::kill(member, sig) == 0) {
      ++count;
    }
  }
  return count;
}

}  // namespace runhcs::backend
