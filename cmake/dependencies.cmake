# Third-party packages, all from Debian 12 (or vcpkg on MSVC). Header-only where possible so
# that the binary loads no shared library but libc.
find_package(Threads REQUIRED)

# mingw cross build (cmake/mingw-w64.cmake): Debian has no mingw packages of these, only the
# host's headers. Never put /usr/include on the mingw include path: a directory in the build
# tree links just the header-only libraries, plus the capitalised Windows.h one Boost file
# wants. The targets below stand in for the find_package results further down.
if(CMAKE_CROSSCOMPILING AND WIN32)
  set(mingw_include ${CMAKE_BINARY_DIR}/mingw-include)
  file(MAKE_DIRECTORY ${mingw_include})
  foreach(lib boost fmt rapidjson spdlog)
    if(NOT EXISTS ${mingw_include}/${lib})
      file(CREATE_LINK /usr/include/${lib} ${mingw_include}/${lib} SYMBOLIC)
    endif()
  endforeach()
  file(CONFIGURE OUTPUT ${mingw_include}/Windows.h CONTENT "#include <windows.h>\n")
  add_library(Boost::headers INTERFACE IMPORTED)
  target_include_directories(Boost::headers SYSTEM INTERFACE ${mingw_include})
  add_library(fmt::fmt-header-only INTERFACE IMPORTED)
  target_include_directories(fmt::fmt-header-only SYSTEM INTERFACE ${mingw_include})
  target_compile_definitions(fmt::fmt-header-only INTERFACE FMT_HEADER_ONLY=1)
  add_library(spdlog::spdlog_header_only INTERFACE IMPORTED)
  target_compile_definitions(spdlog::spdlog_header_only INTERFACE SPDLOG_FMT_EXTERNAL)
  target_link_libraries(spdlog::spdlog_header_only INTERFACE fmt::fmt-header-only)
  set(RAPIDJSON_INCLUDE_DIR ${mingw_include} CACHE PATH "RapidJSON headers")
endif()

if(NOT TARGET Boost::headers)
  find_package(Boost 1.81 REQUIRED)
endif()
add_library(runhcs_asio INTERFACE)
target_link_libraries(runhcs_asio INTERFACE Boost::headers Threads::Threads runhcs_options)
target_compile_definitions(runhcs_asio INTERFACE BOOST_ASIO_NO_DEPRECATED
                                                 BOOST_ASIO_DISABLE_BOOST_COROUTINE)

if(NOT TARGET fmt::fmt-header-only)
  find_package(fmt 9 REQUIRED)
  find_package(spdlog 1.10 QUIET)
endif()
find_path(RAPIDJSON_INCLUDE_DIR rapidjson/reader.h REQUIRED)
add_library(runhcs_rapidjson INTERFACE)
target_include_directories(runhcs_rapidjson SYSTEM INTERFACE ${RAPIDJSON_INCLUDE_DIR})

if(RUNHCS_WITH_PROTOBUF)
  set(Protobuf_USE_STATIC_LIBS ON)
  find_package(Protobuf 3.21 REQUIRED)
endif()
if(NOT WIN32)
  set(OPENSSL_USE_STATIC_LIBS ON)
  find_package(OpenSSL 3 REQUIRED COMPONENTS Crypto)
endif()

# spdlog and fmt header-only: no shared library to load at process start.
add_library(runhcs_spdlog INTERFACE)
target_compile_definitions(runhcs_spdlog INTERFACE SPDLOG_HEADER_ONLY SPDLOG_FMT_EXTERNAL)
target_link_libraries(runhcs_spdlog INTERFACE fmt::fmt-header-only)
