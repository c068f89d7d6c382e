# syntax=docker/dockerfile:1
# gmnet-master container image. Released as ghcr.io/gmnet-master/gmnet-master
# (linux/amd64 + linux/arm64) by .github/workflows/release.yml.
#
#   docker build -t gmnet-master:dev .
#   docker run --rm -p 6510:6510/tcp -p 6510:6510/udp -p 127.0.0.1:9510:9510 gmnet-master:dev
#
# Stages: build (all deps, tsc -> dist/), deps (production node_modules only),
# runtime (node + prod deps + dist, non-root uid 10001). Node.js 24 is the
# current LTS line; the tag follows its patch releases on every rebuild.
#
# build and deps run on the builder's own platform: their output is plain
# JavaScript (no native add-ons in production dependencies), so a multi-arch
# build needs no emulation. The runtime stage runs no commands.

ARG NODE_IMAGE=node:24-trixie-slim

# ---------------------------------------------------------------- build ----
FROM --platform=$BUILDPLATFORM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the compiler needs no install scripts, and the dev-only
# native add-ons (ssh2/cpu-features via testcontainers) would need a C toolchain.
RUN --mount=type=cache,target=/root/.npm \
    npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY scripts/copy-assets.mjs ./scripts/copy-assets.mjs
RUN npm run build

# ----------------------------------------------------------------- deps ----
FROM --platform=$BUILDPLATFORM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# -------------------------------------------------------------- runtime ----
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
# Files stay root-owned and read-only for uid 10001 (works with
# readOnlyRootFilesystem in Kubernetes). The uid needs no passwd entry.
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# package.json carries "type": "module", which Node needs for dist/*.js.
COPY package.json ./

USER 10001:10001

# Game port: TCP (registrations, lobby, connect) and UDP (punching) on the
# same number. HTTP: /healthz /readyz /metrics /admin/*.
EXPOSE 6510/tcp 6510/udp 9510/tcp

# No curl in slim images: ask node. Honours GMNET_HTTP_PORT if overridden.
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "const p=process.env.GMNET_HTTP_PORT||'9510';require('http').get({host:'127.0.0.1',port:p,path:'/healthz',timeout:2500},r=>process.exit(r.statusCode===200?0:1)).on('error',()=>process.exit(1)).on('timeout',function(){this.destroy();process.exit(1)})"]

STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "--enable-source-maps", "dist/cli.js"]
