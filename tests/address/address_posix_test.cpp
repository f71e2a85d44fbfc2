// The Linux shim address must be the one containerd and the Go runc shim compute for the same
// inputs; the golden hashes come from sha256sum and from Go's filepath.Join + sha256.Sum256.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "shim/address.hpp"

namespace {

using runhcs::shim::address_inputs;
using runhcs::shim::log_pipe_address;
using runhcs::shim::shim_address;

TEST(ShimAddress, MatchesSha256sumOfTheJoinedName) {
  // printf %s /run/containerd/containerd.sock/default/pod1 | sha256sum
  EXPECT_EQ(
      shim_address({"/run/containerd/containerd.sock", "default", "pod1", "/run/containerd/s"}),
      "unix:///run/containerd/s/"
      "d7ddcf8855c574bb9f6303100a7919bd8f9f6e011c611945861f6fa26dc0c66d");
}

TEST(ShimAddress, EmptySocketDirMeansTheDefault) {
  EXPECT_EQ(shim_address({"/run/containerd/containerd.sock", "default", "pod1", ""}),
            "unix:///run/containerd/s/"
            "d7ddcf8855c574bb9f6303100a7919bd8f9f6e011c611945861f6fa26dc0c66d");
}

struct go_case {
  const char* name;
  address_inputs in;
  std::string expected;
};

// containerd hashes filepath.Join(address, ns, id), which cleans the path: these were computed
// with Go 1.19's path/filepath and crypto/sha256.
void PrintTo(const go_case& c, std::ostream* os) {
  *os << c.name;
}

class GoJoin : public testing::TestWithParam<go_case> {};

TEST_P(GoJoin, HashesWhatGoHashes) {
  EXPECT_EQ(shim_address(GetParam().in), GetParam().expected);
}

INSTANTIATE_TEST_SUITE_P(
    Table, GoJoin,
    testing::Values(
        go_case{"trailing_slashes",
                {"/run/containerd/containerd.sock/", "k8s.io", "abc", "/run/containerd/s/"},
                "unix:///run/containerd/s/"
                "a99a1752d3a0fadfb1f869026f16760475df03a572e20f4ccea9e6c1e5470b72"},
        go_case{"scheme_and_double_slash",
                {"unix:///run/containerd//containerd.sock", "ns", "id", "/tmp/x/../s"},
                "unix:///tmp/s/f2d90dfe909afe9b40888f705b5ce6c538426e999dad065f86333cb23af0bf4c"},
        go_case{"empty_address",
                {"", "ns", "id", "/run"},
                "unix:///run/5fac6d261ce2b141fb306379f49b369314e0f558974b34c27d56d3f75a45f168"},
        go_case{"relative_with_dots",
                {"relative/../a/./b", "ns", "id", "/run"},
                "unix:///run/dd42a16ddc7bfb182e77dd04a95020cd4072c2e15e6f0de7364427a781528c66"},
        go_case{"dotdot_above_root",
                {"/a/../../b/..", "n", "i", "/run"},
                "unix:///run/f87439923080316bb4240eaab4d5e35001d4b0acca3397c02d508c98ab572d80"}),
    [](const auto& test) { return std::string(test.param.name); });

TEST(ShimAddress, EveryPartChangesTheName) {
  const address_inputs base{"/run/containerd/containerd.sock", "default", "pod1", "/s"};
  const std::string reference = shim_address(base);
  std::vector<address_inputs> variants = {
      {"/run/containerd/other.sock", "default", "pod1", "/s"},
      {"/run/containerd/containerd.sock", "k8s.io", "pod1", "/s"},
      {"/run/containerd/containerd.sock", "default", "pod2", "/s"},
  };
  for (const auto& v : variants) {
    EXPECT_NE(shim_address(v), reference) << v.containerd_address << " " << v.ns << " " << v.id;
  }
  // The name stays far below the 106-byte limit under the default directory.
  EXPECT_LT(shim_address({"/run/containerd/containerd.sock", "default", "pod1", ""}).size() - 7,
            106u);
}

TEST(LogPipeAddress, IsWindowsOnly) {
  EXPECT_EQ(log_pipe_address("default", "pod1"), "");
}

}  // namespace
