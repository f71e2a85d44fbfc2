# Warnings, sanitizers and link options shared by every target of ours.
add_library(runhcs_options INTERFACE)
if(MSVC)
  target_compile_options(runhcs_options INTERFACE /W4 /permissive- /utf-8 /bigobj)
  if(RUNHCS_WERROR)
    target_compile_options(runhcs_options INTERFACE /WX)
  endif()
else()
  target_compile_options(runhcs_options INTERFACE -Wall -Wextra -Wpedantic -Wshadow
                                                  -Wnon-virtual-dtor -Wimplicit-fallthrough
                                                  # C++20 designated initializers omit members
                                                  # on purpose; GCC 12 warns about it anyway.
                                                  -Wno-missing-field-initializers)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
    # GCC 12 at -O3 reports string concatenation as overlapping memcpy (GCC bug 105329).
    target_compile_options(runhcs_options INTERFACE -Wno-restrict)
  endif()
  if(RUNHCS_WERROR)
    target_compile_options(runhcs_options INTERFACE -Werror)
  endif()
endif()
if(RUNHCS_SANITIZE)
  target_compile_options(runhcs_options INTERFACE -fsanitize=address,undefined
                                                  -fno-omit-frame-pointer -fno-sanitize-recover=all)
  target_link_options(runhcs_options INTERFACE -fsanitize=address,undefined)
elseif(NOT WIN32)
  # A process start pays for every shared library it loads; start and serve are short-lived
  # and latency-critical (reference/performance-notes.md), so link the C++ runtime statically.
  target_link_options(runhcs_options INTERFACE -static-libstdc++ -static-libgcc)
endif()
if(WIN32)
  target_compile_definitions(runhcs_options INTERFACE _WIN32_WINNT=0x0A00 WIN32_LEAN_AND_MEAN
                                                      NOMINMAX BOOST_PROCESS_USE_STD_FS)
  target_link_libraries(runhcs_options INTERFACE ws2_32 mswsock bcrypt)
  if(NOT MSVC)
    target_link_options(runhcs_options INTERFACE -static)
  endif()
endif()
