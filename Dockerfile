# topofleet worker image: Bun + librdkafka 2.15.1 (our bun:ffi binding loads it at run time).

# librdkafka 2.15.1, built with the same script dev/setup.sh uses (Debian 12's librdkafka1 is 2.0.2).
FROM node:20-bookworm AS librdkafka
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential pkg-config libssl-dev zlib1g-dev libzstd-dev liblz4-dev libsasl2-dev \
 && rm -rf /var/lib/apt/lists/*
COPY dev/librdkafka/build.sh /build/build.sh
RUN TOPOFLEET_CACHE=/opt/topofleet bash /build/build.sh

FROM oven/bun:1.4.5-debian AS base
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libssl3 zlib1g libzstd1 liblz4-1 libsasl2-2 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app

FROM base AS deps
COPY package.json bun.lock ./
RUN bun install --frozen-lockfile --production

FROM base
ENV NODE_ENV=production TOPOFLEET_DATA_DIR=/var/lib/topofleet RDKAFKA_LIB=/opt/topofleet/librdkafka-2.15.1/librdkafka.so.1
COPY --from=librdkafka /opt/topofleet /opt/topofleet
COPY --from=deps /app/node_modules ./node_modules
COPY package.json bun.lock bunfig.toml tsconfig.json ./
COPY shared ./shared
COPY workers ./workers
COPY topologies ./topologies
RUN groupadd --system --gid 10001 topofleet \
 && useradd --system --uid 10001 --gid topofleet --home-dir /var/lib/topofleet --create-home topofleet
USER topofleet
EXPOSE 9464
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["bun", "-e", "fetch('http://127.0.0.1:'+(process.env.TOPOFLEET_HTTP_PORT||9464)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["bun", "workers/topology.ts"]
CMD ["topologies/ingest.yaml"]
