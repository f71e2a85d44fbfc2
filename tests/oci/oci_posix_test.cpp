// config.json open and read failures that only POSIX systems produce, with Go's wording.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "oci/annotations.hpp"
#include "temp_dir.hpp"

namespace {

namespace fs = std::filesystem;
using runhcs::oci::read_annotations;
using runhcs::test::temp_dir;

constexpr const char* prefix = "failed to deserialize valid OCI spec: ";

TEST(ReadAnnotations, PathThroughAFileIsGosOpenError) {
  temp_dir dir;
  const fs::path p = dir.write("bundle", "not a directory") / "config.json";
  auto got = read_annotations(p);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, std::errc::not_a_directory);
  EXPECT_EQ(got.error().message, "open " + p.string() + ": not a directory");
}

TEST(ReadAnnotations, SymlinkLoopIsGosOpenError) {
  temp_dir dir;
  const fs::path p = dir.path() / "config.json";
  fs::create_symlink(p, p);
  auto got = read_annotations(p);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, std::errc::too_many_symbolic_link_levels);
  EXPECT_EQ(got.error().message, "open " + p.string() + ": too many levels of symbolic links");
}

TEST(ReadAnnotations, DirectoryInPlaceOfTheFileIsGosReadError) {
  // Go opens a directory fine and fails on the first read; the decoder wraps that error.
  temp_dir dir;
  const fs::path p = dir.path() / "config.json";
  fs::create_directory(p);
  auto got = read_annotations(p);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, std::errc::is_a_directory);
  EXPECT_EQ(got.error().message, std::string(prefix) + "read " + p.string() + ": is a directory");
}

TEST(ReadAnnotations, UnreadableFileIsRefusedUnlessRoot) {
  temp_dir dir;
  const fs::path p = dir.write("config.json", R"({"annotations":{"a":"1"}})");
  ASSERT_EQ(::chmod(p.c_str(), 0), 0);
  auto got = read_annotations(p);
  if (::geteuid() == 0) {
    // root reads through the mode, like Go's os.OpenFile would.
    ASSERT_TRUE(got) << got.error().message;
    EXPECT_EQ(got->at("a"), "1");
  } else {
    ASSERT_FALSE(got);
    EXPECT_EQ(got.error().message, "open " + p.string() + ": permission denied");
  }
}

}  // namespace
