// The part of an OCI runtime spec a backend needs to run a process: config.json's `process` and
// `root`, and an exec's process spec (the JSON containerd puts in ExecProcessRequest.spec).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace runhcs::backend {

struct rlimit_spec {
  std::string type;  // "RLIMIT_NOFILE", ...
  std::uint64_t soft = 0;
  std::uint64_t hard = 0;
};

struct process_spec {
  std::vector<std::string> args;
  std::vector<std::string> env;  // "K=V"
  std::string cwd = "/";
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::vector<std::uint32_t> additional_gids;
  std::vector<rlimit_spec> rlimits;
  bool terminal = false;
  unsigned console_width = 0;
  unsigned console_height = 0;
};

struct runtime_spec {
  process_spec process;
  std::string root_path;  // as written: may be relative to the bundle
};

// Largest config.json or exec spec accepted; bigger ones are refused, not read.
inline constexpr std::size_t max_spec_size = 16 * 1024 * 1024;

// Decodes an OCI Process object (an exec's spec). Errors: errc::invalid_spec naming the field.
result<process_spec> parse_process_spec(std::string_view json);

// Decodes config.json's process and root. Errors: errc::invalid_spec.
result<runtime_spec> parse_runtime_spec(std::string_view json);

// Reads and decodes <bundle>/config.json, bounded by max_spec_size.
result<runtime_spec> read_runtime_spec(const std::filesystem::path& bundle);

}  // namespace runhcs::backend
