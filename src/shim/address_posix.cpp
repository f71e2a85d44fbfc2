// Linux shim addresses: containerd's own rule (runtime/v2/shim SocketAddress), so that a pod
// hosted by containerd-shim-runc-v2 has the address we compute, and the other way round.
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <initializer_list>
#include <stdexcept>
#include <vector>

#include "shim/address.hpp"

namespace runhcs::shim {
namespace {

// Go's path/filepath.Clean on Linux: one slash between elements, no "." elements, ".." folded
// into its parent, no trailing slash, "." for nothing.
std::string go_clean(std::string_view path) {
  if (path.empty()) {
    return ".";
  }
  const bool rooted = path.front() == '/';
  std::string out = rooted ? "/" : "";
  // out[0, floor) cannot be removed by "..": the root slash or leading ".." elements.
  std::size_t floor = out.size();
  std::size_t r = 0;
  while (r < path.size()) {
    if (path[r] == '/') {
      ++r;
      continue;
    }
    const std::size_t end = std::min(path.find('/', r), path.size());
    const std::string_view element = path.substr(r, end - r);
    r = end;
    if (element == ".") {
      continue;
    }
    if (element == "..") {
      if (out.size() > floor) {
        const std::size_t slash = out.rfind('/');
        out.resize(slash == std::string::npos || slash < floor ? floor : slash);
      } else if (!rooted) {
        out += out.empty() ? ".." : "/..";
        floor = out.size();
      }
      continue;
    }
    if (out.size() != (rooted ? 1u : 0u)) {
      out += '/';
    }
    out += element;
  }
  return out.empty() ? "." : out;
}

// Go's filepath.Join: skips leading empty elements, joins the rest with '/', cleans.
std::string go_join(std::initializer_list<std::string_view> elements) {
  auto it = elements.begin();
  while (it != elements.end() && it->empty()) {
    ++it;
  }
  if (it == elements.end()) {
    return {};
  }
  std::string joined(*it);
  for (++it; it != elements.end(); ++it) {
    joined += '/';
    joined += *it;
  }
  return go_clean(joined);
}

std::string sha256_hex(std::string_view data) {
  // OpenSSL 3 would read openssl.cnf on the first fetch; start is latency-critical and needs no
  // configuration to hash a name.
  static const bool initialised = OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, nullptr) == 1;
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (!initialised ||
      EVP_Digest(data.data(), data.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1) {
    // Only a broken libcrypto gets here: unexpected, so an exception.
    throw std::runtime_error("sha256 failed in libcrypto");
  }
  static constexpr char hex_digits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * length);
  for (unsigned int i = 0; i < length; ++i) {
    hex += hex_digits[digest[i] >> 4];
    hex += hex_digits[digest[i] & 0xf];
  }
  return hex;
}

}  // namespace

std::string shim_address(const address_inputs& in) {
  const std::string_view socket_dir = in.socket_dir.empty() ? default_socket_dir : in.socket_dir;
  const std::string name = sha256_hex(go_join({in.containerd_address, in.ns, in.id}));
  return "unix://" + go_join({socket_dir, name});
}

std::string log_pipe_address(std::string_view, std::string_view) {
  return {};
}

}  // namespace runhcs::shim
