# One interface target carries warnings and sanitizer flags to every kwh target.
add_library(kwh_options INTERFACE)
target_compile_options(kwh_options INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wcast-align
  -Wunused -Wno-missing-field-initializers -Woverloaded-virtual -Wimplicit-fallthrough)
target_compile_definitions(kwh_options INTERFACE
  KWH_VERSION="${PROJECT_VERSION}"
  BOOST_ASIO_NO_DEPRECATED)

if(KWH_SANITIZE)
  target_compile_options(kwh_options INTERFACE
    -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  target_link_options(kwh_options INTERFACE -fsanitize=address,undefined)
endif()

# Fuzzing (tests/fuzz): all of libkwh is instrumented for libFuzzer and checked by ASan and
# UBSan; each fuzz target adds -fsanitize=fuzzer when it links. Needs clang.
if(KWH_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "KWH_FUZZ needs clang: CC=clang CXX=clang++ cmake -DKWH_FUZZ=ON ...")
  endif()
  target_compile_options(kwh_options INTERFACE
    -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  target_link_options(kwh_options INTERFACE -fsanitize=address,undefined)
endif()
