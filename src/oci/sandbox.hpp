// The Kubernetes sandbox rules of runhcs: which shim serves a container, from two annotations.
#pragma once

#include <string>
#include <string_view>

#include "common/result.hpp"
#include "oci/annotations.hpp"

namespace runhcs::oci {

inline constexpr std::string_view container_type_key = "io.kubernetes.cri.container-type";
inline constexpr std::string_view sandbox_id_key = "io.kubernetes.cri.sandbox-id";

enum class container_type {
  none,       // no Kubernetes annotations: a standalone container with its own shim
  sandbox,    // a pod's sandbox: its shim serves the whole pod
  container,  // a container of a pod: served by the sandbox's shim
};

struct sandbox_info {
  container_type type = container_type::none;
  std::string id;  // the sandbox id; empty for container_type::none
};

// runhcs's GetSandboxTypeAndID, with its exact messages; errors are errc::invalid_argument.
result<sandbox_info> sandbox_type_and_id(const annotation_map& annotations);

// A sandbox's shim id (the -id flag) must equal its sandbox id; other types always pass.
result<void> check_sandbox_id(std::string_view id, const sandbox_info& sandbox);

}  // namespace runhcs::oci
