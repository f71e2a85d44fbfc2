// Linux shim addresses: containerd's own rule (runtime/v2/shim SocketAddress), so that a pod
// hosted by containerd-shim-runc-v2 has the address we compute, and the other way round.
// The SHA256_* functions are deprecated in OpenSSL 3 in favour of EVP, whose first use loads
// openssl.cnf and builds the provider's algorithm tables: about 0.6 ms of a start that must
// take a few (the one-shot SHA256() goes through EVP too). These cost about 10 us.
#define OPENSSL_API_COMPAT 10101
#include <openssl/sha.h>

#include <algorithm>
#include <array>
#include <initializer_list>
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
  std::array<unsigned char, SHA256_DIGEST_LENGTH> digest{};
  SHA256_CTX context;
  SHA256_Init(&context);
  SHA256_Update(&context, data.data(), data.size());
  SHA256_Final(digest.data(), &context);
  const unsigned int length = SHA256_DIGEST_LENGTH;
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
