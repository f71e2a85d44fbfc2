// What the serving shim leaves in each task's bundle for `delete`, which runs after the shim
// died: the pids it started (with their kernel start times, so that delete kills only
// processes that are still ours) and the init's exit status once known.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <vector>

#include "common/result.hpp"

namespace runhcs::service {

inline constexpr std::string_view task_record_file = "runhcs-task";

struct recorded_process {
  int pid = 0;
  std::uint64_t start_time = 0;  // 0 when unknown
};

struct task_record {
  recorded_process init;
  std::vector<recorded_process> execs;
  std::optional<std::uint32_t> exit_status;  // the init's, once it exited
};

// Writes <bundle>/runhcs-task atomically (temp file, rename).
result<void> write_task_record(const std::filesystem::path& bundle, const task_record& record);

// nullopt when the file is missing or malformed.
std::optional<task_record> read_task_record(const std::filesystem::path& bundle);

void remove_task_record(const std::filesystem::path& bundle) noexcept;

}  // namespace runhcs::service
