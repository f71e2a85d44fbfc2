// The shim's log: containerd reads it from the bundle's `log` FIFO (Linux) and copies it into
// its own log. Nothing may ever block on it, and nothing goes to stdout or stderr.
#pragma once

#include <filesystem>

namespace runhcs::shim {

// Opens <bundle>/log when containerd made it (without blocking: no reader means no log) and
// installs it as spdlog's default logger, at debug level when debug is set.
void init_logging(const std::filesystem::path& bundle, bool debug);

}  // namespace runhcs::shim
