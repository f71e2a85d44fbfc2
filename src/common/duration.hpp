// Durations in Go's syntax ("250ms", "5s", "1m30s"), as operators write them in environment
// variables, and back to text for messages ("timed out after 5s").
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace runhcs {

using duration = std::chrono::nanoseconds;

// Parses Go's time.ParseDuration syntax; nullopt when the text is not a duration.
std::optional<duration> parse_duration(std::string_view text);

// Formats like Go's Duration.String(): "5s", "250ms", "1m30s", "1.5s".
std::string format_duration(duration d);

}  // namespace runhcs
