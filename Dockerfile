# syntax=docker/dockerfile:1
# Tongban gateway image: one image for every province; the province, database and secrets come
# from the environment (TONGBAN_*). Build: docker build -t tongban-gateway:0.1.0 .
# Without a registry (podman, Debian base from mmdebstrap + this machine's Node 20): `npm run
# image:build` (scripts/image/build.sh; docs/operations.md §15.1), which passes
# NODE_IMAGE / BUILD_IMAGE and the npm configuration as the build secret `npmrc`.
# Checked without Docker by scripts/check-deploy.js (stages, USER, HEALTHCHECK, EXPOSE vs ENV, secret).
# NODE_IMAGE runs the gateway; BUILD_IMAGE (default: the same) compiles it and its native modules.
ARG NODE_IMAGE=node:20-bookworm-slim
ARG BUILD_IMAGE=${NODE_IMAGE}

# --- build: full install, compile the gateway and the CLI -------------------------------------
FROM ${BUILD_IMAGE} AS build
WORKDIR /src
# Only needed if better-sqlite3 has no prebuilt binary for this platform and compiles itself
# (a build base that already has the toolchain skips apt).
RUN command -v g++ >/dev/null || { apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*; }
# swagger-ui-dist pulls in a telemetry postinstall (@scarf/scarf): keep it off.
ENV SCARF_ANALYTICS=false
COPY package.json package-lock.json ./
# The SM2 addon (native/sm2, dependency tongban-sm2 "file:native/sm2"): npm ci links and compiles it.
COPY native native
# The npm configuration (registry, auth; npmca: a CA bundle its cafile names) is a build secret:
# mounted for this command only, never in a layer. Without the secrets npm uses its defaults.
RUN --mount=type=secret,id=npmrc,target=/root/.npmrc --mount=type=secret,id=npmca npm ci --no-audit --no-fund
COPY tsconfig.json nest-cli.json webpack.config.js ./
COPY apps apps
COPY libs libs
COPY proto proto
# The admin console (apps/console) is bundled into dist/console by this script (esbuild).
COPY scripts/build-console.js scripts/build-console.js
RUN npm run build

# --- deps: production dependencies only (native modules built here, with the toolchain) -------
FROM ${BUILD_IMAGE} AS deps
WORKDIR /src
RUN command -v g++ >/dev/null || { apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*; }
ENV SCARF_ANALYTICS=false
COPY package.json package-lock.json ./
COPY native native
# better-sqlite3 is built for (or its prebuilt binary fetched for) this Node and glibc, the same as
# the runtime stage's, and so is the SM2 addon (native/sm2). Not needed at run time, left here: their
# C sources' objects, type declarations, source maps, TypeORM's browser build. The last two lines
# prove both native modules still load.
RUN --mount=type=secret,id=npmrc,target=/root/.npmrc --mount=type=secret,id=npmca npm ci --omit=dev --no-audit --no-fund \
  && npm cache clean --force \
  && rm -rf node_modules/better-sqlite3/deps node_modules/better-sqlite3/src \
            node_modules/better-sqlite3/build/Release/obj.target node_modules/better-sqlite3/build/Release/.deps \
            node_modules/better-sqlite3/build/Release/test_extension.node node_modules/typeorm/browser \
            native/sm2/build/Release/obj.target native/sm2/build/Release/.deps \
  && find node_modules -type f \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.map' \) -delete \
  && node -e "new (require('better-sqlite3'))(':memory:').prepare('select 1').get()" \
  && node -e "if (!require('tongban-sm2').sm2) throw require('tongban-sm2').loadError"

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
# node_modules/tongban-sm2 is a link to ../native/sm2 (the compiled SM2 addon).
COPY --from=deps /src/native native
COPY --from=build /src/dist dist
COPY package.json ./
COPY proto proto
COPY data data
# Mount points owned by the gateway user: a new named volume takes the owner, so the gateway can
# write on a read-only root filesystem. audit: the checkpoint trail (TONGBAN_AUDIT_CHECKPOINT_FILE);
# data: a SQLite province's database (TONGBAN_SQLITE_PATH=/var/lib/tongban/data/tongban.sqlite).
RUN mkdir -p /var/lib/tongban/audit /var/lib/tongban/data && chown 1000:1000 /var/lib/tongban/audit /var/lib/tongban/data
USER 1000:1000
EXPOSE 8080 8081 9090
# Probes go to the health port: a listener of its own that API load cannot delay (operations.md §11).
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.TONGBAN_HEALTH_PORT||8081)+'/health/live').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# SIGTERM: the gateway reports "not ready", waits TONGBAN_SHUTDOWN_GRACE_MS, then closes cleanly.
STOPSIGNAL SIGTERM
CMD ["node", "dist/apps/gateway/main.js"]
