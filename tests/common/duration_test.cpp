// Go duration syntax, both ways, as operators write it in RUNHCS_*_TIMEOUT.
#include <gtest/gtest.h>

#include "common/duration.hpp"

namespace runhcs {
namespace {

using namespace std::chrono_literals;

TEST(parse_duration, accepts_go_syntax) {
  struct row {
    const char* text;
    duration want;
  };
  const row rows[] = {
      {"0", 0ns},        {"5s", 5s},     {"250ms", 250ms},
      {"1m", 1min},      {"1m30s", 90s}, {"1.5s", 1500ms},
      {"2h45m", 165min}, {"10us", 10us}, {"10\xC2\xB5s", 10us},
      {"7ns", 7ns},      {"+3s", 3s},    {"-2s", -2s},
      {".5s", 500ms},    {"1.s", 1s},    {"1h1m1s1ms", 3661001ms},
  };
  for (const auto& r : rows) {
    auto parsed = parse_duration(r.text);
    ASSERT_TRUE(parsed.has_value()) << r.text;
    EXPECT_EQ(*parsed, r.want) << r.text;
  }
}

TEST(parse_duration, refuses_what_go_refuses) {
  for (const char* text :
       {"", "5", "s", "5x", "5 s", "1.5.5s", "-", ".s", "ms5", "5sec", "99999999999h"}) {
    EXPECT_FALSE(parse_duration(text).has_value()) << text;
  }
}

TEST(format_duration, words_like_go) {
  EXPECT_EQ(format_duration(0ns), "0s");
  EXPECT_EQ(format_duration(5s), "5s");
  EXPECT_EQ(format_duration(250ms), "250ms");
  EXPECT_EQ(format_duration(1500ms), "1.5s");
  EXPECT_EQ(format_duration(90s), "1m30s");
  EXPECT_EQ(format_duration(1min), "1m0s");
  EXPECT_EQ(format_duration(3661s), "1h1m1s");
  EXPECT_EQ(format_duration(10us), "10\xC2\xB5s");
  EXPECT_EQ(format_duration(7ns), "7ns");
  EXPECT_EQ(format_duration(-2s), "-2s");
}

}  // namespace
}  // namespace runhcs
