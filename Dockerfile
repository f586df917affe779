# Palisade admission webhook server.
#   docker build -t palisade:0.1.0 .
# Build stage: the Debian packages scripts/dev.sh installs that the `palisade` binary needs to build
# (tests and benchmarks are off, so no gtest, benchmark, clang or tools).
FROM debian:bookworm AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build pkg-config \
      libboost-dev libssl-dev rapidjson-dev libyaml-cpp-dev prometheus-cpp-dev libcli11-dev \
      libmimalloc-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DPALISADE_TESTS=OFF -DPALISADE_BENCH=OFF \
 && cmake --build /build --target palisade \
 && cmake --install /build --prefix /out/usr --strip

# Runtime: bookworm-slim (libc6, libgcc-s1, libstdc++6 and zlib1g are already there) plus the
# shared libraries the binary links; tests/chart/dockerfile_test.py checks this list against
# `ldd` of the built binary.
FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libssl3 libyaml-cpp0.7 libprometheus-cpp-core1.0 libmimalloc2.0 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/usr/bin/palisade /usr/bin/palisade
# Nothing is written at run time: certificates and policies are read-only mounts, logs go to
# stderr, so the root filesystem can be mounted read-only.
USER 65532:65532
LABEL org.opencontainers.image.title="palisade" \
      org.opencontainers.image.description="Kubernetes admission webhook: seccomp, AppArmor, capabilities and the Pod Security Standards per namespace" \
      org.opencontainers.image.source="https://github.com/palisade-dev/palisade" \
      org.opencontainers.image.url="https://github.com/palisade-dev/palisade"
EXPOSE 8443 9090
ENTRYPOINT ["/usr/bin/palisade", "serve"]
