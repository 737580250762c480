# syntax=docker/dockerfile:1
# The headless coordinator on Debian 12:
#   docker build -t agmem-coordinator .
#   docker run -d -p 8000:8000 -v agmem-data:/var/lib/agmem-coordinator \
#       -e API_KEY=change-me agmem-coordinator
# Settings are environment variables (AGMEM_COORDINATOR_<OPTION>, DATABASE_URL, API_KEY);
# see `docker run --rm agmem-coordinator --help`.

FROM debian:12 AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        cmake ninja-build g++ pkg-config \
        qt6-base-dev qt6-httpserver-dev qt6-websockets-dev qt6-svg-dev \
        qt6-tools-dev qt6-tools-dev-tools qt6-l10n-tools libgl-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DAGMEM_BUILD_TESTS=OFF \
    && cmake --build /build --target agmem-coordinator \
    && strip /build/src/app/agmem-coordinator

FROM debian:12-slim
# The Qt libraries the binary links (the dashboard is in the same binary, so Gui, Widgets
# and Svg too; without a display they are never started), the SQLite and PostgreSQL SQL
# drivers, OpenSSL for --tls-cert, curl for the health check.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libqt6core6 libqt6network6 libqt6sql6 libqt6httpserver6 libqt6websockets6 \
        libqt6gui6 libqt6widgets6 libqt6svg6 \
        libqt6sql6-sqlite libqt6sql6-psql \
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
