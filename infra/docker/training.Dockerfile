# syntax=docker/dockerfile:1
# faultline training pool: the training activity on task queue "faultline-training" (workers/training.ts),
# which runs the PyTorch USAD trainer (workers/training/usad) as `python -m usad train` on CUDA when present.
# Build from the repository root:  docker build -f infra/docker/training.Dockerfile -t faultline-training:0.1.0 .
# Run with a GPU:  docker run --gpus all ... (Kubernetes: nvidia.com/gpu limit, see infra/k8s/workers).

FROM node:20-bookworm-slim AS node

FROM node AS build
WORKDIR /app
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
RUN npx tsc -p tsconfig.json && npm prune --omit=dev

# PyTorch with CUDA 12.6 + cuDNN 9 runtime (Ubuntu 22.04, Python in /opt/conda).
FROM pytorch/pytorch:2.7.1-cuda12.6-cudnn9-runtime
# Node 20 for the Temporal worker that runs the trainer (official glibc binary; Ubuntu 22.04 glibc 2.35 ≥ 2.28).
COPY --from=node /usr/local/bin/node /usr/local/bin/node
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends tini ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/lib ./lib
COPY workers/training/usad ./workers/training/usad
# The trainer package and its dependencies beyond torch (numpy); torch itself comes from the base image.
RUN /opt/conda/bin/python -m pip install --no-cache-dir ./workers/training/usad \
 && /opt/conda/bin/python -c "import torch, numpy; print('torch', torch.__version__, 'cuda', torch.version.cuda)"
ENV NODE_ENV=production \
    FAULTLINE_HOME=/data \
    FAULTLINE_PYTHON=/opt/conda/bin/python \
    HOME=/tmp
RUN groupadd -g 1000 faultline && useradd -u 1000 -g 1000 -M -d /tmp faultline && mkdir -p /data && chown 1000:1000 /data
USER 1000:1000
VOLUME ["/data"]
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "lib/workers/training.js"]
