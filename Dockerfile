# syntax=docker/dockerfile:1
# Enclava gateway image: one replica of `enclava serve`. See docker-compose.yml for the stack.

ARG PYTHON_IMAGE=python:3.11.15-slim-bookworm

# --- builder: the project and its pinned dependencies in /opt/venv ----------------------------
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src

# Dependencies first (their own layer, rebuilt only when pyproject.toml or the pins change).
COPY pyproject.toml constraints.txt ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
    && pip install -c constraints.txt -r /tmp/requirements.txt

# Then the project itself (a regular, non-editable install).
COPY README.md ./
COPY config ./config
COPY kernel ./kernel
COPY builtin_plugins ./builtin_plugins
COPY sdk ./sdk
RUN pip install -c constraints.txt --no-deps . \
    && python -m compileall -q /opt/venv/lib

# --- runtime -----------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    ENCLAVA_DATA_DIR=/var/lib/enclava \
    ENCLAVA_SERVER_HOST=0.0.0.0 \
    ENCLAVA_SERVER_PORT=8000

RUN groupadd --system --gid 10001 enclava \
    && useradd --system --uid 10001 --gid enclava --home-dir /var/lib/enclava --no-create-home \
        --shell /usr/sbin/nologin enclava \
    && install -d -o enclava -g enclava -m 0750 /var/lib/enclava

COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
COPY --chown=root:root config ./config

USER enclava:enclava
EXPOSE 8000

HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health/live', timeout=4)"]

CMD ["enclava", "serve", "--host", "0.0.0.0", "--port", "8000"]
