# Which gRPC the project builds against (included by the top CMakeLists.txt,
# after find_package(Protobuf)). See docs/grpc-build.md.
#
# By default: the release build of gRPC 1.51.1 that deps/grpc/build_grpc.sh
# installs into INVENTORY_GRPC_PREFIX (static libraries, NDEBUG), found
# there and nowhere else. -DINVENTORY_SYSTEM_GRPC=ON: Debian's binary
# package (libgrpc++-dev, protobuf-compiler-grpc) instead.
#
# Defines the gRPC:: targets, and the INTERFACE target inventory_grpc_build
# whose generated header "deps/grpc/grpc_build.h" says which gRPC this is
# (INVENTORY_GRPC_BUILD: "release-1.51.1+patches:<list or none>" or
# "debian-binary") and which of the project's patches
# (deps/grpc/patches/series) it lacks (INVENTORY_GRPC_MISSING_PATCHES:
# comma-separated, empty when none; all of them for Debian's package).

option(INVENTORY_SYSTEM_GRPC
  "Build against Debian's gRPC binary package instead of the release build of deps/grpc/build_grpc.sh"
  OFF)
set(INVENTORY_GRPC_PREFIX "${PROJECT_SOURCE_DIR}/build-deps/grpc-1.51.1-release" CACHE PATH
  "Prefix of the release build of gRPC (deps/grpc/build_grpc.sh --prefix)")
get_filename_component(_inventory_grpc_prefix "${INVENTORY_GRPC_PREFIX}" ABSOLUTE)
set(_inventory_grpc_stamp "${_inventory_grpc_prefix}/inventory-grpc-build.txt")

# A gRPC_DIR cached by an earlier configure of the other kind would make
# find_package skip its search: forget it when it points elsewhere.
if(DEFINED CACHE{gRPC_DIR})
  string(FIND "${gRPC_DIR}/" "${_inventory_grpc_prefix}/" _inventory_grpc_in_prefix)
  if((INVENTORY_SYSTEM_GRPC AND _inventory_grpc_in_prefix EQUAL 0) OR
     (NOT INVENTORY_SYSTEM_GRPC AND NOT _inventory_grpc_in_prefix EQUAL 0))
    unset(gRPC_DIR CACHE)
  endif()
endif()

if(INVENTORY_SYSTEM_GRPC)
  find_package(gRPC 1.51.1 EXACT CONFIG REQUIRED)
  set(INVENTORY_GRPC_BUILD "debian-binary")
  message(STATUS "gRPC: Debian's binary package ${gRPC_VERSION} (${gRPC_DIR}), "
    "built without NDEBUG (INVENTORY_SYSTEM_GRPC=ON)")
else()
  if(NOT EXISTS "${_inventory_grpc_stamp}")
    message(FATAL_ERROR
      "No finished release build of gRPC in ${_inventory_grpc_prefix}.\n"
      "Build it once (about 13 minutes on 2 cores; scripts/test.sh and scripts/run.sh do this):\n"
      "  bash deps/grpc/build_grpc.sh\n"
      "or build against Debian's binary package instead: -DINVENTORY_SYSTEM_GRPC=ON")
  endif()
  find_package(gRPC 1.51.1 EXACT CONFIG REQUIRED
    PATHS "${_inventory_grpc_prefix}" NO_DEFAULT_PATH)
  string(FIND "${gRPC_DIR}/" "${_inventory_grpc_prefix}/" _inventory_grpc_in_prefix)
  if(NOT _inventory_grpc_in_prefix EQUAL 0)
    message(FATAL_ERROR "gRPC was found in ${gRPC_DIR}, not in ${_inventory_grpc_prefix}")
  endif()
  file(STRINGS "${_inventory_grpc_stamp}" _inventory_grpc_stamp_lines REGEX "^[a-z_]+=")
  foreach(_line IN LISTS _inventory_grpc_stamp_lines)
    string(REGEX MATCH "^([a-z_]+)=(.*)$" _ "${_line}")
    set(_inventory_grpc_${CMAKE_MATCH_1} "${CMAKE_MATCH_2}")
  endforeach()
  set(INVENTORY_GRPC_BUILD "${_inventory_grpc_build}")
  message(STATUS "gRPC: release build ${gRPC_VERSION} (static, NDEBUG) from "
    "${_inventory_grpc_prefix}: Debian source ${_inventory_grpc_debian_source}, "
    "project patches: ${_inventory_grpc_project_patches}")
  # The stamp changes with every rebuild of the prefix: configure again then.
  set_property(DIRECTORY "${PROJECT_SOURCE_DIR}" APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
    "${_inventory_grpc_stamp}")
endif()
# The project's patches this gRPC lacks: those deps/grpc/patches/series
# lists that the build's stamp does not (Debian's package has none).
set(_inventory_grpc_series "${CMAKE_CURRENT_LIST_DIR}/patches/series")
set(_inventory_grpc_wanted "")
if(EXISTS "${_inventory_grpc_series}")
  file(STRINGS "${_inventory_grpc_series}" _inventory_grpc_series_lines)
  foreach(_line IN LISTS _inventory_grpc_series_lines)
    string(REGEX REPLACE "#.*" "" _line "${_line}")
    string(STRIP "${_line}" _line)
    if(_line)
      string(REGEX REPLACE "[ \t].*" "" _line "${_line}")
      list(APPEND _inventory_grpc_wanted "${_line}")
    endif()
  endforeach()
  set_property(DIRECTORY "${PROJECT_SOURCE_DIR}" APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
    "${_inventory_grpc_series}")
endif()
set(_inventory_grpc_have "")
if(NOT INVENTORY_SYSTEM_GRPC)
  string(REPLACE "," ";" _inventory_grpc_have "${_inventory_grpc_project_patches}")
endif()
set(_inventory_grpc_missing "")
foreach(_patch IN LISTS _inventory_grpc_wanted)
  if(NOT _patch IN_LIST _inventory_grpc_have)
    list(APPEND _inventory_grpc_missing "${_patch}")
  endif()
endforeach()
string(REPLACE ";" "," INVENTORY_GRPC_MISSING_PATCHES "${_inventory_grpc_missing}")
if(INVENTORY_GRPC_MISSING_PATCHES)
  message(STATUS "gRPC: lacks the project's patches ${INVENTORY_GRPC_MISSING_PATCHES} "
    "(the servers say so when they start; SECURITY.md says what each one fixes)")
else()
  message(STATUS "gRPC: has every patch of deps/grpc/patches/series")
endif()

get_target_property(_inventory_grpc_configs gRPC::grpc_cpp_plugin IMPORTED_CONFIGURATIONS)
list(GET _inventory_grpc_configs 0 _inventory_grpc_config)
get_target_property(_inventory_grpc_plugin gRPC::grpc_cpp_plugin
  IMPORTED_LOCATION_${_inventory_grpc_config})
message(STATUS "gRPC: code generation with ${_inventory_grpc_plugin} and protoc ${Protobuf_VERSION}")

set(_inventory_grpc_build_dir "${PROJECT_BINARY_DIR}/gen_grpc_build")
configure_file("${CMAKE_CURRENT_LIST_DIR}/grpc_build.h.in"
  "${_inventory_grpc_build_dir}/deps/grpc/grpc_build.h" @ONLY)
add_library(inventory_grpc_build INTERFACE)
target_include_directories(inventory_grpc_build INTERFACE "${_inventory_grpc_build_dir}")
