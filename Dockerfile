# certgate container image: Debian 12, built from Debian's packages only.
FROM debian:bookworm-slim AS build
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      g++ cmake make pkg-config libboost1.81-dev libboost-program-options1.81-dev libssl-dev \
      libyaml-cpp-dev libspdlog-dev libfmt-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
COPY config config
COPY policies policies
COPY proxy proxy
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DCERTGATE_BUILD_TESTS=OFF \
    && cmake --build build -j"$(nproc)" --target certgate \
    && strip build/certgate

FROM debian:bookworm-slim
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libssl3 libyaml-cpp0.7 libspdlog1.10 libfmt9 libboost-program-options1.81.0 ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/build/certgate /usr/local/bin/certgate
USER 65532:65532
EXPOSE 8443 9901
ENTRYPOINT ["certgate"]
CMD ["serve", "--config", "/etc/certgate/certgate.yaml"]
