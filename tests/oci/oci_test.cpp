// config.json annotations and the runhcs sandbox rules: each rule, each message, each bound.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "oci/annotations.hpp"
#include "oci/sandbox.hpp"
#include "temp_dir.hpp"

namespace {

namespace fs = std::filesystem;
using runhcs::errc;
using runhcs::oci::annotation_map;
using runhcs::oci::check_sandbox_id;
using runhcs::oci::container_type;
using runhcs::oci::max_spec_bytes;
using runhcs::oci::read_annotations;
using runhcs::oci::sandbox_info;
using runhcs::oci::sandbox_type_and_id;
using runhcs::test::temp_dir;

constexpr const char* prefix = "failed to deserialize valid OCI spec: ";

// A real runc config.json (trimmed from `runc spec` and a CRI sandbox), annotations in the middle.
const std::string runc_config = R"({
  "ociVersion": "1.0.2-dev",
  "process": {
    "terminal": false,
    "user": {"uid": 0, "gid": 0, "additionalGids": [10, 11]},
    "args": ["sh", "-c", "echo \"annotations\": {}"],
    "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
    "cwd": "/",
    "capabilities": {
      "bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
      "effective": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
      "permitted": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
    },
    "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
    "noNewPrivileges": true,
    "oomScoreAdj": -998
  },
  "root": {"path": "rootfs", "readonly": true},
  "hostname": "runc",
  "annotations": {
    "io.kubernetes.cri.container-type": "sandbox",
    "io.kubernetes.cri.sandbox-id": "4f1c2b",
    "io.kubernetes.cri.sandbox-name": "nginx-7c5ddbdf54-abcde",
    "io.kubernetes.cri.sandbox-namespace": "default",
    "io.kubernetes.cri.sandbox-cpu-quota": "0"
  },
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
     "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {"destination": "/sys", "type": "sysfs", "source": "sysfs",
     "options": ["nosuid", "noexec", "nodev", "ro"]}
  ],
  "linux": {
    "resources": {"devices": [{"allow": false, "access": "rwm"}], "cpu": {"shares": 2, "period": 100000, "quota": -1.5e3}},
    "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}],
    "maskedPaths": ["/proc/acpi", "/proc/kcore"],
    "readonlyPaths": ["/proc/bus", "/proc/fs"],
    "seccomp": null,
    "annotations": {"nested": 1}
  }
}
)";

TEST(ReadAnnotations, RealRuncConfigKeepsOnlyTheAnnotations) {
  temp_dir dir;
  auto got = read_annotations(dir.write("config.json", runc_config));
  ASSERT_TRUE(got) << got.error().message;
  const annotation_map expected = {
      {"io.kubernetes.cri.container-type", "sandbox"},
      {"io.kubernetes.cri.sandbox-id", "4f1c2b"},
      {"io.kubernetes.cri.sandbox-name", "nginx-7c5ddbdf54-abcde"},
      {"io.kubernetes.cri.sandbox-namespace", "default"},
      {"io.kubernetes.cri.sandbox-cpu-quota", "0"},
  };
  EXPECT_EQ(*got, expected);
}

struct good_case {
  const char* name;
  std::string json;
  annotation_map expected;
};

void PrintTo(const good_case& c, std::ostream* os) {
  *os << c.name;
}

class ReadsLikeGo : public testing::TestWithParam<good_case> {};

TEST_P(ReadsLikeGo, Decodes) {
  temp_dir dir;
  auto got = read_annotations(dir.write("config.json", GetParam().json));
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(*got, GetParam().expected);
}

INSTANTIATE_TEST_SUITE_P(
    Table, ReadsLikeGo,
    testing::Values(
        good_case{"no_annotations", R"({"ociVersion":"1.0.2"})", {}},
        good_case{"empty_object", "{}", {}},
        good_case{"null_annotations", R"({"annotations":null})", {}},
        good_case{"top_level_null", "null", {}},
        good_case{"empty_annotations", R"({"annotations":{}})", {}},
        good_case{"unicode_escapes",
                  R"({"annotations":{"k\u00e9y":"\u00e9\u4e2d\ud83d\ude00 \"q\" \\ \/ \n\t"}})",
                  {{"k\xc3\xa9y", "\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80 \"q\" \\ / \n\t"}}},
        good_case{
            "escaped_nul", R"({"annotations":{"a":"x\u0000y"}})", {{"a", std::string("x\0y", 3)}}},
        good_case{
            "raw_utf8", "{\"annotations\":{\"a\":\"\xe4\xb8\xad\"}}", {{"a", "\xe4\xb8\xad"}}},
        good_case{"duplicate_key_last_wins",
                  R"({"annotations":{"a":"1","b":"x","a":"2"}})",
                  {{"a", "2"}, {"b", "x"}}},
        good_case{"second_annotations_merges",
                  R"({"annotations":{"a":"1","b":"1"},"annotations":{"b":"2"}})",
                  {{"a", "1"}, {"b", "2"}}},
        good_case{
            "later_null_annotations_clears", R"({"annotations":{"a":"1"},"annotations":null})", {}},
        good_case{"null_value_is_empty", R"({"annotations":{"a":null}})", {{"a", ""}}},
        good_case{"field_name_case_insensitive", R"({"Annotations":{"a":"1"}})", {{"a", "1"}}},
        good_case{"annotations_key_inside_values_ignored",
                  R"({"x":{"annotations":{"no":1}},"y":["annotations"],"annotations":{"a":"1"}})",
                  {{"a", "1"}}},
        good_case{
            "trailing_garbage_ignored", R"({"annotations":{"a":"1"}} }}} not json)", {{"a", "1"}}},
        good_case{"second_value_ignored",
                  "{\"annotations\":{\"a\":\"1\"}}\n{\"annotations\":5}",
                  {{"a", "1"}}},
        good_case{
            "whitespace_around", " \n\t{ \"annotations\" : { \"a\" : \"1\" } } \n", {{"a", "1"}}},
        good_case{
            "depth_64_is_fine",
            R"({"annotations":{"a":"1"},"x":)" + std::string(63, '[') + std::string(63, ']') + "}",
            {{"a", "1"}}}),
    [](const auto& test) { return std::string(test.param.name); });

struct bad_case {
  const char* name;
  std::string json;
  std::string detail;  // the message after "failed to deserialize valid OCI spec: "
};

void PrintTo(const bad_case& c, std::ostream* os) {
  *os << c.name;
}

class RejectsWithAMessage : public testing::TestWithParam<bad_case> {};

TEST_P(RejectsWithAMessage, InvalidSpec) {
  temp_dir dir;
  auto got = read_annotations(dir.write("config.json", GetParam().json));
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, errc::invalid_spec);
  EXPECT_EQ(got.error().message, prefix + GetParam().detail);
}

INSTANTIATE_TEST_SUITE_P(
    Table, RejectsWithAMessage,
    testing::Values(
        bad_case{"empty_file", "", "EOF"}, bad_case{"only_whitespace", " \n ", "EOF"},
        bad_case{"truncated", R"({"annotations":{"a":"1")", "unexpected EOF"},
        bad_case{"truncated_in_string", R"({"annotations":{"a":"1)", "unexpected EOF"},
        bad_case{"missing_colon", R"({"a" 1})",
                 "missing a colon after a name of object member at offset 5"},
        bad_case{"not_json", "hello", "invalid value at offset 0"},
        bad_case{"single_quotes", "{'a':'b'}", "missing a name for object member at offset 1"},
        bad_case{"trailing_comma", R"({"annotations":{"a":"1",}})",
                 "missing a name for object member at offset 24"},
        bad_case{"control_char_in_string", "{\"annotations\":{\"a\":\"x\ny\"}}",
                 "invalid escape character in string at offset 22"},
        bad_case{"number_value", R"({"annotations":{"a":1}})",
                 "annotation \"a\" is a number, not a string"},
        bad_case{"bool_value", R"({"annotations":{"a":true}})",
                 "annotation \"a\" is a boolean, not a string"},
        bad_case{"object_value", R"({"annotations":{"a":{"b":"c"}}})",
                 "annotation \"a\" is an object, not a string"},
        bad_case{"array_value", R"({"annotations":{"a":["b"]}})",
                 "annotation \"a\" is an array, not a string"},
        bad_case{"annotations_array", R"({"annotations":["a"]})",
                 "annotations is an array, not an object"},
        bad_case{"annotations_string", R"({"annotations":"a=b"})",
                 "annotations is a string, not an object"},
        bad_case{"annotations_number", R"({"annotations":0})",
                 "annotations is a number, not an object"},
        bad_case{"top_level_array", R"([{"annotations":{}}])",
                 "the spec is an array, not an object"},
        bad_case{"top_level_string", R"("annotations")", "the spec is a string, not an object"},
        bad_case{"top_level_number", "42", "the spec is a number, not an object"},
        bad_case{"depth_65", R"({"x":)" + std::string(64, '[') + std::string(64, ']') + "}",
                 "nesting depth exceeds 64"},
        bad_case{"depth_10000",
                 R"({"x":)" + std::string(10000, '[') + std::string(10000, ']') + "}",
                 "nesting depth exceeds 64"},
        bad_case{"depth_10000_unclosed", std::string(10000, '['),
                 "the spec is an array, not an object"},
        bad_case{"deep_objects_unclosed",
                 [] {
                   std::string s;
                   for (int i = 0; i < 10000; ++i) {
                     s += "{\"a\":";
                   }
                   return s;
                 }(),
                 "nesting depth exceeds 64"}),
    [](const auto& test) { return std::string(test.param.name); });

// A document of exactly n bytes: {"annotations":{"a":"xxx..."}}.
std::string document_of_size(std::size_t n) {
  const std::string head = R"({"annotations":{"a":")";
  const std::string tail = R"("}})";
  return head + std::string(n - head.size() - tail.size(), 'x') + tail;
}

TEST(ReadAnnotations, ASpecOfExactlyTheBoundIsRead) {
  temp_dir dir;
  auto got = read_annotations(dir.write("config.json", document_of_size(max_spec_bytes)));
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(got->at("a").size(),
            max_spec_bytes - std::string(R"({"annotations":{"a":""}})").size());
}

TEST(ReadAnnotations, TrailingBytesBeyondTheBoundAreNotRead) {
  temp_dir dir;
  auto got = read_annotations(
      dir.write("config.json", document_of_size(max_spec_bytes) + std::string(1024, ' ')));
  ASSERT_TRUE(got) << got.error().message;
}

TEST(ReadAnnotations, ASpecOverTheBoundIsRefusedNamingTheBound) {
  temp_dir dir;
  auto got = read_annotations(dir.write("config.json", document_of_size(max_spec_bytes + 1)));
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, errc::invalid_spec);
  EXPECT_EQ(got.error().message,
            std::string(prefix) + "the spec is larger than the limit of 16 MiB");
}

TEST(ReadAnnotations, MissingFileIsGosOpenError) {
  temp_dir dir;
  const fs::path p = dir.path() / "config.json";
  auto got = read_annotations(p);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, std::errc::no_such_file_or_directory);
  EXPECT_EQ(got.error().message, "open " + p.string() + ": no such file or directory");
}

struct sandbox_case {
  const char* name;
  annotation_map annotations;
  container_type type;
  std::string id;
  std::string message;  // empty when the rules accept the annotations
};

void PrintTo(const sandbox_case& c, std::ostream* os) {
  *os << c.name;
}

class SandboxRules : public testing::TestWithParam<sandbox_case> {};

TEST_P(SandboxRules, FollowRunhcs) {
  const auto& c = GetParam();
  auto got = sandbox_type_and_id(c.annotations);
  if (c.message.empty()) {
    ASSERT_TRUE(got) << got.error().message;
    EXPECT_EQ(got->type, c.type);
    EXPECT_EQ(got->id, c.id);
  } else {
    ASSERT_FALSE(got);
    EXPECT_EQ(got.error().code, errc::invalid_argument);
    EXPECT_EQ(got.error().message, c.message);
  }
}

constexpr const char* type_key = "io.kubernetes.cri.container-type";
constexpr const char* id_key = "io.kubernetes.cri.sandbox-id";
const std::string invalid_type = "invalid 'io.kubernetes.cri.container-type': '";
const std::string type_without_id =
    "cannot specify 'io.kubernetes.cri.container-type' without 'io.kubernetes.cri.sandbox-id'";
const std::string id_without_type =
    "cannot specify 'io.kubernetes.cri.sandbox-id' without 'io.kubernetes.cri.container-type'";

INSTANTIATE_TEST_SUITE_P(
    Table, SandboxRules,
    testing::Values(
        sandbox_case{"none", {}, container_type::none, "", ""},
        sandbox_case{"unrelated_keys",
                     {{"io.kubernetes.cri.sandbox-name", "x"}},
                     container_type::none,
                     "",
                     ""},
        sandbox_case{"empty_id_alone", {{id_key, ""}}, container_type::none, "", ""},
        sandbox_case{"sandbox",
                     {{type_key, "sandbox"}, {id_key, "pod1"}},
                     container_type::sandbox,
                     "pod1",
                     ""},
        sandbox_case{"container",
                     {{type_key, "container"}, {id_key, "pod1"}},
                     container_type::container,
                     "pod1",
                     ""},
        sandbox_case{"empty_type",
                     {{type_key, ""}, {id_key, "pod1"}},
                     container_type::none,
                     "",
                     invalid_type + "'"},
        sandbox_case{
            "unknown_type", {{type_key, "pod"}}, container_type::none, "", invalid_type + "pod'"},
        sandbox_case{"type_is_case_sensitive",
                     {{type_key, "Sandbox"}, {id_key, "pod1"}},
                     container_type::none,
                     "",
                     invalid_type + "Sandbox'"},
        sandbox_case{"sandbox_without_id",
                     {{type_key, "sandbox"}},
                     container_type::none,
                     "",
                     type_without_id},
        sandbox_case{"sandbox_with_empty_id",
                     {{type_key, "sandbox"}, {id_key, ""}},
                     container_type::none,
                     "",
                     type_without_id},
        sandbox_case{"container_without_id",
                     {{type_key, "container"}},
                     container_type::none,
                     "",
                     type_without_id},
        sandbox_case{
            "id_without_type", {{id_key, "pod1"}}, container_type::none, "", id_without_type},
        sandbox_case{"other_runtimes_keys_ignored",
                     {{"io.kubernetes.cri-o.ContainerType", "sandbox"},
                      {"io.kubernetes.docker.type", "container"}},
                     container_type::none,
                     "",
                     ""}),
    [](const auto& test) { return std::string(test.param.name); });

TEST(CheckSandboxId, ASandboxMustBeServedUnderItsOwnId) {
  const std::string mismatch =
      "'id' and 'io.kubernetes.cri.sandbox-id' must match for "
      "'io.kubernetes.cri.container-type=sandbox'";
  auto bad = check_sandbox_id("other", sandbox_info{container_type::sandbox, "pod1"});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, errc::invalid_argument);
  EXPECT_EQ(bad.error().message, mismatch);
  EXPECT_TRUE(check_sandbox_id("pod1", sandbox_info{container_type::sandbox, "pod1"}));
  // Only a sandbox is checked: a container joins its pod's shim, a standalone has no pod.
  EXPECT_TRUE(check_sandbox_id("c1", sandbox_info{container_type::container, "pod1"}));
  EXPECT_TRUE(check_sandbox_id("c1", sandbox_info{container_type::none, ""}));
}

}  // namespace
