# The fwatchdog image: one self-contained JavaScript file at /fwatchdog, nothing else, in the same
# shape as of-watchdog's image, so a function template swaps it in with one line:
#
#   FROM ghcr.io/<you>/fwatchdog:latest AS watchdog      (or a locally built tag)
#   ...
#   COPY --from=watchdog /fwatchdog /usr/bin/fwatchdog
#
# fwatchdog is JavaScript: the function image must provide Node.js >= 20 as `node` on PATH (it runs
# through `#!/usr/bin/env node`). Node templates have it already; for other languages copy a node
# binary from an image of the same distribution (see docs/watchdog.md).
#
# Build:  podman build --isolation chroot -t fwatchdog .
#         podman build --build-arg NODE_IMAGE=localhost/alastor-node-base:bookworm -t fwatchdog .
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# No install scripts: the native addon (better-sqlite3) belongs to the CLI, not to fwatchdog, and
# esbuild finds its platform binary through its optional dependency.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY . .
RUN node scripts/build.mjs \
 && cp dist/fwatchdog.js /fwatchdog \
 && chmod 0755 /fwatchdog \
 && node /fwatchdog --version

FROM scratch AS ship
COPY --from=build /fwatchdog /fwatchdog
LABEL org.opencontainers.image.title="fwatchdog" \
      org.opencontainers.image.description="Alastor's drop-in replacement for OpenFaaS of-watchdog (needs node >= 20 in the function image)" \
      org.opencontainers.image.licenses="MIT"
ENTRYPOINT ["/fwatchdog"]
