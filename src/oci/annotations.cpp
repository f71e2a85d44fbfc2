// config.json -> annotations with a RapidJSON SAX reader: iterative (no recursion, so depth can
// not blow the stack), bounded in bytes and depth, keeping nothing but the annotation strings.
#include "oci/annotations.hpp"

#include <rapidjson/error/en.h>
#include <rapidjson/reader.h>

#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

namespace runhcs::oci {
namespace {

constexpr std::string_view decode_context = "failed to deserialize valid OCI spec";

// Go prints strerror texts with a lowercase first letter ("no such file or directory").
std::string go_error_text(int err) {
  std::string text = std::generic_category().message(err);
  if (!text.empty()) {
    text.front() = static_cast<char>(std::tolower(static_cast<unsigned char>(text.front())));
  }
  return text;
}

struct file_closer {
  void operator()(std::FILE* f) const noexcept { std::fclose(f); }
};
using file_ptr = std::unique_ptr<std::FILE, file_closer>;

// Close-on-exec / not inherited: no fd of ours may leak into a child (DESIGN.md).
file_ptr open_for_reading(const std::filesystem::path& path) {
#if defined(_WIN32)
  return file_ptr(::_wfopen(path.c_str(), L"rbN"));
#else
  return file_ptr(std::fopen(path.c_str(), "rbe"));
#endif
}

// A RapidJSON input stream over a FILE that refuses to hand out more than limit bytes and
// remembers why it stopped: end of file, a read error, or the limit.
class bounded_file_stream {
 public:
  using Ch = char;

  bounded_file_stream(std::FILE* file, std::size_t limit)
      : file_(file), limit_(limit), buffer_(64 * 1024) {}

  Ch Peek() { return available() ? buffer_[pos_] : '\0'; }
  Ch Take() {
    if (!available()) {
      return '\0';
    }
    ++consumed_;
    return buffer_[pos_++];
  }
  std::size_t Tell() const { return consumed_; }

  // Write side of the stream concept; the reader never uses it without kParseInsituFlag.
  Ch* PutBegin() { return nullptr; }
  void Put(Ch) {}
  void Flush() {}
  std::size_t PutEnd(Ch*) { return 0; }

  bool over_limit() const { return over_limit_; }
  int read_error() const { return read_error_; }
  bool at_eof() const { return eof_ && pos_ == end_; }

 private:
  bool available() {
    if (pos_ == end_ && !fill()) {
      return false;
    }
    if (consumed_ >= limit_) {
      over_limit_ = true;
      return false;
    }
    return true;
  }

  bool fill() {
    if (eof_) {
      return false;
    }
    const std::size_t n = std::fread(buffer_.data(), 1, buffer_.size(), file_);
    if (n < buffer_.size() && std::ferror(file_)) {
      read_error_ = errno;
    }
    if (n == 0) {
      eof_ = true;
      return false;
    }
    pos_ = 0;
    end_ = n;
    return true;
  }

  std::FILE* file_;
  std::size_t limit_;
  std::vector<char> buffer_;
  std::size_t pos_ = 0;
  std::size_t end_ = 0;
  std::size_t consumed_ = 0;
  bool eof_ = false;
  bool over_limit_ = false;
  int read_error_ = 0;
};

// Go's encoding/json matches a field name exactly or, failing that, case-insensitively.
bool is_annotations_key(std::string_view key) {
  constexpr std::string_view name = "annotations";
  if (key.size() != name.size()) {
    return false;
  }
  for (std::size_t i = 0; i < key.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(key[i])) != name[i]) {
      return false;
    }
  }
  return true;
}

// SAX handler: tracks depth and where it is; stores only annotations' string members. Returning
// false stops the parse with the reason in problem().
class annotations_handler {
 public:
  explicit annotations_handler(annotation_map& out) : out_(out) {}

  bool Null() { return scalar("null", nullptr); }
  bool Bool(bool) { return scalar("boolean", nullptr); }
  bool Int(int) { return scalar("number", nullptr); }
  bool Uint(unsigned) { return scalar("number", nullptr); }
  bool Int64(std::int64_t) { return scalar("number", nullptr); }
  bool Uint64(std::uint64_t) { return scalar("number", nullptr); }
  bool Double(double) { return scalar("number", nullptr); }
  bool RawNumber(const char*, rapidjson::SizeType, bool) { return scalar("number", nullptr); }
  bool String(const char* text, rapidjson::SizeType length, bool) {
    const std::string_view value(text, length);
    return scalar("string", &value);
  }

  bool StartObject() { return open("an object"); }
  bool StartArray() { return open("an array"); }
  bool EndObject(rapidjson::SizeType) { return close(); }
  bool EndArray(rapidjson::SizeType) { return close(); }

  bool Key(const char* text, rapidjson::SizeType length, bool) {
    const std::string_view key(text, length);
    if (depth_ == 1) {
      next_is_annotations_ = is_annotations_key(key);
    } else if (in_annotations_ && depth_ == 2) {
      key_.assign(key);
    }
    return true;
  }

  const std::string& problem() const { return problem_; }

 private:
  bool fail(std::string why) {
    problem_ = std::move(why);
    return false;
  }

  // A value that is not an object or array; value is set for strings only.
  bool scalar(std::string_view kind, const std::string_view* value) {
    const bool is_null = value == nullptr && kind == "null";
    if (depth_ == 0) {
      // Go decodes a top-level null into the struct as a no-op.
      return is_null || fail("the spec is " + with_article(kind) + ", not an object");
    }
    if (depth_ == 1 && next_is_annotations_) {
      next_is_annotations_ = false;
      if (!is_null) {
        return fail("annotations is " + with_article(kind) + ", not an object");
      }
      out_.clear();  // Go sets the map to nil
      return true;
    }
    if (in_annotations_ && depth_ == 2) {
      if (value == nullptr && !is_null) {
        return fail("annotation \"" + key_ + "\" is " + with_article(kind) + ", not a string");
      }
      // Go stores "" for null; a repeated key keeps the last value.
      out_.insert_or_assign(key_, value != nullptr ? std::string(*value) : std::string());
    }
    return true;
  }

  bool open(std::string_view what) {
    if (depth_ == 0 && what != "an object") {
      return fail("the spec is " + std::string(what) + ", not an object");
    }
    if (depth_ == 1 && next_is_annotations_) {
      next_is_annotations_ = false;
      if (what != "an object") {
        return fail("annotations is " + std::string(what) + ", not an object");
      }
      // A second "annotations" member merges into the first, as in Go.
      in_annotations_ = true;
    } else if (in_annotations_ && depth_ == 2) {
      return fail("annotation \"" + key_ + "\" is " + std::string(what) + ", not a string");
    }
    if (++depth_ > max_spec_depth) {
      return fail("nesting depth exceeds " + std::to_string(max_spec_depth));
    }
    return true;
  }

  bool close() {
    --depth_;
    if (depth_ == 1) {
      in_annotations_ = false;
    }
    return true;
  }

  static std::string with_article(std::string_view kind) {
    return (kind == "null" ? "" : "a ") + std::string(kind);
  }

  annotation_map& out_;
  std::size_t depth_ = 0;
  bool next_is_annotations_ = false;
  bool in_annotations_ = false;
  std::string key_;
  std::string problem_;
};

// RapidJSON's English text, in Go's style: lowercase, no final period, with the offset.
std::string describe_parse_error(rapidjson::ParseErrorCode code, std::size_t offset) {
  std::string text = rapidjson::GetParseError_En(code);
  if (!text.empty() && text.back() == '.') {
    text.pop_back();
  }
  if (!text.empty()) {
    text.front() = static_cast<char>(std::tolower(static_cast<unsigned char>(text.front())));
  }
  return text + " at offset " + std::to_string(offset);
}

}  // namespace

result<annotation_map> read_annotations(const std::filesystem::path& config_json) {
  errno = 0;
  file_ptr file = open_for_reading(config_json);
  if (!file) {
    const int err = errno != 0 ? errno : EIO;
    return error{std::error_code(err, std::generic_category()),
                 "open " + config_json.string() + ": " + go_error_text(err)};
  }

  annotation_map annotations;
  annotations_handler handler(annotations);
  bounded_file_stream stream(file.get(), max_spec_bytes);
  rapidjson::Reader reader;
  // Iterative: no recursion on nesting. Stop when done: like Go's Decoder.Decode, read only the
  // first value and ignore whatever follows it.
  constexpr unsigned flags = rapidjson::kParseIterativeFlag | rapidjson::kParseStopWhenDoneFlag;
  const rapidjson::ParseResult parsed = reader.Parse<flags>(stream, handler);
  if (!parsed) {
    auto decode_error = [&](std::string detail) {
      return error{errc::invalid_spec, std::string(decode_context) + ": " + detail};
    };
    if (stream.read_error() != 0) {
      // Go passes a read error through the decoder unchanged ("read <path>: is a directory").
      return error{std::error_code(stream.read_error(), std::generic_category()),
                   std::string(decode_context) + ": read " + config_json.string() + ": " +
                       go_error_text(stream.read_error())};
    }
    if (stream.over_limit()) {
      return decode_error("the spec is larger than the limit of " +
                          std::to_string(max_spec_bytes / (1024 * 1024)) + " MiB");
    }
    if (parsed.Code() == rapidjson::kParseErrorTermination) {
      return decode_error(handler.problem());
    }
    // Go's words for input that ends too early.
    if (stream.at_eof() && parsed.Offset() == stream.Tell()) {
      return decode_error(parsed.Code() == rapidjson::kParseErrorDocumentEmpty ? "EOF"
                                                                               : "unexpected EOF");
    }
    return decode_error(describe_parse_error(parsed.Code(), parsed.Offset()));
  }
  return annotations;
}

}  // namespace runhcs::oci
