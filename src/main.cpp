// containerd-shim-runhcs-v1: all of it lives in the libraries; main only hands over argv.
#include <string_view>
#include <vector>

#include "cli/app.hpp"

int main(int argc, char** argv) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  return runhcs::cli::run(args);
}
