// Logging to the bundle's `log` FIFO through a non-blocking descriptor: a full FIFO drops the
// line rather than stalling the shim.
#include <fcntl.h>
#include <unistd.h>

#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>
#include <cerrno>
#include <memory>
#include <mutex>

#include "shim/logging.hpp"

namespace runhcs::shim {
namespace {

class fd_sink final : public spdlog::sinks::base_sink<spdlog::details::null_mutex> {
 public:
  explicit fd_sink(int fd) : fd_(fd) {}
  ~fd_sink() override { ::close(fd_); }
  fd_sink(const fd_sink&) = delete;
  fd_sink& operator=(const fd_sink&) = delete;

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t line;
    formatter_->format(msg, line);
    // One write per line; EAGAIN or EPIPE (reader gone) lose the line, never the shim.
    while (::write(fd_, line.data(), line.size()) < 0 && errno == EINTR) {
    }
  }
  void flush_() override {}

 private:
  int fd_;
};

}  // namespace

void init_logging(const std::filesystem::path& bundle, bool debug) {
  std::shared_ptr<spdlog::logger> logger;
  int fd = ::open((bundle / "log").c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd >= 0) {
    logger = std::make_shared<spdlog::logger>("shim", std::make_shared<fd_sink>(fd));
  } else {
    logger = std::make_shared<spdlog::logger>("shim");  // no sinks: logs go nowhere
  }
  // logrus's text shape, which containerd's log copy passes through as it is.
  logger->set_pattern("time=\"%Y-%m-%dT%H:%M:%S.%fZ\" level=%l msg=\"%v\"",
                      spdlog::pattern_time_type::utc);
  logger->set_level(debug ? spdlog::level::debug : spdlog::level::info);
  spdlog::set_default_logger(std::move(logger));
}

}  // namespace runhcs::shim
