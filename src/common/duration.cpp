// Go-compatible duration parsing and formatting.
#include "common/duration.hpp"

#include <array>
#include <cstdint>
#include <limits>

namespace runhcs {
namespace {

struct unit {
  std::string_view name;
  std::int64_t nanos;
};

constexpr std::array<unit, 7> units{{{"ns", 1},
                                     {"us", 1'000},
                                     {"\xC2\xB5s", 1'000},  // U+00B5 micro sign
                                     {"ms", 1'000'000},
                                     {"s", 1'000'000'000},
                                     {"m", 60'000'000'000},
                                     {"h", 3'600'000'000'000}}};

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

}  // namespace

std::optional<duration> parse_duration(std::string_view text) {
  bool negative = false;
  if (!text.empty() && (text.front() == '-' || text.front() == '+')) {
    negative = text.front() == '-';
    text.remove_prefix(1);
  }
  if (text == "0") {
    return duration::zero();
  }
  if (text.empty()) {
    return std::nullopt;
  }
  long double total = 0;
  while (!text.empty()) {
    // A number: digits, optionally a fraction.
    long double value = 0;
    std::size_t digits = 0;
    while (!text.empty() && is_digit(text.front())) {
      value = value * 10 + (text.front() - '0');
      text.remove_prefix(1);
      ++digits;
    }
    if (!text.empty() && text.front() == '.') {
      text.remove_prefix(1);
      long double scale = 0.1L;
      while (!text.empty() && is_digit(text.front())) {
        value += scale * (text.front() - '0');
        scale /= 10;
        text.remove_prefix(1);
        ++digits;
      }
    }
    if (digits == 0) {
      return std::nullopt;
    }
    // A unit: the longest name that matches.
    const unit* found = nullptr;
    for (const auto& u : units) {
      if (text.starts_with(u.name) && (found == nullptr || u.name.size() > found->name.size())) {
        found = &u;
      }
    }
    if (found == nullptr) {
      return std::nullopt;
    }
    text.remove_prefix(found->name.size());
    total += value * static_cast<long double>(found->nanos);
  }
  if (total > static_cast<long double>(std::numeric_limits<std::int64_t>::max())) {
    return std::nullopt;
  }
  auto nanos = static_cast<std::int64_t>(total + 0.5L);
  return duration(negative ? -nanos : nanos);
}

std::string format_duration(duration d) {
  std::int64_t nanos = d.count();
  if (nanos == 0) {
    return "0s";
  }
  std::string sign = nanos < 0 ? "-" : "";
  std::uint64_t n =
      nanos < 0 ? static_cast<std::uint64_t>(-(nanos + 1)) + 1 : static_cast<std::uint64_t>(nanos);
  // A value and its fraction, with trailing zeros of the fraction dropped.
  auto with_fraction = [](std::uint64_t whole, std::uint64_t frac, int frac_digits) {
    std::string out = std::to_string(whole);
    if (frac != 0) {
      std::string f = std::to_string(frac);
      f.insert(0, static_cast<std::size_t>(frac_digits) - f.size(), '0');
      while (!f.empty() && f.back() == '0') {
        f.pop_back();
      }
      out += "." + f;
    }
    return out;
  };
  if (n < 1'000) {
    return sign + std::to_string(n) + "ns";
  }
  if (n < 1'000'000) {
    return sign + with_fraction(n / 1'000, n % 1'000, 3) + "\xC2\xB5s";
  }
  if (n < 1'000'000'000) {
    return sign + with_fraction(n / 1'000'000, n % 1'000'000, 6) + "ms";
  }
  std::uint64_t seconds = n / 1'000'000'000;
  std::uint64_t frac = n % 1'000'000'000;
  std::string out = sign;
  if (seconds >= 3600) {
    out += std::to_string(seconds / 3600) + "h";
    seconds %= 3600;
  }
  if (n >= 60'000'000'000ULL) {
    out += std::to_string(seconds / 60) + "m";
    seconds %= 60;
  }
  return out + with_fraction(seconds, frac, 9) + "s";
}

}  // namespace runhcs
