// Raw ttrpc frames over blocking sockets, for tests that play a peer byte by byte.
#include "ttrpc_raw.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>

namespace runhcs::test {
namespace {

sockaddr_un address_of(const std::string& path) {
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (path.size() >= sizeof sa.sun_path) {
    throw std::runtime_error("socket path too long: " + path);
  }
  std::memcpy(sa.sun_path, path.data(), path.size());
  return sa;
}

bool read_exact(int fd, char* data, std::size_t size) {
  while (size > 0) {
    ssize_t n = ::read(fd, data, size);
    if (n <= 0) {
      return false;
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

std::string frame(std::uint32_t stream_id, std::uint8_t type, const std::string& body) {
  std::string out(10, '\0');
  auto put32 = [&](std::size_t at, std::uint32_t v) {
    out[at] = static_cast<char>(v >> 24);
    out[at + 1] = static_cast<char>(v >> 16);
    out[at + 2] = static_cast<char>(v >> 8);
    out[at + 3] = static_cast<char>(v);
  };
  put32(0, static_cast<std::uint32_t>(body.size()));
  put32(4, stream_id);
  out[8] = static_cast<char>(type);
  return out + body;
}

std::optional<::ttrpc::Response> call_raw(const std::string& address, const std::string& method,
                                          const std::string& payload,
                                          std::chrono::milliseconds bound) {
  const std::string prefix = "unix://";
  if (address.rfind(prefix, 0) != 0) {
    return std::nullopt;
  }
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval tv{static_cast<time_t>(bound.count() / 1000),
             static_cast<suseconds_t>((bound.count() % 1000) * 1000)};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  auto sa = address_of(address.substr(prefix.size()));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    ::close(fd);
    return std::nullopt;
  }
  ::ttrpc::Request request;
  request.set_service("containerd.task.v2.Task");
  request.set_method(method);
  request.set_payload(payload);
  std::string bytes = frame(1, 1, request.SerializeAsString());
  if (::write(fd, bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size())) {
    ::close(fd);
    return std::nullopt;
  }
  char header[10];
  std::optional<::ttrpc::Response> response;
  if (read_exact(fd, header, sizeof header)) {
    std::uint32_t length = (std::uint32_t(std::uint8_t(header[0])) << 24) |
                           (std::uint32_t(std::uint8_t(header[1])) << 16) |
                           (std::uint32_t(std::uint8_t(header[2])) << 8) |
                           std::uint32_t(std::uint8_t(header[3]));
    std::string body(length, '\0');
    if (header[8] == 2 && read_exact(fd, body.data(), body.size())) {
      response.emplace();
      if (!response->ParseFromString(body)) {
        response.reset();
      }
    }
  }
  ::close(fd);
  return response;
}

int listen_unix(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  auto sa = address_of(path);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || ::listen(fd, 16) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot listen on " + path + ": " + std::strerror(errno));
  }
  return fd;
}

}  // namespace runhcs::test
