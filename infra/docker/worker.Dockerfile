# syntax=docker/dockerfile:1
# faultline CPU worker: workflows + CPU activities on task queue "faultline" (workers/main.ts).
# Build from the repository root:  docker build -f infra/docker/worker.Dockerfile -t faultline-worker:0.1.0 .
# The local target's stack runs inside this image too (docker-compose), so it carries what infra/setup.sh
# installs for it: Chromium + chromedriver (browser probe), Redis (cart), Prometheus + node-exporter,
# stress-ng (stress faults). PyTorch is not here: training runs in the training image.

FROM node:20-bookworm-slim AS build
WORKDIR /app
# onnxruntime-node's installer would download a CUDA provider; its CPU binaries ship in the package.
ENV ONNXRUNTIME_NODE_INSTALL=skip
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY activities ./activities
COPY bench ./bench
COPY cli ./cli
COPY infra ./infra
COPY schemas ./schemas
COPY test ./test
COPY workers ./workers
COPY workflows ./workflows
# Compile, pre-bundle the workflow code (workers start in ~1 s instead of re-running webpack), drop dev deps.
RUN npx tsc -p tsconfig.json && node lib/workers/bundle.js && npm prune --omit=dev

FROM node:20-bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      chromium chromium-driver redis-server prometheus prometheus-node-exporter stress-ng procps ca-certificates tini \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/lib ./lib
COPY --from=build /app/infra ./infra
COPY --from=build /app/workers/training ./workers/training
ENV NODE_ENV=production \
    FAULTLINE_HOME=/data \
    HOME=/tmp
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "lib/workers/main.js"]
