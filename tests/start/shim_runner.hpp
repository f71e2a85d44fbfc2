// Runs the real shim binary the way containerd does (argv, cwd = bundle, environment, stdin)
// and captures stdout and stderr apart, so tests can assert that success prints only the
// address and failure one clear line.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace runhcs::test {

struct run_options {
  std::filesystem::path cwd;
  std::vector<std::string> args;                         // argv[1...]
  std::vector<std::pair<std::string, std::string>> env;  // added to ours
  bool stdin_held_open = false;  // stdin a pipe we never close (else /dev/null)
  std::optional<std::chrono::milliseconds> sigterm_after;      // signal the process then
  std::chrono::milliseconds limit = std::chrono::seconds(30);  // killed past this
};

struct run_result {
  int exit_code = -1;  // -1 when killed by a signal
  int signal = 0;
  bool hit_limit = false;
  std::string out;
  std::string err;
  std::chrono::milliseconds elapsed{};  // until stdout and stderr closed and it exited
};

std::filesystem::path shim_binary();

run_result run_shim(const run_options& options);

// The same runner for /bin/sh with options.args (a peer's command line, say).
run_result run_shell(const run_options& options);

// Pids of live processes whose command line contains needle (e.g. a test's temp dir).
std::vector<int> processes_mentioning(const std::string& needle);

// A fresh directory under the system temp dir, removed by the destructor.
class temp_dir {
 public:
  temp_dir();
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Writes a config.json with the given annotations (none when empty) into dir.
void write_config(const std::filesystem::path& dir,
                  const std::vector<std::pair<std::string, std::string>>& annotations);

}  // namespace runhcs::test
