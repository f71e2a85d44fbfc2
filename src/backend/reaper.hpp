// Reaping on POSIX: the shim is its tasks' subreaper, so every exit under it (its children and
// the orphans they leave) comes back as SIGCHLD. One reaper per process collects them all with
// waitpid(-1) and hands each expected pid's status to whoever launched it; the rest are reaped
// and dropped, so no zombie stays.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

#include "common/result.hpp"

namespace runhcs::backend {

// Makes this process a child subreaper (prctl PR_SET_CHILD_SUBREAPER on Linux) so that orphans
// of its tasks are re-parented to it rather than to init. serve calls it at start-up; the
// host-process backend also calls it when created.
result<void> become_subreaper();

class reaper {
 public:
  // The process's reaper, created on first use on executor (which must be the one every
  // callback should run on). While anyone holds it, later calls return the same reaper
  // whatever executor they pass.
  static std::shared_ptr<reaper> instance(const boost::asio::any_io_executor& executor);

  virtual ~reaper() = default;

  // Calls callback(wait status) on the reaper's executor when pid has been reaped. Register
  // right after fork; an exit reaped before registration is kept and delivered now.
  virtual void expect(int pid, std::function<void(int wait_status)> callback) = 0;

  // Reaps whatever has exited now (also done on every SIGCHLD).
  virtual void reap_now() = 0;
};

// The kernel's start time of pid (field 22 of /proc/<pid>/stat, clock ticks since boot):
// with the pid it names one process across pid reuse. nullopt when pid does not exist.
std::optional<std::uint64_t> process_start_time(int pid);

// Sends sig to pid's process group and to every descendant of pid (by /proc parentage), so
// that children that left the group are reached too. Returns how many processes it signalled.
std::size_t signal_tree(int pid, int sig);

// Every process in pid's process group or below pid, pid first when it still exists.
std::vector<int> process_tree(int pid);

}  // namespace runhcs::backend
