# Run by cpack (CPACK_PRE_BUILD_SCRIPTS in cmake/Install.cmake) on the files it has installed
# and stripped for the Debian package, before it packs them:
# - the binaries lose .comment and .note, which only name the compiler (as dh_strip does);
# - lintian's overrides for the package go to /usr/share/lintian/overrides/kwh.
if(NOT CPACK_GENERATOR STREQUAL "DEB")
  return()
endif()
set(root "${CPACK_TEMPORARY_DIRECTORY}${CPACK_PACKAGING_INSTALL_PREFIX}")
if(CPACK_STRIP_FILES)
  file(GLOB bins "${root}/bin/*")
  foreach(bin IN LISTS bins)
    execute_process(COMMAND "${CPACK_KWH_STRIP}" --remove-section=.comment --remove-section=.note "${bin}"
                    RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR "${CPACK_KWH_STRIP} failed on ${bin}")
    endif()
  endforeach()
endif()
file(MAKE_DIRECTORY "${root}/share/lintian/overrides")
file(COPY_FILE "${CPACK_KWH_LINTIAN_OVERRIDES}" "${root}/share/lintian/overrides/kwh")
file(CHMOD "${root}/share/lintian/overrides/kwh" FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
