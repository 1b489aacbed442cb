# sigward's image for a Docker engine (docs/image.md). scripts/build-image.sh builds the same image
# without one: Node 24 on Debian bookworm, production dependencies only, the JavaScript `npm run build`
# compiles from src/ (tsc into dist/: no TypeScript at run time, src/ not in the image), uid 65532.
# The entrypoint is the `sigward` command itself (bin/sigward.js, compiled), so `docker run IMAGE
# verify …` is `sigward verify …`.
#   docker build -t sigward .
# The Node version is the one package.json pins (dependencies.node); keep the two in step.
ARG NODE_IMAGE=node:24.21.0-bookworm-slim

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the one install script is the npm `node` package's, which would download a second
# Node into node_modules. Type declarations and source maps are never loaded: about half of node_modules.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
  && rm -rf node_modules/node node_modules/.bin/node \
  && find node_modules -type f \( -name '*.map' -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' \) -delete

# The compiled JavaScript (tsc, tsconfig.build.json): dist/bin/sigward.js and dist/src/**/*.js with
# source maps (NODE_OPTIONS=--enable-source-maps maps a stack trace to src/ lines).
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund && rm -rf node_modules/node node_modules/.bin/node
COPY tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY src ./src
RUN npm run build

FROM ${NODE_IMAGE}
RUN groupadd --gid 65532 nonroot \
  && useradd --uid 65532 --gid 65532 --home-dir /home/nonroot --create-home --shell /usr/sbin/nologin nonroot
ENV NODE_ENV=production
# A 2 MiB young generation and a 256 MB old space (docs/performance.md; what Node picks itself
# in a 512Mi container, stated so RSS does not grow with the host): RSS after 10,000 cold verifications
# ~185 instead of ~345 MiB. --expose-gc: after a burst of reviews, once a minute passed without one,
# the webhook runs one memory-reducing collection (src/cli/idle-collection.ts): with 100,000 verdicts
# cached RSS ~115 instead of ~138 MiB. The chart sets the same through values.nodeOptions.
ENV NODE_OPTIONS="--max-semi-space-size=2 --max-old-space-size=256 --expose-gc"
# glibc's mmap and trim thresholds fixed at their starting 128 KiB, and at most 2 arenas (README "Speed
# and memory"): large blocks go back to the system when freed, arenas give back their free tail
# (per-thread arenas ~6 instead of ~22 MiB after 10,000 cold verifications). The chart sets the same
# through values.mallocEnv.
ENV MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=131072 MALLOC_TRIM_THRESHOLD_=131072
WORKDIR /app
COPY package.json package-lock.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist/ ./
USER 65532:65532
EXPOSE 8443 8081
ENTRYPOINT ["node", "bin/sigward.js"]
CMD ["webhook"]
