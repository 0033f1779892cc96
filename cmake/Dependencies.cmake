# Every dependency comes from a Debian 12 package. When one is missing, say which package
# installs it rather than leaving the user with CMake's generic message.
find_package(PkgConfig REQUIRED)

function(kwh_require found what package)
  if(NOT ${found})
    message(FATAL_ERROR "kwh needs ${what}: install the Debian package '${package}' "
                        "(apt-get install ${package}), or run tools/kwh-dev setup")
  endif()
endfunction()

find_package(CLI11 2.1 QUIET CONFIG)
kwh_require(CLI11_FOUND "CLI11 >= 2.1" libcli11-dev)

find_package(Boost 1.74 QUIET)
kwh_require(Boost_FOUND "Boost >= 1.74 (Asio, Beast)" libboost-dev)

find_package(fmt 9 QUIET CONFIG)
kwh_require(fmt_FOUND "fmt >= 9" libfmt-dev)

find_package(Threads REQUIRED)

pkg_check_modules(MODBUS QUIET IMPORTED_TARGET libmodbus>=3.1.6)
kwh_require(MODBUS_FOUND "libmodbus >= 3.1.6" libmodbus-dev)

pkg_check_modules(SQLITE3 QUIET IMPORTED_TARGET sqlite3>=3.40)
kwh_require(SQLITE3_FOUND "SQLite >= 3.40" libsqlite3-dev)

pkg_check_modules(TOMLPP QUIET IMPORTED_TARGET tomlplusplus>=3.3)
kwh_require(TOMLPP_FOUND "toml++ >= 3.3" libtomlplusplus-dev)

pkg_check_modules(LIBCRYPTO QUIET IMPORTED_TARGET libcrypto>=3.0)
kwh_require(LIBCRYPTO_FOUND "OpenSSL's libcrypto >= 3.0" libssl-dev)

pkg_check_modules(LIBPQ QUIET IMPORTED_TARGET libpq>=13)
kwh_require(LIBPQ_FOUND "libpq >= 13 (PostgreSQL's client library, for the hub)" libpq-dev)
# Loaded when kwh first talks to a hub (dlopen by its soname), as libxlsxwriter below.
find_library(KWH_LIBPQ_LIBRARY NAMES pq HINTS ${LIBPQ_LIBRARY_DIRS})
execute_process(COMMAND ${CMAKE_OBJDUMP} -p ${KWH_LIBPQ_LIBRARY} OUTPUT_VARIABLE _kwh_pq_dump ERROR_QUIET)
string(REGEX MATCH "SONAME +([^ \n]+)" _kwh_pq_soname "${_kwh_pq_dump}")
set(KWH_LIBPQ_SONAME "${CMAKE_MATCH_1}")
kwh_require(KWH_LIBPQ_SONAME "the soname of libpq (objdump -p ${KWH_LIBPQ_LIBRARY})" binutils)

pkg_check_modules(XLSXWRITER QUIET IMPORTED_TARGET xlsxwriter>=1.1)
kwh_require(XLSXWRITER_FOUND "libxlsxwriter >= 1.1" libxlsxwriter-dev)
# kwh loads libxlsxwriter only when it writes a workbook (dlopen by its soname): linked, it
# would cost every kwh command, a sale included, a quarter of its instructions at start.
find_library(KWH_XLSXWRITER_LIBRARY NAMES xlsxwriter HINTS ${XLSXWRITER_LIBRARY_DIRS})
execute_process(COMMAND ${CMAKE_OBJDUMP} -p ${KWH_XLSXWRITER_LIBRARY} OUTPUT_VARIABLE _kwh_xlsx_dump ERROR_QUIET)
string(REGEX MATCH "SONAME +([^ \n]+)" _kwh_xlsx_soname "${_kwh_xlsx_dump}")
set(KWH_XLSXWRITER_SONAME "${CMAKE_MATCH_1}")
kwh_require(KWH_XLSXWRITER_SONAME "the soname of libxlsxwriter (objdump -p ${KWH_XLSXWRITER_LIBRARY})" binutils)

if(KWH_TESTS)
  find_package(doctest 2.4 QUIET CONFIG)
  kwh_require(doctest_FOUND "doctest >= 2.4" doctest-dev)
endif()
