// Non-blocking immediate writes on a unix socket.
#include <sys/socket.h>

#include <cerrno>

#include "ttrpc/io.hpp"

namespace runhcs::ttrpc {

std::size_t write_now(transport::stream& stream, std::string_view bytes,
                      boost::system::error_code& ec) {
  ec.clear();
  // MSG_NOSIGNAL: a vanished peer must be an EPIPE error, not a SIGPIPE that kills the shim.
  const auto n =
      ::send(stream.native_handle(), bytes.data(), bytes.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  if (n >= 0) {
    return static_cast<std::size_t>(n);
  }
  if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
    ec.assign(errno, boost::system::system_category());
  }
  return 0;
}

}  // namespace runhcs::ttrpc
