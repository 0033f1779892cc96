# What `cmake --install` puts where, and the Debian package (`cpack -G DEB` in the build dir).
# Paths are relative to the prefix; packages use /usr. The tests in tests/e2e/ship_*.sh check
# that every file listed here is installed and packaged.

add_subdirectory(${PROJECT_SOURCE_DIR}/man ${PROJECT_BINARY_DIR}/man)
add_subdirectory(${PROJECT_SOURCE_DIR}/completions ${PROJECT_BINARY_DIR}/completions)

# Both programs in bin: the units' ExecStart lines name $prefix/bin/kwhd and $prefix/bin/kwh.
install(TARGETS kwh_cli kwhd RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# systemd: the units (kwhd, and kwh serve for the tenants' pages), the kwh user (sysusers.d)
# and its folders (tmpfiles.d). They go to lib/ under the prefix, not to CMAKE_INSTALL_LIBDIR
# (which is multiarch on Debian). The units name /usr/bin/kwhd and /usr/bin/kwh; an install
# to another prefix (/usr/local by default) gets its own path, written at install time because
# `cmake --install --prefix` and cpack choose the prefix after configuring.
foreach(unit_name kwhd.service kwh-serve.service)
  set(KWH_UNIT_SOURCE ${PROJECT_SOURCE_DIR}/daemon/systemd/${unit_name})
  set(KWH_UNIT_NAME ${unit_name})
  string(CONFIGURE [[
    set(unit_dir "${CMAKE_INSTALL_PREFIX}/lib/systemd/system")
    file(READ "@KWH_UNIT_SOURCE@" unit)
    string(REPLACE "ExecStart=/usr/bin/" "ExecStart=${CMAKE_INSTALL_PREFIX}/@CMAKE_INSTALL_BINDIR@/" unit "${unit}")
    file(MAKE_DIRECTORY "$ENV{DESTDIR}${unit_dir}")
    message(STATUS "Installing: $ENV{DESTDIR}${unit_dir}/@KWH_UNIT_NAME@")
    file(WRITE "$ENV{DESTDIR}${unit_dir}/@KWH_UNIT_NAME@" "${unit}")
    list(APPEND CMAKE_INSTALL_MANIFEST_FILES "${unit_dir}/@KWH_UNIT_NAME@")
  ]] kwh_install_unit @ONLY)
  install(CODE "${kwh_install_unit}")
endforeach()
install(FILES ${PROJECT_SOURCE_DIR}/daemon/systemd/kwh.sysusers.conf DESTINATION lib/sysusers.d RENAME kwh.conf)
install(FILES ${PROJECT_SOURCE_DIR}/daemon/systemd/kwh.tmpfiles.conf DESTINATION lib/tmpfiles.d RENAME kwh.conf)

# Examples for the site's administrator, and the built-in profiles where tools can find them.
set(KWH_DOCDIR ${CMAKE_INSTALL_DATAROOTDIR}/doc/kwh)
install(FILES ${PROJECT_SOURCE_DIR}/examples/kwh.toml DESTINATION ${KWH_DOCDIR}/examples)
install(FILES ${PROJECT_SOURCE_DIR}/docs/contract.md DESTINATION ${KWH_DOCDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/examples/tariffs ${PROJECT_SOURCE_DIR}/examples/profiles
        DESTINATION ${KWH_DOCDIR}/examples FILES_MATCHING PATTERN "*.toml")
install(DIRECTORY ${PROJECT_SOURCE_DIR}/examples/cron DESTINATION ${KWH_DOCDIR}/examples
        USE_SOURCE_PERMISSIONS)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/examples/hooks DESTINATION ${KWH_DOCDIR}/examples
        USE_SOURCE_PERMISSIONS)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/examples/commissioning DESTINATION ${KWH_DOCDIR}/examples
        FILES_MATCHING PATTERN "*.csv")
install(DIRECTORY ${PROJECT_SOURCE_DIR}/examples/profiles/ DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/kwh/profiles
        FILES_MATCHING PATTERN "*.toml")

# The Debian package.
# Its maintainer: the Maintainer field and the signature of the changelog's entries. Whoever
# builds and ships the package for a site sets their own (-DKWH_MAINTAINER="Name <address>").
set(KWH_MAINTAINER "kwh developers <maintainers@kwh-energy.org>" CACHE STRING
    "Maintainer of the Debian package, as \"Name <address>\"")
if(NOT KWH_MAINTAINER MATCHES "^[^<>@]*[^<>@ ] <[^<>@ ]+@([^<>@ ]+)>$")
  message(FATAL_ERROR "KWH_MAINTAINER is \"${KWH_MAINTAINER}\": it must be \"Name <address>\", "
                      "e.g. -DKWH_MAINTAINER=\"Jane Doe <jane@example.org>\"")
endif()
set(kwh_mail_host "${CMAKE_MATCH_1}")
if(NOT kwh_mail_host MATCHES "[.]" OR kwh_mail_host MATCHES "(^|[.])(localhost|localdomain|local|invalid)$")
  message(FATAL_ERROR "KWH_MAINTAINER is \"${KWH_MAINTAINER}\": a package's maintainer needs an "
                      "address that receives mail, not one at ${kwh_mail_host}")
endif()
set(KWH_HOMEPAGE "" CACHE STRING
    "Where kwh is published (optional): the package's Homepage and its copyright file's Source")

# /usr/share/doc/kwh/copyright, in Debian's machine-readable format, from LICENSE.
file(READ ${PROJECT_SOURCE_DIR}/LICENSE kwh_license)
if(NOT kwh_license MATCHES "Copyright \\(c\\) ([^\n]+)\n")
  message(FATAL_ERROR "LICENSE has no \"Copyright (c) YEAR HOLDER\" line")
endif()
set(kwh_copyright_holder "${CMAKE_MATCH_1}")
string(FIND "${kwh_license}" "Permission is hereby granted" kwh_at)
if(kwh_at EQUAL -1)
  message(FATAL_ERROR "LICENSE is not the MIT (Expat) license text")
endif()
string(SUBSTRING "${kwh_license}" ${kwh_at} -1 kwh_license)
string(STRIP "${kwh_license}" kwh_license)
string(REPLACE "\n\n" "\n.\n" kwh_license "${kwh_license}")
string(REPLACE "\n" "\n " kwh_license " ${kwh_license}")
if(KWH_HOMEPAGE)
  set(kwh_source "${KWH_HOMEPAGE}")
else()
  set(kwh_source "the kwh source tree this package was built from")
endif()
file(CONFIGURE OUTPUT ${PROJECT_BINARY_DIR}/deb/copyright @ONLY CONTENT [[
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: kwh
Upstream-Contact: @KWH_MAINTAINER@
Source: @kwh_source@

Files: *
Copyright: @kwh_copyright_holder@
License: Expat
@kwh_license@
]])
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/LICENSE)

# /usr/share/doc/kwh/changelog.gz (kwh is a native package: its own upstream), from the Debian
# changelog in daemon/systemd/deb, whose entries are signed by KWH_MAINTAINER. Its top entry
# is the version being built: a release adds its entry there when it raises the version in
# CMakeLists.txt.
set(kwh_changelog ${PROJECT_SOURCE_DIR}/daemon/systemd/deb/changelog)
file(READ ${kwh_changelog} kwh_changelog_top LIMIT 200)
if(NOT kwh_changelog_top MATCHES "^kwh \\(([^() ]+)\\) [a-z-]+; urgency=[a-z]+\n")
  message(FATAL_ERROR "daemon/systemd/deb/changelog does not start with a line "
                      "\"kwh (VERSION) unstable; urgency=medium\"")
endif()
if(NOT CMAKE_MATCH_1 STREQUAL PROJECT_VERSION)
  message(FATAL_ERROR "daemon/systemd/deb/changelog's latest entry is version ${CMAKE_MATCH_1}, "
                      "but CMakeLists.txt says ${PROJECT_VERSION}: add an entry for ${PROJECT_VERSION} "
                      "at its top")
endif()
configure_file(${kwh_changelog} ${PROJECT_BINARY_DIR}/deb/changelog @ONLY)
add_custom_command(OUTPUT ${PROJECT_BINARY_DIR}/deb/changelog.gz
  COMMAND sh -c "gzip -9n < \"$0\" > \"$1.tmp\" && mv \"$1.tmp\" \"$1\""
          ${PROJECT_BINARY_DIR}/deb/changelog ${PROJECT_BINARY_DIR}/deb/changelog.gz
  DEPENDS ${PROJECT_BINARY_DIR}/deb/changelog
  COMMENT "gzip changelog"
  VERBATIM)
add_custom_target(deb_changelog ALL DEPENDS ${PROJECT_BINARY_DIR}/deb/changelog.gz)
install(FILES ${PROJECT_BINARY_DIR}/deb/copyright ${PROJECT_BINARY_DIR}/deb/changelog.gz
        DESTINATION ${KWH_DOCDIR})

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME kwh)
set(CPACK_PACKAGE_VENDOR "the kwh project")
set(CPACK_PACKAGE_CONTACT "${KWH_MAINTAINER}")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_KWH_STRIP "${CMAKE_STRIP}")
set(CPACK_KWH_LINTIAN_OVERRIDES ${PROJECT_SOURCE_DIR}/daemon/systemd/deb/lintian-overrides)
set(CPACK_PRE_BUILD_SCRIPTS ${PROJECT_SOURCE_DIR}/cmake/DebStaging.cmake)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${KWH_MAINTAINER}")
if(KWH_HOMEPAGE)
  set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "${KWH_HOMEPAGE}")
endif()
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# kwh loads libxlsxwriter when it writes a workbook, and libpq when it talks to a hub (dlopen),
# which dpkg-shlibdeps cannot see.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "libxlsxwriter4, libpq5")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
# postinst creates the kwh user and folders (sysusers.d, tmpfiles.d); nothing is enabled or
# started. prerm stops kwh-serve and kwhd on removal. Units are handled as debhelper does:
# deb-systemd-helper records them (purge removes what the administrator enabled),
# deb-systemd-invoke stops them, systemctl only reloads.
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${PROJECT_SOURCE_DIR}/daemon/systemd/deb/postinst
  ${PROJECT_SOURCE_DIR}/daemon/systemd/deb/prerm
  ${PROJECT_SOURCE_DIR}/daemon/systemd/deb/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "prepaid energy management: Modbus polling daemon and CLI")
# CPack puts the summary on the Description: line and this text below it.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "kwh makes the tenants of a sub-metered site (a mall, an industrial park, a
campus, an apartment block) pay for electricity and water before they use it.
The daemon kwhd polls electricity and water meters over Modbus (TCP, RTU over
TCP, RS-485 serial) and writes readings to one SQLite database; the kwh tool
opens accounts, sells and refunds credit, bills consumption on tariffs,
switches relays and prints reports.")
include(CPack)
