# Warnings, sanitizers and link options shared by every target of ours.
add_library(runhcs_options INTERFACE)
target_compile_options(runhcs_options INTERFACE -Wall -Wextra -Wpedantic -Wshadow
                                                -Wnon-virtual-dtor -Wimplicit-fallthrough
                                                # C++20 designated initializers omit members
                                                # on purpose; GCC 12 warns about it anyway.
                                                -Wno-missing-field-initializers)
if(RUNHCS_WERROR)
  target_compile_options(runhcs_options INTERFACE -Werror)
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
  target_link_options(runhcs_options INTERFACE -static)
  target_link_libraries(runhcs_options INTERFACE ws2_32 mswsock bcrypt)
endif()
