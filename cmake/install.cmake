# What `cmake --install` ships for other projects: the engine and the
# batching InventoryService client as the CMake package `cqengine`.
#
#   find_package(cqengine 0.5 CONFIG REQUIRED)
#   target_link_libraries(app PRIVATE cqengine::engine)
#
# Targets (static libraries unless said otherwise):
#   cqengine::engine            the completion-queue server engine (engine/engine.h,
#                               engine/service_registration.h)
#   cqengine::tag               engine::Tag and the queue loop (engine/tag.h), and
#                               coalesced writes (engine/write_coalescing.h)
#   cqengine::observer          the observer interface (engine/rpc_observer.h; header only)
#   cqengine::version           engine/version.h (header only)
#   cqengine::inventory_client  the batching InventoryService client
#                               (client/batching_inventory_client.h)
#   cqengine::inventory_proto   inventory.proto, product.proto and
#                               grpc/health/v1/health.proto: messages and gRPC stubs
#   cqengine::product_id        the product id rules the client checks ids with
#                               (linked for the client; domain/inventory/product_id.h)
#
# Layout under the prefix:
#   include/cqengine/engine/...            public headers; engine/internal/ holds the
#                                          call state machines the public templates
#                                          include. They are NOT API: they change
#                                          without notice between releases.
#   include/cqengine/client/...            the batching client
#   include/cqengine/domain/inventory/product_id.h
#   include/cqengine/proto/                generated *.pb.h / *.grpc.pb.h (include them
#                                          as "inventory.grpc.pb.h") and the .proto
#                                          files they came from (CQENGINE_PROTO_DIR)
#   lib/libcqengine_*.a
#   lib/cmake/cqengine/                    the package config, version file and targets
#   share/doc/cqengine/                    LICENSE, CHANGELOG.md
# All of it is the install component "cqengine" (`cmake --install build
# --component cqengine` installs just the package). The server binaries
# (inventory_server, product_server, health_probe) are installed to bin/ by
# their own folders as the component "servers" (what the Docker image takes).
include(CMakePackageConfigHelpers)

set(CQENGINE_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/cqengine)
set(CQENGINE_INCLUDE_DIR ${CMAKE_INSTALL_INCLUDEDIR}/cqengine)
set(CQENGINE_PROTO_INSTALL_DIR ${CQENGINE_INCLUDE_DIR}/proto)

# Installed names: the cqengine:: namespace, and archive names that say whose
# they are in a shared lib/ folder.
set(cqengine_targets
  grpc_engine engine engine_tag tag engine_observer observer engine_version version
  batching_inventory_client inventory_client inventory_proto inventory_proto
  inventory_product_id product_id lookup_queue lookup_queue)
set(cqengine_installed_targets)
while(cqengine_targets)
  list(POP_FRONT cqengine_targets target export_name)
  set_target_properties(${target} PROPERTIES EXPORT_NAME ${export_name})
  get_target_property(type ${target} TYPE)
  if(NOT type STREQUAL "INTERFACE_LIBRARY")
    set_target_properties(${target} PROPERTIES OUTPUT_NAME cqengine_${export_name})
  endif()
  list(APPEND cqengine_installed_targets ${target})
endwhile()

install(TARGETS ${cqengine_installed_targets}
  EXPORT cqengineTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT cqengine)

# Public headers, at the paths the project's own code includes them by.
# Every header of engine/ (engine/internal/ included), so a new public header
# cannot be left out.
install(DIRECTORY engine/ DESTINATION ${CQENGINE_INCLUDE_DIR}/engine
  COMPONENT cqengine FILES_MATCHING PATTERN "*.h")
install(FILES ${CMAKE_BINARY_DIR}/gen_version/engine/version.h
  DESTINATION ${CQENGINE_INCLUDE_DIR}/engine COMPONENT cqengine)
install(FILES client/batching_inventory_client.h client/lookup_result.h
  DESTINATION ${CQENGINE_INCLUDE_DIR}/client COMPONENT cqengine)
install(FILES domain/inventory/product_id.h domain/inventory/limits.h DESTINATION ${CQENGINE_INCLUDE_DIR}/domain/inventory
  COMPONENT cqengine)

# The generated code of inventory_proto and the .proto files, side by side.
foreach(proto ${PROTO_FILES})
  string(REGEX REPLACE "\\.proto$" "" base ${proto})
  get_filename_component(subdir ${proto} DIRECTORY)
  install(FILES ${PROTO_SRC_DIR}/${proto} ${PROTO_GEN_DIR}/${base}.pb.h
                ${PROTO_GEN_DIR}/${base}.grpc.pb.h
    DESTINATION ${CQENGINE_PROTO_INSTALL_DIR}/${subdir} COMPONENT cqengine)
endforeach()

install(EXPORT cqengineTargets NAMESPACE cqengine:: DESTINATION ${CQENGINE_CMAKE_DIR}
  COMPONENT cqengine)

configure_package_config_file(cmake/cqengineConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/cqengineConfig.cmake
  INSTALL_DESTINATION ${CQENGINE_CMAKE_DIR}
  PATH_VARS CQENGINE_PROTO_INSTALL_DIR)
# 0.x: a new minor version may break the API, so only the same 0.MINOR matches.
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/cqengineConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/cqengineConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/cqengineConfigVersion.cmake
  DESTINATION ${CQENGINE_CMAKE_DIR} COMPONENT cqengine)

install(FILES LICENSE CHANGELOG.md DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/cqengine
  COMPONENT cqengine)
