# install-system.cmake: runs at install time (`make install`, `cmake
# --install`, CPack), when the prefix is known: the files whose place
# depends on it. With prefix /usr (the Debian package) the configuration
# goes to /etc and the unit to /lib/systemd/system (Debian 12's place);
# with any other prefix both stay under it (/usr/local/etc/mqgate,
# /usr/local/lib/systemd/system, which systemd also reads).
# Set by packaging/CMakeLists.txt: MQG_PACKAGING_SRC, MQG_PACKAGING_BIN,
# MQG_BINDIR, MQG_DOCDIR, MQG_PRIVATE_LIBDIR (relative to the prefix),
# MQG_INI, MQG_PROGRAMS, MQG_PRIVATE_LIBS, MQG_STRIP, MQG_BSSL_SRC_LIBDIR
# (where the private BoringSSL comes from, or empty).
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(etc "/etc")
  set(unitdir "/lib/systemd/system")
else()
  set(etc "${CMAKE_INSTALL_PREFIX}/etc")
  set(unitdir "${CMAKE_INSTALL_PREFIX}/lib/systemd/system")
endif()
set(MQG_CONF "${etc}/mqgate/mqgate.ini")
set(MQG_BINDIR "${CMAKE_INSTALL_PREFIX}/${MQG_BINDIR}")
set(MQG_DOCDIR "${CMAKE_INSTALL_PREFIX}/${MQG_DOCDIR}")
set(MQG_PRIVATE_LIBDIR "${CMAKE_INSTALL_PREFIX}/${MQG_PRIVATE_LIBDIR}")

# The private BoringSSL: Debian's recipe gives libssl the RUNPATH
# $ORIGIN:/usr/lib/<triplet>/android; the copy here finds its libcrypto
# beside it and must never reach the packaged (OPENSSL_SMALL) one.
foreach(lib ${MQG_PRIVATE_LIBS})
  set(f "$ENV{DESTDIR}${MQG_PRIVATE_LIBDIR}/${lib}")
  unset(runpath)
  unset(rpath)
  file(READ_ELF "${f}" RUNPATH runpath RPATH rpath)
  if(runpath OR rpath)
    file(RPATH_SET FILE "${f}" NEW_RPATH "$ORIGIN")
  endif()
endforeach()

configure_file("${MQG_PACKAGING_SRC}/mqgate.service.in" "${MQG_PACKAGING_BIN}/mqgate.service"
               @ONLY)
file(INSTALL "${MQG_PACKAGING_BIN}/mqgate.service" DESTINATION "${unitdir}"
     PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)

# An operator's edited configuration is never overwritten by `make
# install` (the package's is a conffile, which dpkg handles).
if(EXISTS "$ENV{DESTDIR}${MQG_CONF}")
  message(STATUS "Keeping: $ENV{DESTDIR}${MQG_CONF} (the example is ${MQG_INI})")
else()
  file(INSTALL "${MQG_INI}" DESTINATION "${etc}/mqgate"
       PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
endif()

# Stripping asked for (CPack, `cmake --install --strip`): also drop the
# .comment and .note sections, as Debian's dh_strip does.
if(CMAKE_INSTALL_DO_STRIP AND MQG_STRIP)
  set(files)
  foreach(p ${MQG_PROGRAMS})
    list(APPEND files "$ENV{DESTDIR}${MQG_BINDIR}/${p}")
  endforeach()
  foreach(lib ${MQG_PRIVATE_LIBS})
    list(APPEND files "$ENV{DESTDIR}${MQG_PRIVATE_LIBDIR}/${lib}")
  endforeach()
  foreach(f ${files})
    # --strip-unneeded keeps what a shared library exports.
    execute_process(COMMAND "${MQG_STRIP}" --strip-unneeded --remove-section=.comment
                            --remove-section=.note "${f}" RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR "strip of ${f} failed")
    endif()
  endforeach()
endif()

# The private BoringSSL's marker (policy/bsslinfo.h), so that the installed
# programs' --version and start-up log can tell it is the full-speed build:
# written for the installed copies as they end up (RUNPATH set, stripped),
# and only when the copies' source is scripts/boringssl.sh's build, checked
# against its own marker.
if(MQG_BSSL_SRC_LIBDIR AND EXISTS "${MQG_BSSL_SRC_LIBDIR}/BORINGSSL-BUILD")
  file(STRINGS "${MQG_BSSL_SRC_LIBDIR}/BORINGSSL-BUILD" src_marker)
  list(GET src_marker 0 first)
  set(text "${first}\n")
  foreach(lib ${MQG_PRIVATE_LIBS})
    file(SHA256 "${MQG_BSSL_SRC_LIBDIR}/${lib}" src_hash)
    list(FIND src_marker "${src_hash}  ${lib}" found)
    if(found EQUAL -1)
      message(FATAL_ERROR "${MQG_BSSL_SRC_LIBDIR}/${lib} does not match its BORINGSSL-BUILD "
                          "marker: run `make boringssl` again")
    endif()
    file(SHA256 "$ENV{DESTDIR}${MQG_PRIVATE_LIBDIR}/${lib}" hash)
    string(APPEND text "${hash}  ${lib}\n")
  endforeach()
  file(WRITE "${MQG_PACKAGING_BIN}/BORINGSSL-BUILD" "${text}")
  file(INSTALL "${MQG_PACKAGING_BIN}/BORINGSSL-BUILD" DESTINATION "${MQG_PRIVATE_LIBDIR}"
       PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
endif()
