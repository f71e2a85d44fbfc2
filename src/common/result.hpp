// result<T>: a value or a runhcs::error, for the expected failures of every layer.
#pragma once

#include <boost/system/result.hpp>

#include "common/error.hpp"

namespace runhcs {

template <class T>
using result = boost::system::result<T, error>;

// boost::system::result calls this when value() is taken from a failed result.
[[noreturn]] void throw_exception_from_error(const error& e,
                                             const boost::source_location& location);

}  // namespace runhcs
