// OCI spec decoding with RapidJSON's iterative parser (no recursion, so deep nesting cannot
// exhaust the stack), keeping only the fields a backend uses.
#include "backend/spec.hpp"

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <fstream>
#include <limits>

#include "backend/backend.hpp"

namespace runhcs::backend {
namespace {

using value = rapidjson::Value;

error spec_error(std::string message) {
  return make_error(make_error_code(errc::invalid_spec), std::move(message));
}

result<std::vector<std::string>> strings_of(const value& object, const char* key) {
  std::vector<std::string> out;
  auto it = object.FindMember(key);
  if (it == object.MemberEnd() || it->value.IsNull()) {
    return out;
  }
  if (!it->value.IsArray()) {
    return spec_error(fmt::format("process.{} is not an array", key));
  }
  for (const auto& item : it->value.GetArray()) {
    if (!item.IsString()) {
      return spec_error(fmt::format("process.{} holds a non-string", key));
    }
    out.emplace_back(item.GetString(), item.GetStringLength());
  }
  return out;
}

template <class T>
result<T> unsigned_of(const value& object, const char* key, const char* where) {
  auto it = object.FindMember(key);
  if (it == object.MemberEnd() || it->value.IsNull()) {
    return T{};
  }
  if (!it->value.IsUint64() || it->value.GetUint64() > std::numeric_limits<T>::max()) {
    return spec_error(fmt::format("{}.{} is not a valid unsigned number", where, key));
  }
  return static_cast<T>(it->value.GetUint64());
}

result<process_spec> decode_process(const value& p) {
  if (!p.IsObject()) {
    return spec_error("process is not an object");
  }
  process_spec out;
  auto args = strings_of(p, "args");
  if (!args) {
    return args.error();
  }
  out.args = std::move(*args);
  if (out.args.empty() || out.args.front().empty()) {
    return spec_error("process.args must not be empty");
  }
  auto env = strings_of(p, "env");
  if (!env) {
    return env.error();
  }
  out.env = std::move(*env);
  if (auto it = p.FindMember("cwd"); it != p.MemberEnd() && it->value.IsString()) {
    out.cwd.assign(it->value.GetString(), it->value.GetStringLength());
  }
  if (auto it = p.FindMember("terminal"); it != p.MemberEnd() && it->value.IsBool()) {
    out.terminal = it->value.GetBool();
  }
  if (auto it = p.FindMember("consoleSize"); it != p.MemberEnd() && it->value.IsObject()) {
    auto h = unsigned_of<unsigned short>(it->value, "height", "process.consoleSize");
    auto w = unsigned_of<unsigned short>(it->value, "width", "process.consoleSize");
    if (!h || !w) {
      return !h ? h.error() : w.error();
    }
    out.console_height = *h;
    out.console_width = *w;
  }
  if (auto it = p.FindMember("user"); it != p.MemberEnd() && it->value.IsObject()) {
    const auto& user = it->value;
    auto uid = unsigned_of<std::uint32_t>(user, "uid", "process.user");
    auto gid = unsigned_of<std::uint32_t>(user, "gid", "process.user");
    if (!uid || !gid) {
      return !uid ? uid.error() : gid.error();
    }
    out.uid = *uid;
    out.gid = *gid;
    if (auto g = user.FindMember("additionalGids"); g != user.MemberEnd() && g->value.IsArray()) {
      for (const auto& item : g->value.GetArray()) {
        if (!item.IsUint()) {
          return spec_error("process.user.additionalGids holds a non-number");
        }
        out.additional_gids.push_back(item.GetUint());
      }
    }
  }
  if (auto it = p.FindMember("rlimits"); it != p.MemberEnd() && it->value.IsArray()) {
    for (const auto& item : it->value.GetArray()) {
      if (!item.IsObject()) {
        return spec_error("process.rlimits holds a non-object");
      }
      rlimit_spec limit;
      if (auto t = item.FindMember("type"); t != item.MemberEnd() && t->value.IsString()) {
        limit.type = t->value.GetString();
      }
      auto soft = unsigned_of<std::uint64_t>(item, "soft", "process.rlimits");
      auto hard = unsigned_of<std::uint64_t>(item, "hard", "process.rlimits");
      if (!soft || !hard) {
        return !soft ? soft.error() : hard.error();
      }
      limit.soft = *soft;
      limit.hard = *hard;
      out.rlimits.push_back(std::move(limit));
    }
  }
  return out;
}

result<rapidjson::Document> parse(std::string_view json, std::string_view what) {
  if (json.size() > max_spec_size) {
    return spec_error(fmt::format("{} is larger than {} bytes", what, max_spec_size));
  }
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag>(json.data(), json.size());
  if (doc.HasParseError()) {
    return spec_error(fmt::format("failed to deserialize {}: {} at offset {}", what,
                                  rapidjson::GetParseError_En(doc.GetParseError()),
                                  doc.GetErrorOffset()));
  }
  if (!doc.IsObject()) {
    return spec_error(fmt::format("{} is not a JSON object", what));
  }
  return doc;
}

}  // namespace

result<process_spec> parse_process_spec(std::string_view json) {
  auto doc = parse(json, "process spec");
  if (!doc) {
    return doc.error();
  }
  return decode_process(*doc);
}

result<runtime_spec> parse_runtime_spec(std::string_view json) {
  auto doc = parse(json, "OCI spec");
  if (!doc) {
    return doc.error();
  }
  auto p = doc->FindMember("process");
  if (p == doc->MemberEnd()) {
    return spec_error("OCI spec has no process");
  }
  auto process = decode_process(p->value);
  if (!process) {
    return process.error();
  }
  runtime_spec out;
  out.process = std::move(*process);
  if (auto root = doc->FindMember("root"); root != doc->MemberEnd() && root->value.IsObject()) {
    if (auto path = root->value.FindMember("path");
        path != root->value.MemberEnd() && path->value.IsString()) {
      out.root_path = path->value.GetString();
    }
  }
  return out;
}

result<runtime_spec> read_runtime_spec(const std::filesystem::path& bundle) {
  auto path = bundle / "config.json";
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return make_error(std::make_error_code(std::errc::no_such_file_or_directory),
                      fmt::format("open {}: no such file or directory", path.string()));
  }
  std::string text;
  char buffer[65536];
  while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
    text.append(buffer, static_cast<std::size_t>(in.gcount()));
    if (text.size() > max_spec_size) {
      return spec_error(fmt::format("{} is larger than {} bytes", path.string(), max_spec_size));
    }
  }
  return parse_runtime_spec(text);
}

}  // namespace runhcs::backend
