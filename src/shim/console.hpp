// What a command shows: containerd merges stdout and stderr of start and takes all of it as
// the address, so success prints exactly the address and failure one clear message.
#pragma once

#include <string_view>

#include "common/error.hpp"

namespace runhcs::shim {

// Prints the error's message on stderr (one line, unless it quotes what serve said) and
// returns the exit code for a failure (1).
int report_failure(const error& e);

// Prints the address on stdout with no newline; returns 0, or 1 if stdout is unwritable.
int print_address(std::string_view address);

// Writes all of data to a file descriptor (1 or 2), retrying short writes.
bool write_all(int fd, std::string_view data);

}  // namespace runhcs::shim
