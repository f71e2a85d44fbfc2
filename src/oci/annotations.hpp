// Reads only the annotations of an OCI config.json: start needs two of them, and the spec can
// be huge, deeply nested or not JSON at all (DESIGN.md, Hostile input).
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <map>
#include <string>

#include "common/result.hpp"

namespace runhcs::oci {

// Annotation key -> value. Ordered with transparent lookup, so find(std::string_view) works.
using annotation_map = std::map<std::string, std::string, std::less<>>;

// Bounds on what read_annotations accepts.
inline constexpr std::size_t max_spec_bytes = 16 * 1024 * 1024;
inline constexpr std::size_t max_spec_depth = 64;

// Decodes the top-level "annotations" object of config_json the way runhcs's Go decoder does:
// only the first JSON value counts (trailing bytes are ignored), the field name matches
// case-insensitively, a null value reads as "", duplicate keys keep the last, a missing or null
// "annotations" gives an empty map. Everything else is skipped without being built.
// Errors: open failure -> the OS code, "open <path>: <reason>"; a read failure -> the OS code,
// "failed to deserialize valid OCI spec: read <path>: <reason>"; bad JSON, a non-object spec or
// annotations, a non-string value, more than max_spec_depth nesting or more than max_spec_bytes
// read -> errc::invalid_spec, "failed to deserialize valid OCI spec: <detail>".
result<annotation_map> read_annotations(const std::filesystem::path& config_json);

}  // namespace runhcs::oci
