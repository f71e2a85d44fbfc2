// The task record's text form: "init <pid> <start>", "exec <pid> <start>", "exit <status>".
#include "service/task_record.hpp"

#include <fmt/format.h>

#include <fstream>
#include <sstream>

namespace runhcs::service {

result<void> write_task_record(const std::filesystem::path& bundle, const task_record& record) {
  std::string text = fmt::format("init {} {}\n", record.init.pid, record.init.start_time);
  for (const auto& e : record.execs) {
    text += fmt::format("exec {} {}\n", e.pid, e.start_time);
  }
  if (record.exit_status) {
    text += fmt::format("exit {}\n", *record.exit_status);
  }
  auto path = bundle / task_record_file;
  auto temp = bundle / (std::string(task_record_file) + ".tmp");
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out.flush()) {
      std::error_code ignored;
      std::filesystem::remove(temp, ignored);
      return make_error(std::make_error_code(std::errc::io_error),
                        fmt::format("write {}", temp.string()));
    }
  }
  std::error_code ec;
  std::filesystem::rename(temp, path, ec);
  if (ec) {
    std::filesystem::remove(temp, ec);
    return make_error(ec, fmt::format("rename {}: {}", path.string(), ec.message()));
  }
  return {};
}

std::optional<task_record> read_task_record(const std::filesystem::path& bundle) {
  std::ifstream in(bundle / task_record_file);
  if (!in) {
    return std::nullopt;
  }
  task_record record;
  bool has_init = false;
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    std::string kind;
    fields >> kind;
    if (kind == "init" || kind == "exec") {
      recorded_process p;
      if (!(fields >> p.pid >> p.start_time) || p.pid <= 0) {
        return std::nullopt;
      }
      if (kind == "init") {
        record.init = p;
        has_init = true;
      } else {
        record.execs.push_back(p);
      }
    } else if (kind == "exit") {
      std::uint32_t status = 0;
      if (fields >> status) {
        record.exit_status = status;
      }
    }
  }
  if (!has_init) {
    return std::nullopt;
  }
  return record;
}

void remove_task_record(const std::filesystem::path& bundle) noexcept {
  std::error_code ignored;
  std::filesystem::remove(bundle / task_record_file, ignored);
}

}  // namespace runhcs::service
