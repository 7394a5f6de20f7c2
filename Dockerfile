# syntax=docker/dockerfile:1
#
# One Dockerfile, one target per service:
#   data-collector  api-server  order-system (order-api and order-events)  outbox-relay
#   hardhat  deploy
# e.g.  docker build --target api-server -t linkora/api-server .
# Each Python target installs only its own extra, pinned by requirements.lock when present.

ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm
ARG NODE_IMAGE=node:20.18.1-bookworm-slim

# ---------------------------------------------------------------- Python base
FROM ${PYTHON_IMAGE} AS python-base
# PYTHONSAFEPATH keeps the working directory off sys.path: in the deploy job's /src the
# outer order_system/ folder would otherwise shadow the installed order_system package.
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONSAFEPATH=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH
# Services run as this user, named by number in USER so non-root is checkable from outside.
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin app

# The source tree pip builds from: the whole context as .dockerignore filters it, because
# pyproject.toml lists packages from several top-level folders and all must be present.
FROM python-base AS python-source
WORKDIR /src
RUN python -m venv /opt/venv
COPY . .
# Without a requirements.lock yet, an empty constraints file stands in for it.
RUN touch requirements.lock

# ---------------------------------------------------------------- Node packages
# Hardhat and solc for the chain; lightweight-charts for the api-server's chart page. The
# optional anvil binary is only for benchmarks and kubectl (@aws-cdk) only for the manifest
# tests: neither is in the images.
FROM ${NODE_IMAGE} AS node-deps
WORKDIR /app
COPY package.json package-lock.json .npmr[c] ./
RUN npm ci --no-audit --no-fund && rm -rf node_modules/@foundry-rs node_modules/@aws-cdk && npm cache clean --force

FROM python-source AS build-collector
RUN pip install --no-cache-dir -c requirements.lock ".[collector]"

FROM python-source AS build-api
# The chart page's library, served from the package's static files (no CDN).
COPY --from=node-deps /app/node_modules/lightweight-charts/dist/lightweight-charts.standalone.production.js \
     api-server/api_server/static/vendor/lightweight-charts.js
RUN pip install --no-cache-dir -c requirements.lock ".[api]"

FROM python-source AS build-orders
RUN pip install --no-cache-dir -c requirements.lock ".[orders]"

FROM python-source AS build-relay
RUN pip install --no-cache-dir -c requirements.lock ".[relay]"

# ---------------------------------------------------------------- Python services
# What every service image shares: the non-root user and its working directory. COPY still
# writes as root, so a service cannot change the environment it runs from.
FROM python-base AS python-service
WORKDIR /app
USER 10001:10001

FROM python-service AS data-collector
COPY --from=build-collector /opt/venv /opt/venv
EXPOSE 9101
CMD ["python", "-m", "data_collector"]

FROM python-service AS api-server
COPY --from=build-api /opt/venv /opt/venv
EXPOSE 8000
CMD ["python", "-m", "api_server"]

# Shared by order-api (the default command) and order-events.
FROM python-service AS order-system
COPY --from=build-orders /opt/venv /opt/venv
EXPOSE 8080 9102
CMD ["python", "-m", "order_system.api"]

FROM python-service AS outbox-relay
COPY --from=build-relay /opt/venv /opt/venv
EXPOSE 9103
CMD ["python", "-m", "outbox_relay"]

# ---------------------------------------------------------------- Node: dev chain
FROM node-deps AS hardhat
ENV HARDHAT_DISABLE_TELEMETRY_PROMPT=true
# EDR's allocator keeps the memory it frees: eth_call-heavy indexing is 1.3-1.8x faster
# (devstack/hardhat.py, NODE_ALLOCATOR_ENV).
ENV MIMALLOC_PURGE_DELAY=-1
# package.json is repeated so the COPY has a match whatever the config's extension is.
COPY package.json hardhat.config.* ./
# Hardhat creates its cache directory in the project; 1000 is the image's `node` user.
RUN chown 1000:1000 /app
USER 1000:1000
EXPOSE 8545
CMD ["node_modules/.bin/hardhat", "node", "--hostname", "0.0.0.0", "--port", "8545"]

# ---------------------------------------------------------------- One-shot deploy job
# Needs node (solc compile) and the orders extra (web3 deploy). It keeps the repository
# layout and an editable install so compile.mjs and order_system.deploy find each
# other's files exactly as they do in a checkout.
FROM python-source AS deploy
COPY --from=node-deps /usr/local/bin/node /usr/local/bin/node
COPY --from=node-deps /app/node_modules/ /src/node_modules/
# compile.mjs replaces order_system/artifacts/, so that folder belongs to the job's user.
RUN pip install --no-cache-dir -c requirements.lock -e ".[orders]" \
    && mkdir -p /deployments \
    && chown app:app /deployments /src/order_system
USER 10001:10001
CMD ["sh", "-c", "node order_system/compile.mjs && exec python -m order_system.deploy --rpc http://hardhat:8545 --out /deployments/localhost.json"]
