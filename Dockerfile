# actorvol as an image: the managed plugin's rootfs (plugin/build.sh) or a plain container.
#   DOCKER_BUILDKIT=0 docker build --network host --force-rm -t actorvol .
# Stages: `build` compiles; the final image is `runtime` (the runtime libraries and the tools
# the adaptors run: mount, mkfs.ext4, mkfs.xfs, sshfs and its ssh) plus the binary. `runtime` comes first so that
# `--target runtime` needs no compile (plugin/build.sh --binary uses that).
# apt-get update --error-on=any: without a network the build must fail, not go on empty.

FROM debian:bookworm AS runtime
RUN apt-get update --error-on=any \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libcaf-core0.17 libsqlite3-0 libsystemd0 libssl3 mount util-linux e2fsprogs xfsprogs \
      sshfs openssh-client \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /run/docker/plugins /mnt/volumes
# Managed-plugin defaults: the socket Docker looks for, and a root under the propagated
# mount, so the mountpoints actorvol answers are visible to dockerd; huge pages for the heap
# (as in the systemd unit).
ENV ACTORVOL_SOCKET=/run/docker/plugins/actorvol.sock \
    ACTORVOL_ROOT=/mnt/volumes \
    GLIBC_TUNABLES=glibc.malloc.hugetlb=1
ENTRYPOINT ["/usr/local/bin/actorvol"]

FROM debian:bookworm AS build
RUN apt-get update --error-on=any \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      g++ make cmake pkg-config libcaf-dev libboost1.81-dev nlohmann-json3-dev libsqlite3-dev \
      libsystemd-dev libssl-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release -DACTORVOL_TESTS=OFF \
 && cmake --build /build -j"$(nproc)" --target actorvol \
 && install -m 0755 /build/actorvol /usr/local/bin/actorvol

FROM runtime
COPY --from=build /usr/local/bin/actorvol /usr/local/bin/actorvol
