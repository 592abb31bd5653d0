# topofleet worker image: Bun + the distribution's librdkafka (our bun:ffi binding loads it at run time).
FROM oven/bun:1.4.5-debian AS base
RUN apt-get update \
 && apt-get install -y --no-install-recommends librdkafka1 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app

FROM base AS deps
COPY package.json bun.lock ./
RUN bun install --frozen-lockfile --production

FROM base
ENV NODE_ENV=production TOPOFLEET_DATA_DIR=/var/lib/topofleet
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
