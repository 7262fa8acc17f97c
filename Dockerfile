# One image for every opsplane function; FUNCTION_TARGET picks the function per
# Cloud Run service, PORT (set by Cloud Run) picks the port.
#
# Build stage: install the package and its runtime dependencies (never the dev
# extra) into a virtualenv that the runtime stage copies as one directory.
FROM python:3.11.11-slim-bookworm AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/opsplane
ENV PATH=/opt/opsplane/bin:$PATH

WORKDIR /src
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY functions ./functions
RUN pip install --no-compile . \
    && find /opt/opsplane -name '__pycache__' -prune -exec rm -rf {} +

# Runtime stage: the same slim base, no compiler, no pip cache, no source tree
# besides the functions entry point that functions-framework loads by path.
FROM python:3.11.11-slim-bookworm

ENV PATH=/opt/opsplane/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PORT=8080 \
    FUNCTION_TARGET=health

RUN groupadd --system --gid 10001 opsplane \
    && useradd --system --uid 10001 --gid opsplane --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin opsplane

COPY --from=build /opt/opsplane /opt/opsplane
WORKDIR /app
COPY functions ./functions

USER 10001:10001
EXPOSE 8080

#checkov:skip=CKV_DOCKER_2:Cloud Run ignores Docker HEALTHCHECK; health is probed over HTTP instead.
# Cloud Run ignores Docker HEALTHCHECK; /health and /health/test are probed by
# `opsplane verify-deployment` and the uptime checks in the runbook instead.
# The shell form is needed so $FUNCTION_TARGET and $PORT expand at start-up;
# exec hands PID 1 to functions-framework so it receives SIGTERM directly.
CMD ["/bin/sh", "-c", "exec functions-framework --source functions/main.py --target \"$FUNCTION_TARGET\" --port \"$PORT\""]
