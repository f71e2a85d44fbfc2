// Test hooks of the POSIX launcher, kept out of launch.hpp: the pidfd-less path (kernels before
// 5.3, or pidfd_open refused by a seccomp filter) must be testable on a kernel that has pidfds.
#pragma once

namespace runhcs::process::detail {

// While set, launch() does not open a pidfd, so wait_exit() polls waitid() on a timer.
void disable_pidfd_for_testing(bool disabled) noexcept;

}  // namespace runhcs::process::detail
