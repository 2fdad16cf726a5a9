# Single-node Spec Service: REST on 8080, gRPC on 50051, the SQLite files on a volume.
# TLS is terminated by a reverse proxy in front of the container.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SPECSVC_DB=/data/specs.db \
    SPECSVC_REST_ADDR=0.0.0.0:8080 \
    SPECSVC_GRPC_ADDR=0.0.0.0:50051 \
    SPECSVC_LOG_FORMAT=json

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin specsvc \
    && mkdir /data && chown specsvc:specsvc /data

WORKDIR /app
COPY setup.cfg pyproject.toml README.md ./
COPY specsvc ./specsvc
COPY rest_api ./rest_api
COPY grpc_api ./grpc_api
# The same install as the README's first command.
RUN python3 -m venv /opt/venv && /opt/venv/bin/pip install -q --no-cache-dir .
ENV PATH=/opt/venv/bin:$PATH

USER specsvc
VOLUME ["/data"]
EXPOSE 8080 50051

HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2)"]

# Non-loopback addresses need authentication, or serve refuses to start: mount a tokens
# file (specsvc token new) and set SPECSVC_AUTH_TOKENS_FILE to its path, and/or mount a
# JWT key and set SPECSVC_JWT_KEY_FILE (with SPECSVC_JWT_ALGORITHM, _ISSUER, _AUDIENCE).
CMD ["specsvc", "serve"]
