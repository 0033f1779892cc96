#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <kwh/util/time.hpp>

int main(int argc, char** argv) {
  // Unit tests run in a fixed site zone unless a test sets its own.
  kwh::set_site_timezone("UTC");
  doctest::Context context;
  context.applyCommandLine(argc, argv);
  return context.run();
}
