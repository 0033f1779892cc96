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
install(DIRECTORY ${PROJECT_SOURCE_DIR}/examples/tariffs ${PROJECT_SOURCE_DIR}/examples/profiles
        DESTINATION ${KWH_DOCDIR}/examples FILES_MATCHING PATTERN "*.toml")
install(DIRECTORY ${PROJECT_SOURCE_DIR}/examples/cron DESTINATION ${KWH_DOCDIR}/examples
        USE_SOURCE_PERMISSIONS)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/examples/commissioning DESTINATION ${KWH_DOCDIR}/examples
        FILES_MATCHING PATTERN "*.csv")
install(DIRECTORY ${PROJECT_SOURCE_DIR}/examples/profiles/ DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/kwh/profiles
        FILES_MATCHING PATTERN "*.toml")

# The Debian package.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME kwh)
set(CPACK_PACKAGE_VENDOR "the kwh project")
set(CPACK_PACKAGE_CONTACT "kwh maintainers <kwh@localhost>")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "kwh maintainers <kwh@localhost>")
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
# postinst creates the kwh user and folders (sysusers.d, tmpfiles.d); nothing is enabled or
# started. prerm stops kwh-serve and kwhd on removal.
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
