// runhcs's sandbox type/id rules; the messages are runhcs's, word for word.
#include "oci/sandbox.hpp"

namespace runhcs::oci {

result<sandbox_info> sandbox_type_and_id(const annotation_map& annotations) {
  sandbox_info info;
  // A present key counts even when its value is empty.
  if (auto it = annotations.find(container_type_key); it != annotations.end()) {
    if (it->second == "sandbox") {
      info.type = container_type::sandbox;
    } else if (it->second == "container") {
      info.type = container_type::container;
    } else {
      return error{errc::invalid_argument,
                   "invalid '" + std::string(container_type_key) + "': '" + it->second + "'"};
    }
  }
  if (auto it = annotations.find(sandbox_id_key); it != annotations.end()) {
    info.id = it->second;
  }
  if (info.type != container_type::none && info.id.empty()) {
    return error{errc::invalid_argument, "cannot specify '" + std::string(container_type_key) +
                                             "' without '" + std::string(sandbox_id_key) + "'"};
  }
  if (info.type == container_type::none && !info.id.empty()) {
    return error{errc::invalid_argument, "cannot specify '" + std::string(sandbox_id_key) +
                                             "' without '" + std::string(container_type_key) + "'"};
  }
  return info;
}

result<void> check_sandbox_id(std::string_view id, const sandbox_info& sandbox) {
  if (sandbox.type == container_type::sandbox && id != sandbox.id) {
    return error{errc::invalid_argument, "'id' and '" + std::string(sandbox_id_key) +
                                             "' must match for '" +
                                             std::string(container_type_key) + "=sandbox'"};
  }
  return {};
}

}  // namespace runhcs::oci
