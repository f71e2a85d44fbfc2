// The path of this binary, which start launches again as `serve`.
#pragma once

#include <filesystem>

#include "common/result.hpp"

namespace runhcs::shim {

result<std::filesystem::path> self_executable();

}  // namespace runhcs::shim
