// The OCI spec decoding: the fields a backend uses, and hostile input refused cleanly.
#include <gtest/gtest.h>

#include <string>

#include "backend/backend.hpp"
#include "backend/spec.hpp"

namespace runhcs::backend {
namespace {

TEST(spec, decodes_process_and_root) {
  auto spec = parse_runtime_spec(R"({
    "ociVersion": "1.0.2",
    "process": {
      "terminal": true, "consoleSize": {"height": 24, "width": 80},
      "user": {"uid": 1000, "gid": 1001, "additionalGids": [5, 6]},
      "args": ["/bin/sh", "-c", "echo hi"], "env": ["PATH=/bin", "A=b"], "cwd": "/tmp",
      "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 512}]
    },
    "root": {"path": "rootfs"},
    "annotations": {"x": "y"}
  })");
  ASSERT_TRUE(spec) << spec.error().message;
  const auto& p = spec->process;
  EXPECT_EQ(p.args, (std::vector<std::string>{"/bin/sh", "-c", "echo hi"}));
  EXPECT_EQ(p.env, (std::vector<std::string>{"PATH=/bin", "A=b"}));
  EXPECT_EQ(p.cwd, "/tmp");
  EXPECT_EQ(p.uid, 1000U);
  EXPECT_EQ(p.gid, 1001U);
  EXPECT_EQ(p.additional_gids, (std::vector<std::uint32_t>{5, 6}));
  ASSERT_EQ(p.rlimits.size(), 1U);
  EXPECT_EQ(p.rlimits[0].type, "RLIMIT_NOFILE");
  EXPECT_EQ(p.rlimits[0].soft, 512U);
  EXPECT_EQ(p.rlimits[0].hard, 1024U);
  EXPECT_TRUE(p.terminal);
  EXPECT_EQ(p.console_width, 80U);
  EXPECT_EQ(p.console_height, 24U);
  EXPECT_EQ(spec->root_path, "rootfs");
}

TEST(spec, decodes_an_exec_process) {
  auto p = parse_process_spec(R"({"args": ["ls"], "cwd": "/"})");
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->args.front(), "ls");
  EXPECT_FALSE(p->terminal);
}

struct bad_case {
  const char* name;
  std::string json;
};

class spec_refuses : public ::testing::TestWithParam<bad_case> {};

TEST_P(spec_refuses, with_invalid_spec) {
  auto spec = parse_runtime_spec(GetParam().json);
  ASSERT_FALSE(spec);
  EXPECT_EQ(spec.error().code, make_error_code(errc::invalid_spec));
  EXPECT_FALSE(spec.error().message.empty());
}

INSTANTIATE_TEST_SUITE_P(
    cases, spec_refuses,
    ::testing::Values(bad_case{"not_json", "hello"}, bad_case{"not_object", "[1,2]"},
                      bad_case{"no_process", R"({"root": {}})"},
                      bad_case{"empty_args", R"({"process": {"args": []}})"},
                      bad_case{"args_not_strings", R"({"process": {"args": [1]}})"},
                      bad_case{"negative_uid",
                               R"({"process": {"args": ["a"], "user": {"uid": -1}}})"},
                      bad_case{"deep", std::string(200000, '[')},
                      bad_case{"too_big", std::string(max_spec_size + 1, ' ')}),
    [](const auto& param_info) { return std::string(param_info.param.name); });

}  // namespace
}  // namespace runhcs::backend
