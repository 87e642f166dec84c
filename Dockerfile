# syntax=docker/dockerfile:1
# Tongban gateway image: one image for every province; the province, database and secrets come
# from the environment (TONGBAN_*). Build: docker build -t tongban-gateway:0.1.0 .
# Checked without Docker by scripts/check-deploy.js (stages, USER, HEALTHCHECK, EXPOSE vs ENV).
ARG NODE_IMAGE=node:20-bookworm-slim

# --- build: full install, compile the gateway and the CLI -------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /src
# Only needed if better-sqlite3 has no prebuilt binary for this platform and compiles itself.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
# swagger-ui-dist pulls in a telemetry postinstall (@scarf/scarf): keep it off.
ENV SCARF_ANALYTICS=false
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json nest-cli.json webpack.config.js ./
COPY apps apps
COPY libs libs
COPY proto proto
# The admin console (apps/console) is bundled into dist/console by this script (esbuild).
COPY scripts/build-console.js scripts/build-console.js
RUN npm run build

# --- deps: production dependencies only (native modules built here, with the toolchain) -------
FROM ${NODE_IMAGE} AS deps
WORKDIR /src
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
ENV SCARF_ANALYTICS=false
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# --- runtime: node, production node_modules, dist/, proto/, data/; read-only, not root ----------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    TONGBAN_ENV=production \
    TONGBAN_HTTP_HOST=0.0.0.0 \
    TONGBAN_HTTP_PORT=8080 \
    TONGBAN_HEALTH_PORT=8081 \
    TONGBAN_GRPC_HOST=0.0.0.0 \
    TONGBAN_GRPC_PORT=9090 \
    TONGBAN_LOG_FORMAT=json
WORKDIR /app
# Files stay owned by root and read-only for the gateway user (uid 1000, "node" in this image).
COPY --from=deps /src/node_modules node_modules
COPY --from=build /src/dist dist
COPY package.json ./
COPY proto proto
COPY data data
# The mount point of the audit checkpoint volume (TONGBAN_AUDIT_CHECKPOINT_FILE): a new named volume
# takes this owner, so the gateway user can append to it on a read-only root filesystem.
RUN mkdir -p /var/lib/tongban/audit && chown 1000:1000 /var/lib/tongban/audit
USER 1000:1000
EXPOSE 8080 8081 9090
# Probes go to the health port: a listener of its own that API load cannot delay (operations.md §11).
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.TONGBAN_HEALTH_PORT||8081)+'/health/live').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# SIGTERM: the gateway reports "not ready", waits TONGBAN_SHUTDOWN_GRACE_MS, then closes cleanly.
STOPSIGNAL SIGTERM
CMD ["node", "dist/apps/gateway/main.js"]
