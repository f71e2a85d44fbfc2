// Process plumbing for the start tests: posix_spawn, two pipes, a poll loop with a limit.
#include "shim_runner.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <stdexcept>

extern char** environ;

namespace runhcs::test {
namespace fs = std::filesystem;

fs::path shim_binary() {
  return RUNHCS_SHIM_BINARY;
}

namespace {

run_result run_binary(const std::string& binary, const run_options& options) {
  int out_pipe[2], err_pipe[2], in_pipe[2] = {-1, -1};
  if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe");
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (options.stdin_held_open) {
    if (::pipe2(in_pipe, O_CLOEXEC) != 0) {
      throw std::runtime_error("pipe");
    }
    posix_spawn_file_actions_adddup2(&actions, in_pipe[0], 0);
  } else {
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  }
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  posix_spawn_file_actions_addchdir_np(&actions, options.cwd.c_str());

  std::vector<std::string> env_storage;
  for (char** e = environ; *e != nullptr; ++e) {
    env_storage.emplace_back(*e);
  }
  for (const auto& [key, value] : options.env) {
    env_storage.push_back(key + "=" + value);
  }
  std::vector<char*> envp;
  for (auto& e : env_storage) {
    envp.push_back(e.data());
  }
  envp.push_back(nullptr);
  std::vector<std::string> arg_storage{binary};
  arg_storage.insert(arg_storage.end(), options.args.begin(), options.args.end());
  std::vector<char*> argv;
  for (auto& a : arg_storage) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);

  auto began = std::chrono::steady_clock::now();
  pid_t pid = 0;
  int spawned = posix_spawn(&pid, binary.c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (in_pipe[0] >= 0) {
    ::close(in_pipe[0]);
  }
  if (spawned != 0) {
    throw std::runtime_error(std::string("spawn: ") + std::strerror(spawned));
  }

  run_result result;
  bool signalled = false;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  int open_pipes = 2;
  int status = 0;
  bool exited = false;
  while (open_pipes > 0 || !exited) {
    auto now = std::chrono::steady_clock::now();
    auto spent = std::chrono::duration_cast<std::chrono::milliseconds>(now - began);
    if (spent > options.limit) {
      result.hit_limit = true;
      ::kill(pid, SIGKILL);
      break;
    }
    if (options.sigterm_after && !signalled && spent >= *options.sigterm_after) {
      ::kill(pid, SIGTERM);
      signalled = true;
    }
    ::poll(fds, 2, 5);
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) {
        continue;
      }
      char buffer[4096];
      ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
      if (n > 0) {
        (i == 0 ? result.out : result.err).append(buffer, static_cast<std::size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_pipes;
      }
    }
    if (!exited && ::waitpid(pid, &status, WNOHANG) == pid) {
      exited = true;
    }
  }
  result.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - began);
  for (auto& f : fds) {
    if (f.fd >= 0) {
      ::close(f.fd);
    }
  }
  if (!exited) {
    ::waitpid(pid, &status, 0);
  }
  if (in_pipe[1] >= 0) {
    ::close(in_pipe[1]);
  }
  if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.signal = WTERMSIG(status);
  }
  return result;
}

}  // namespace

run_result run_shim(const run_options& options) {
  return run_binary(shim_binary().string(), options);
}

run_result run_shell(const run_options& options) {
  return run_binary("/bin/sh", options);
}

std::vector<int> processes_mentioning(const std::string& needle) {
  std::vector<int> pids;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) {
      continue;
    }
    std::ifstream in(entry.path() / "cmdline", std::ios::binary);
    std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::ifstream stat_in(entry.path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(stat_in)), std::istreambuf_iterator<char>());
    bool zombie = stat.find(") Z ") != std::string::npos;
    if (!zombie && cmdline.find(needle) != std::string::npos) {
      pids.push_back(std::stoi(name));
    }
  }
  return pids;
}

temp_dir::temp_dir() {
  std::string pattern = (fs::temp_directory_path() / "runhcs-test-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error("mkdtemp");
  }
  path_ = pattern;
}

temp_dir::~temp_dir() {
  std::error_code ec;
  fs::permissions(path_, fs::perms::owner_all, fs::perm_options::add, ec);
  fs::remove_all(path_, ec);
}

void write_config(const fs::path& dir,
                  const std::vector<std::pair<std::string, std::string>>& annotations) {
  fs::create_directories(dir);
  std::ofstream out(dir / "config.json");
  out << R"({"ociVersion":"1.0.2","process":{"args":["/bin/sh"],"cwd":"/"},"root":{"path":"rootfs"})";
  if (!annotations.empty()) {
    out << R"(,"annotations":{)";
    bool first = true;
    for (const auto& [key, value] : annotations) {
      out << (first ? "" : ",") << '"' << key << "\":\"" << value << '"';
      first = false;
    }
    out << "}";
  }
  out << "}";
}

}  // namespace runhcs::test
