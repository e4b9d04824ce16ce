# One image with every shipped binary (inventory_server, health_probe, and the
# ProductService's product_server): docker-compose.yml runs
# each service from it with its own command.
#
#   docker build -t grpc-inventory .        (or: docker-compose build)
#
# Two stages on Debian 12: the build stage compiles with the project's own
# CMake build (tests left out) against the release build of gRPC, linked
# statically; the runtime stage gets the stripped binaries and only the
# Debian runtime libraries they load (no libgrpc package). No BuildKit-only syntax:
# the legacy builder (Debian's docker.io 20.10, docker-compose 1.29) builds it.
#
# apt uses whatever mirror the base image's sources name. Where Docker Hub is
# unreachable, test/compose/ensure_base_image.sh builds debian:bookworm-slim
# with debootstrap from the host's own mirror.

FROM debian:bookworm-slim AS build
ARG DEBIAN_FRONTEND=noninteractive
# The build dependencies come from the same list CI installs, so a library a
# server starts using reaches the image build without editing this file.
COPY scripts/install_deps.sh /tmp/install_deps.sh
RUN bash /tmp/install_deps.sh --build-only \
 && rm -rf /var/lib/apt/lists/* /tmp/install_deps.sh
# BUILD_JOBS: parallel compile jobs; empty means one per CPU.
ARG BUILD_JOBS=
# gRPC 1.51.1 in release mode, static (deps/grpc/build_grpc.sh), in layers
# that only deps/grpc/ and the host's finished build invalidate. The host's
# build-deps/grpc-1.51.1-release/ is in the context (.dockerignore) when
# scripts/test.sh or run.sh built it: if its stamp matches this image's
# compiler and -dev packages, build_grpc.sh takes it as is; otherwise (or on
# a fresh machine, where the wildcard below matches nothing) it builds gRPC
# here, about 13 minutes on 2 cores. COPY needs one source that exists, hence
# build_grpc.sh next to the wildcard (a stray copy, removed below).
COPY deps/grpc/ /src/deps/grpc/
COPY deps/grpc/build_grpc.sh build-dep[s] /opt/grpc/
RUN bash /src/deps/grpc/build_grpc.sh --prefix /opt/grpc/grpc-1.51.1-release \
      --jobs "${BUILD_JOBS:-$(nproc)}" \
 && rm -rf /opt/grpc/build_grpc.sh /opt/grpc/grpc-1.51.1-work /opt/grpc/grpc-1.51.1-release.lock
WORKDIR /src
COPY . .
# Only the "servers" install component: the image needs the binaries, not the
# cqengine package (whose CHANGELOG.md .dockerignore leaves out).
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DINVENTORY_BUILD_TESTS=OFF \
      -DINVENTORY_GRPC_PREFIX=/opt/grpc/grpc-1.51.1-release \
 && cmake --build /build -j "${BUILD_JOBS:-$(nproc)}" \
 && cmake --install /build --prefix /opt/inventory --strip --component servers \
 && bash scripts/runtime_packages.sh /opt/inventory/bin/* >/opt/inventory/runtime-packages \
 && echo "runtime packages:" $(cat /opt/inventory/runtime-packages)

FROM debian:bookworm-slim
ARG DEBIAN_FRONTEND=noninteractive
COPY --from=build /opt/inventory/runtime-packages /tmp/runtime-packages
# openssl (the command) is for make_dev_certs, which docker-compose.yml's
# one-shot `certs` service runs; the servers only load libssl.
RUN apt-get update \
 && xargs -a /tmp/runtime-packages apt-get install -y --no-install-recommends openssl \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /tmp/runtime-packages
# A fixed non-root uid, so volumes and Kubernetes' runAsNonRoot can rely on it.
# /var/lib/inventory is the inventory's data directory; a named volume mounted
# there starts with this ownership.
RUN groupadd --gid 10001 inventory \
 && useradd --uid 10001 --gid inventory --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin inventory \
 && mkdir -p /var/lib/inventory \
 && chown inventory:inventory /var/lib/inventory
COPY --from=build /opt/inventory/bin/ /usr/local/bin/
COPY data/catalog.csv /usr/local/share/inventory/catalog.csv
COPY scripts/make_dev_certs.sh /usr/local/bin/make_dev_certs
# Every binary must find its libraries here, or the image is broken.
RUN if ldd /usr/local/bin/* | grep 'not found'; then exit 1; fi
USER 10001:10001
WORKDIR /var/lib/inventory
# 50051 InventoryService, 50052 ProductService, 9464/9465 their metrics.
EXPOSE 50051 50052 9464 9465
# Exec form: the server is the process that receives SIGTERM and drains
# (docker-compose.yml also sets init: true to reap and forward). The servers
# listen on loopback by default; in a container that would be unreachable,
# so the image's default command listens on every interface of the
# container's own network (what `docker run -p` publishes is the user's call).
CMD ["inventory_server", "--listen=0.0.0.0:50051"]
