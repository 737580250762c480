# syntax=docker/dockerfile:1
# The headless coordinator on Debian 12:
#   docker build -t agmem-coordinator .
#   docker run -d -p 8000:8000 -v agmem-data:/var/lib/agmem-coordinator \
#       -e API_KEY=change-me agmem-coordinator
# Settings are environment variables (AGMEM_COORDINATOR_<OPTION>, DATABASE_URL, API_KEY);
# see `docker run --rm agmem-coordinator --help`.

FROM debian:12 AS build
# -DAGMEM_GUI=OFF: the same agmem-coordinator without the window (no Qt Widgets, Gui or
# Svg), so neither stage needs the Qt tools, Svg or the Widgets stack.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        cmake ninja-build g++ pkg-config zlib1g-dev \
        qt6-base-dev qt6-httpserver-dev qt6-websockets-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DAGMEM_BUILD_TESTS=OFF \
        -DAGMEM_GUI=OFF \
    && cmake --build /build --target agmem-coordinator \
    && strip /build/src/app/agmem-coordinator

FROM debian:12-slim
# The Qt libraries the headless binary links (Core, Network, Sql, HttpServer and the
# WebSockets it depends on; no Gui, Widgets or Svg, hence no X11/GL libraries), the SQLite
# and PostgreSQL SQL drivers, OpenSSL for --tls-cert, curl for the health check.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libqt6core6 libqt6network6 libqt6sql6 libqt6httpserver6 libqt6websockets6 \
        libqt6sql6-sqlite libqt6sql6-psql zlib1g \
        libssl3 ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --user-group --uid 10001 --home-dir /var/lib/agmem-coordinator \
        --shell /usr/sbin/nologin agmem \
    && install -d -o agmem -g agmem -m 750 /var/lib/agmem-coordinator
COPY --from=build /build/src/app/agmem-coordinator /usr/bin/agmem-coordinator

# Listen on every interface of the container: set API_KEY (or create keys with
# `docker exec CONTAINER agmem-coordinator keys create NAME`) before publishing the port.
ENV AGMEM_COORDINATOR_NO_GUI=1 \
    AGMEM_COORDINATOR_HOST=0.0.0.0 \
    AGMEM_COORDINATOR_PORT=8000 \
    DATABASE_URL=sqlite:///var/lib/agmem-coordinator/coordinator.db \
    HOME=/var/lib/agmem-coordinator
VOLUME /var/lib/agmem-coordinator
EXPOSE 8000
USER agmem
WORKDIR /var/lib/agmem-coordinator
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD curl -fsS "http://127.0.0.1:${AGMEM_COORDINATOR_PORT}/health" || exit 1
# SIGTERM (docker stop) commits what was received and exits 0.
ENTRYPOINT ["/usr/bin/agmem-coordinator"]
CMD ["--no-gui"]
