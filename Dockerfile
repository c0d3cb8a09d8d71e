# certgate container image, from Debian 12's packages only.
#   podman build --format docker -t certgate .      (or: docker build -t certgate .)
# --format docker keeps the HEALTHCHECK (the OCI image format has no field for it).
#
# Stage 1 builds certgate (no tests) and the health probe, then gathers exactly the shared
# libraries they load into /rootfs. Stage 2 is that folder alone: no shell, no package
# manager, no compiler, nothing to exec but certgate and its probe.
FROM debian:bookworm-slim AS build
# Lets `podman image prune --filter label=io.certgate.stage=build` drop this stage's ~1 GB.
LABEL io.certgate.stage=build
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      g++ cmake make pkg-config libboost1.81-dev libboost-program-options1.81-dev libssl-dev \
      libyaml-cpp-dev libspdlog-dev libfmt-dev libgoogle-perftools-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
COPY config config
COPY policies policies
COPY proxy proxy
COPY deploy/container deploy/container
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DCERTGATE_BUILD_TESTS=OFF \
    && cmake --build build -j"$(nproc)" \
    && g++ -std=c++20 -O2 -Wall -Wextra -o build/certgate-healthcheck deploy/container/healthcheck.cpp \
    && strip build/certgate build/certgate-healthcheck
# The root filesystem of the runtime image: the two binaries, every library ldd says they
# load (with the dynamic loader), the licences of the packages those come from, one user.
RUN mkdir -p /rootfs/usr/local/bin /rootfs/etc/certgate /rootfs/tmp /rootfs/usr/share/doc \
    && cp build/certgate build/certgate-healthcheck /rootfs/usr/local/bin/ \
    && for lib in $(ldd build/certgate build/certgate-healthcheck | awk '$2 == "=>" {print $3} $1 ~ /^\// {print $1}' | sort -u); do \
         cp --parents -L "$lib" /rootfs/ \
         && pkg=$( (dpkg -S "$lib" || dpkg -S "$(readlink -f "$lib")") 2>/dev/null | head -n1 | cut -d: -f1) \
         && if [ -n "$pkg" ] && [ -f "/usr/share/doc/$pkg/copyright" ]; then \
              mkdir -p "/rootfs/usr/share/doc/$pkg" && cp "/usr/share/doc/$pkg/copyright" "/rootfs/usr/share/doc/$pkg/"; fi; \
       done \
    && echo 'certgate:x:65532:65532:certgate:/nonexistent:/sbin/nologin' > /rootfs/etc/passwd \
    && echo 'certgate:x:65532:' > /rootfs/etc/group \
    && chmod 1777 /rootfs/tmp

FROM scratch
COPY --from=build /rootfs /
# A fixed, non-root UID/GID: mount the TLS key readable by 65532 (Kubernetes: fsGroup 65532).
USER 65532:65532
# 8443: TLS (the only port to publish); 9901: admin (/healthz /readyz /metrics), for probes.
EXPOSE 8443 9901
# Needs `admin: "0.0.0.0:9901"` (or 127.0.0.1:9901) in the config, as deploy/ examples have.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["/usr/local/bin/certgate-healthcheck", "127.0.0.1:9901", "/healthz"]
ENTRYPOINT ["certgate"]
CMD ["serve", "--config", "/etc/certgate/certgate.yaml"]
