// Go `flag` syntax, the way containerd invokes the shim.
#include <gtest/gtest.h>

#include <array>
#include <vector>

#include "cli/flags.hpp"

namespace runhcs::cli {
namespace {

constexpr std::array specs{flag_spec{"namespace"}, flag_spec{"id"}, flag_spec{"debug", true}};

result<parsed_flags> parse(std::vector<std::string_view> args) {
  return parse_flags(args, specs);
}

TEST(flags, every_go_spelling_means_the_same) {
  for (auto args :
       std::vector<std::vector<std::string_view>>{{"-namespace", "ns", "-id", "x", "start"},
                                                  {"--namespace", "ns", "--id", "x", "start"},
                                                  {"-namespace=ns", "-id=x", "start"},
                                                  {"--namespace=ns", "--id=x", "start"}}) {
    auto r = parse(args);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->get("namespace"), "ns");
    EXPECT_EQ(r->get("id"), "x");
    ASSERT_EQ(r->rest.size(), 1u);
    EXPECT_EQ(r->rest[0], "start");
  }
}

TEST(flags, booleans_take_no_separate_value) {
  auto r = parse({"-debug", "start"});
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->get_bool("debug"));
  EXPECT_EQ(r->rest[0], "start");
  auto off = parse({"-debug=false", "start"});
  ASSERT_TRUE(off);
  EXPECT_FALSE(off->get_bool("debug"));
  auto bad = parse({"-debug=maybe"});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "invalid boolean value \"maybe\" for -debug");
}

TEST(flags, parsing_stops_at_the_command_word_and_after_double_dash) {
  auto r = parse({"-id", "x", "serve", "-socket", "s"});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->rest, (std::vector<std::string>{"serve", "-socket", "s"}));
  auto dashed = parse({"--", "-id"});
  ASSERT_TRUE(dashed);
  EXPECT_EQ(dashed->rest, (std::vector<std::string>{"-id"}));
  EXPECT_FALSE(dashed->has("id"));
}

TEST(flags, errors_are_worded_like_go) {
  auto unknown = parse({"-nope", "start"});
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().message, "flag provided but not defined: -nope");
  auto missing = parse({"-id"});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message, "flag needs an argument: -id");
  auto syntax = parse({"---id", "x"});
  ASSERT_FALSE(syntax);
  EXPECT_EQ(syntax.error().message, "bad flag syntax: ---id");
}

TEST(flags, an_empty_value_is_a_value) {
  auto r = parse({"-id=", "start"});
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->has("id"));
  EXPECT_EQ(r->get("id"), "");
}

}  // namespace
}  // namespace runhcs::cli
