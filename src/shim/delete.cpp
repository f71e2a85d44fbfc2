// delete: everything a dead shim can leave behind is found through its bundle: panic.log, the
// task record (pids with start times), and the address file naming its socket.
#include "shim/delete.hpp"

#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <fmt/format.h>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <thread>

#include "backend/reaper.hpp"
#include "common/deadline.hpp"
#include "containerd/task/v2/shim.pb.h"
#include "service/task_record.hpp"
#include "shim/console.hpp"

namespace runhcs::shim {
namespace {

// Exit status reported when the real one is unknown (runhcs).
constexpr std::uint32_t unknown_exit_status = 255;

std::string read_head(const std::filesystem::path& path, std::size_t limit) {
  std::ifstream in(path, std::ios::binary);
  std::string out(limit, '\0');
  in.read(out.data(), static_cast<std::streamsize>(limit));
  out.resize(static_cast<std::size_t>(in.gcount()));
  return out;
}

// True when pid is still the process that was recorded (same kernel start time).
bool still_ours(const service::recorded_process& p) {
  auto start = backend::process_start_time(p.pid);
  return start && p.start_time != 0 && *start == p.start_time;
}

// Removes the shim's socket file when nobody accepts on it any more; a live listener (a pod
// shim still serving other tasks) keeps it.
void remove_dead_socket(const std::filesystem::path& bundle, std::string& warnings) {
  std::string address = read_head(bundle / "address", 4096);
  constexpr std::string_view scheme = "unix://";
  if (address.rfind(scheme, 0) != 0) {
    return;
  }
  std::string path = address.substr(scheme.size());
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode)) {
    return;
  }
  sockaddr_un sa{};
  if (path.size() >= sizeof sa.sun_path) {
    return;
  }
  sa.sun_family = AF_UNIX;
  std::memcpy(sa.sun_path, path.c_str(), path.size());
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    return;
  }
  int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  int err = errno;
  ::close(fd);
  if (rc != 0 && err == ECONNREFUSED) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      warnings += fmt::format("remove {}: {}\n", path, std::strerror(errno));
    }
  }
}

}  // namespace

result<delete_outcome> delete_task(const std::filesystem::path& bundle, duration timeout) {
  if (bundle.empty()) {
    return error{errc::invalid_argument, "bundle is required"};
  }
  auto until = steady_clock::now() + timeout;
  delete_outcome out;
  ::containerd::task::v2::DeleteResponse response;
  response.set_exit_status(unknown_exit_status);
  std::error_code ec;
  if (std::filesystem::is_directory(bundle, ec)) {
    std::string panic = read_head(bundle / "panic.log", max_panic_log_report);
    if (!panic.empty()) {
      out.warnings += "panic.log: " + panic;
      if (out.warnings.back() != '\n') {
        out.warnings += '\n';
      }
    }
    if (auto record = service::read_task_record(bundle)) {
      response.set_pid(static_cast<std::uint32_t>(record->init.pid));
      if (record->exit_status) {
        response.set_exit_status(*record->exit_status);
      }
      std::vector<service::recorded_process> all = record->execs;
      all.insert(all.begin(), record->init);
      std::vector<int> killed;
      for (const auto& p : all) {
        if (still_ours(p)) {
          backend::signal_tree(p.pid, SIGKILL);
          killed.push_back(p.pid);
        }
      }
      // Their parent is gone, so init (or a subreaper) reaps them; wait until it has.
      while (!killed.empty() && steady_clock::now() < until) {
        std::erase_if(killed, [](int pid) { return !backend::process_start_time(pid); });
        if (!killed.empty()) {
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
      }
      for (int pid : killed) {
        out.warnings +=
            fmt::format("process {} did not exit within {}\n", pid, format_duration(timeout));
      }
      service::remove_task_record(bundle);
    }
    remove_dead_socket(bundle, out.warnings);
  }
  auto now = std::chrono::system_clock::now().time_since_epoch();
  auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(now).count();
  response.mutable_exited_at()->set_seconds(nanos / 1'000'000'000);
  response.mutable_exited_at()->set_nanos(static_cast<int>(nanos % 1'000'000'000));
  out.response = response.SerializeAsString();
  return out;
}

int run_delete(const global_options& flags) {
  auto config = settings_from_environment();
  if (!config) {
    return report_failure(config.error());
  }
  auto outcome = delete_task(flags.bundle, config->delete_timeout);
  if (!outcome) {
    return report_failure(outcome.error());
  }
  if (!outcome->warnings.empty()) {
    write_all(2, outcome->warnings);
  }
  return write_all(1, outcome->response) ? 0 : 1;
}

}  // namespace runhcs::shim
