// Shim addresses: where a shim for <namespace>/<id> listens (DESIGN.md, Addresses).
// address_posix.cpp: unix://<socket dir>/<hex sha256("<containerd address>/<ns>/<id>")>;
// address_win.cpp: \\.\pipe\ProtectedPrefix\Administrators\containerd-shim-<ns>-<id>-pipe.
#pragma once

#include <string>
#include <string_view>

namespace runhcs::shim {

// The default socket directory on Linux; RUNHCS_SOCKET_DIR overrides it.
inline constexpr std::string_view default_socket_dir = "/run/containerd/s";

struct address_inputs {
  std::string_view containerd_address;  // the -address flag
  std::string_view ns;                  // the -namespace flag
  std::string_view id;                  // the shim's id: the sandbox id for a pod
  std::string_view socket_dir;          // Linux only
};

// The shim's ttrpc address. ns and id must already be valid identifiers.
std::string shim_address(const address_inputs& in);

// The log pipe containerd dials during start (Windows only).
std::string log_pipe_address(std::string_view ns, std::string_view id);

}  // namespace runhcs::shim
