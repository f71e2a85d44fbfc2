// ttrpc envelopes: Request/Response encoding with the size limit applied before writing.
#include "ttrpc/envelope.hpp"

#include <array>

namespace runhcs::ttrpc {

std::error_code append_message(std::string& out, std::uint32_t stream_id, message_type type,
                               const google::protobuf::MessageLite& msg) {
  const auto size = msg.ByteSizeLong();
  if (size > max_message_size) {
    return errc::message_too_large;
  }
  const auto at = out.size();
  out.resize(at + header_size + size);
  auto* p = reinterpret_cast<std::uint8_t*>(out.data() + at);
  encode_header({static_cast<std::uint32_t>(size), stream_id, static_cast<std::uint8_t>(type), 0},
                std::span<std::uint8_t, header_size>(p, header_size));
  // ByteSizeLong() cached the sizes, so this pass cannot disagree with it.
  msg.SerializeWithCachedSizesToArray(p + header_size);
  return {};
}

void make_request(::ttrpc::Request& req, std::string_view service, std::string_view method,
                  const google::protobuf::MessageLite& payload, std::int64_t timeout_nano,
                  const metadata& md) {
  req.set_service(std::string(service));
  req.set_method(std::string(method));
  payload.SerializeToString(req.mutable_payload());
  req.set_timeout_nano(timeout_nano);
  for (const auto& [key, value] : md) {
    auto* kv = req.add_metadata();
    kv->set_key(key);
    kv->set_value(value);
  }
}

void append_response(std::string& out, std::uint32_t stream_id, code status,
                     std::string_view message, std::string_view payload) {
  ::ttrpc::Response resp;
  if (status != code::ok) {
    auto* st = resp.mutable_status();
    st->set_code(static_cast<std::int32_t>(status));
    st->set_message(std::string(message));
  }
  resp.set_payload(std::string(payload));
  if (append_message(out, stream_id, message_type::response, resp)) {
    ::ttrpc::Response too_large;
    too_large.mutable_status()->set_code(static_cast<std::int32_t>(code::resource_exhausted));
    too_large.mutable_status()->set_message(oversize_message(resp.ByteSizeLong()));
    (void)append_message(out, stream_id, message_type::response, too_large);
  }
}

std::string oversize_message(std::uint64_t length) {
  return "message length " + std::to_string(length) + " exceed maximum message size of " +
         std::to_string(max_message_size);
}

runhcs::error response_error(const ::ttrpc::Response& resp) {
  if (!resp.has_status() || resp.status().code() == 0) {
    return {};
  }
  return {std::error_code(resp.status().code(), grpc_category()), resp.status().message()};
}

}  // namespace runhcs::ttrpc
