// containerd's identifier rule, which guards every id before it becomes part of a path.
#include <gtest/gtest.h>

#include <string>

#include "common/identifier.hpp"

namespace runhcs {
namespace {

TEST(identifier, accepts_containerd_ids) {
  for (const char* id :
       {"a", "pod1", "default", "k8s.io", "a-b_c.d", "A1", "0", "moby.b1c2d3e4f5"}) {
    EXPECT_TRUE(is_valid_identifier(id)) << id;
  }
  EXPECT_TRUE(is_valid_identifier(std::string(76, 'x')));
}

TEST(identifier, refuses_paths_and_separators_out_of_place) {
  for (const char* id : {"", "../x", "a/b", "a\\b", "-a", "a-", ".a", "a.", "a..b", "a-_b", "a b",
                         "a\nb", "caf\xC3\xA9", "a:b", "@x"}) {
    EXPECT_FALSE(is_valid_identifier(id)) << id;
  }
  EXPECT_FALSE(is_valid_identifier(std::string(77, 'x')));
}

}  // namespace
}  // namespace runhcs
