// The error model: codes for programs, a wrapped message chain for people.
#include <gtest/gtest.h>

#include "common/error.hpp"
#include "common/result.hpp"

namespace runhcs {
namespace {

TEST(error, wrap_prefixes_context_like_go) {
  error e{errc::connect_timeout, "timed out after 5s"};
  error wrapped = e.wrap("dial x").wrap("failed to connect to hosting shim");
  EXPECT_EQ(wrapped.message, "failed to connect to hosting shim: dial x: timed out after 5s");
  EXPECT_EQ(wrapped.code, errc::connect_timeout);
  EXPECT_EQ(e.message, "timed out after 5s");
}

TEST(error, codes_have_their_own_category_and_words) {
  std::error_code code = errc::ready_timeout;
  EXPECT_EQ(code.category().name(), std::string("runhcs"));
  EXPECT_NE(code.message().find("ready"), std::string::npos);
  EXPECT_NE(code, std::error_code(static_cast<int>(errc::ready_timeout), std::generic_category()));
}

TEST(error, result_value_of_a_failure_throws_system_error) {
  result<int> r = error{errc::invalid_spec, "bad spec"};
  ASSERT_FALSE(r);
  EXPECT_THROW((void)r.value(), std::system_error);
}

}  // namespace
}  // namespace runhcs
