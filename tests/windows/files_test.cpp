// Windows behaviour of the OS-neutral pieces: addresses, durations and ids as on Linux, and
// the bundle files' atomic replace.
#include <windows.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/duration.hpp"
#include "common/identifier.hpp"
#include "shim/address.hpp"
#include "shim/bundle_files.hpp"
#include "test_support.hpp"

namespace {

using namespace runhcs;
namespace fs = std::filesystem;

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// A fresh directory under %TEMP%, removed afterwards.
struct temp_dir {
  fs::path path;
  temp_dir() {
    path = fs::temp_directory_path() / ("runhcs-test-" + std::to_string(::GetCurrentProcessId()) +
                                        "-" + std::to_string(::GetTickCount64()));
    fs::create_directories(path);
  }
  ~temp_dir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& entry : fs::directory_iterator(path)) {
      out.push_back(entry.path().filename().string());
    }
    return out;
  }
};

TEST(addresses, shim_address_is_runhcs_protected_pipe) {
  EXPECT_EQ(shim::shim_address({.containerd_address = R"(\\.\pipe\containerd-containerd)",
                                .ns = "k8s.io",
                                .id = "pod-1",
                                .socket_dir = ""}),
            R"(\\.\pipe\ProtectedPrefix\Administrators\containerd-shim-k8s.io-pod-1-pipe)");
}

TEST(durations_and_ids, behave_as_on_linux) {
  EXPECT_EQ(parse_duration("1m30s"), std::chrono::seconds(90));
  EXPECT_EQ(parse_duration("250ms"), std::chrono::milliseconds(250));
  EXPECT_FALSE(parse_duration("5 s").has_value());
  EXPECT_EQ(format_duration(std::chrono::milliseconds(1500)), "1.5s");
  EXPECT_TRUE(is_valid_identifier("k8s.io"));
  EXPECT_FALSE(is_valid_identifier(R"(a\b)"));
  EXPECT_FALSE(is_valid_identifier("a/b"));
}

TEST(bundle_files, atomic_write_replaces_an_existing_file_and_leaves_no_temp_file) {
  temp_dir dir;
  const auto target = dir.path / "address";
  {
    std::ofstream old(target, std::ios::binary);
    old << "an older and longer address";
  }
  auto written = shim::write_file_atomic(target, R"(\\.\pipe\new)");
  ASSERT_TRUE(written.has_value()) << written.error().message;
  EXPECT_EQ(slurp(target), R"(\\.\pipe\new)");
  EXPECT_EQ(dir.names(), std::vector<std::string>{"address"});

  // And again: each write replaces the previous one whole.
  written = shim::write_file_atomic(target, "1234");
  ASSERT_TRUE(written.has_value()) << written.error().message;
  EXPECT_EQ(slurp(target), "1234");
  EXPECT_EQ(dir.names(), std::vector<std::string>{"address"});
}

TEST(bundle_files, a_failed_write_names_the_file_and_leaves_nothing) {
  temp_dir dir;
  const auto target = dir.path / "missing-dir" / "shim.pid";
  auto written = shim::write_file_atomic(target, "42");
  ASSERT_FALSE(written.has_value());
  EXPECT_NE(written.error().message.find("missing-dir"), std::string::npos)
      << written.error().message;
  EXPECT_TRUE(dir.names().empty());
}

TEST(bundle_files, a_target_that_cannot_be_replaced_leaves_no_temp_file) {
  temp_dir dir;
  const auto target = dir.path / "address";
  fs::create_directory(target);  // a directory cannot be replaced by a file
  auto written = shim::write_file_atomic(target, "x");
  EXPECT_FALSE(written.has_value());
  EXPECT_EQ(dir.names(), std::vector<std::string>{"address"});
}

}  // namespace
