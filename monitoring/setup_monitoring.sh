#!/usr/bin/env bash
# Prepares Prometheus and Grafana for the running stack and checks that they will work:
#   compose  validates monitoring/prometheus.yml (service names) as it is
#   native   writes a prometheus.yml whose targets are the ports in stack.json
#            (next to stack.json, or --out FILE), then validates it
# Then checks that every target answers /metrics and that grafana-dashboard.json is a
# dashboard. Uses promtool when installed, else a structural check in Python.
# Exit 1 when the config is invalid or a target does not expose metrics.
#
#   monitoring/setup_monitoring.sh [--out FILE]
set -euo pipefail
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

out=""
while (($# > 0)); do
    case "$1" in
    --out)
        out="${2:?--out needs a file}"
        shift 2
        ;;
    *)
        printf 'usage: %s [--out FILE]\n' "$0" >&2
        exit 2
        ;;
    esac
done

PYTHON="${PYTHON:-$REPO_DIR/.venv/bin/python}"
[[ -x "$PYTHON" ]] || PYTHON=python3
DASHBOARD="$MONITORING_DIR/grafana-dashboard.json"

host_port() {
    local url="${1#*://}"
    printf '%s' "${url%%/*}"
}

# One scrape job with one target: scrape_job JOB URL
scrape_job() {
    printf '  - job_name: %s\n    static_configs:\n      - targets: ["%s"]\n' "$1" "$(host_port "$2")"
}

write_native_config() {
    local file="$1"
    mkdir -p "$(dirname "$file")"
    {
        cat <<YAML
# Written by monitoring/setup_monitoring.sh for the native stack ($(stack_file)).
global:
  scrape_interval: 15s
  scrape_timeout: 10s
  evaluation_interval: 30s
  external_labels:
    platform: linkora

scrape_configs:
YAML
        scrape_job api-server "$API_URL"
        scrape_job order-api "$ORDER_API_URL"
        scrape_job data-collector "$COLLECTOR_URL"
        scrape_job order-events "$EVENTS_URL"
    } >"$file"
}

# Prints "job target" lines; fails when the file is not a usable scrape config.
validate_config() {
    local file="$1" result
    if command -v promtool >/dev/null 2>&1; then
        if result="$(promtool check config --syntax-only "$file" 2>&1)"; then
            ok "promtool accepts $file"
        else
            fail "promtool rejects $file: ${result//$'\n'/ }"
            return 1
        fi
    fi
    if result="$("$PYTHON" - "$file" 2>&1 <<'PY'
import re
import sys

import yaml

config = yaml.safe_load(open(sys.argv[1]))
jobs = config["scrape_configs"]
assert isinstance(jobs, list) and jobs, "scrape_configs is empty"
for job in jobs:
    for group in job["static_configs"]:
        for target in group["targets"]:
            assert re.fullmatch(r"[\w.-]+:\d+", target), f"bad target {target!r}"
            print(job["job_name"], target)
PY
    )"; then
        ok "$file: $(wc -l <<<"$result") scrape targets"
        TARGETS="$result"
    else
        fail "$file is not a valid scrape config: ${result##*$'\n'}"
        return 1
    fi
}

validate_dashboard() {
    local panels
    if ! panels="$(jq -e '[.panels[] | select(.targets) | .targets[].expr] | length' \
        "$DASHBOARD" 2>&1)"; then
        fail "$DASHBOARD is not a Grafana dashboard: $panels"
    elif ((panels == 0)); then
        fail "$DASHBOARD has no queries"
    else
        ok "grafana dashboard: $(jq '.panels | length' "$DASHBOARD") panels, $panels queries"
    fi
}

begin_report "Linkora monitoring setup"

section "prometheus"
if [[ "$STACK_MODE" == compose ]]; then
    config="${out:-$MONITORING_DIR/prometheus.yml}"
    if [[ -n "$out" ]]; then cp "$MONITORING_DIR/prometheus.yml" "$out"; fi
else
    config="${out:-$(dirname "$(stack_file)")/prometheus.yml}"
    write_native_config "$config"
    info "wrote $config"
fi
TARGETS=""
validate_config "$config" || true

section "targets"
declare -A url_of=(
    [api-server]="$API_URL" [order-api]="$ORDER_API_URL"
    [data-collector]="$COLLECTOR_URL" [order-events]="$EVENTS_URL"
)
while read -r job target; do
    [[ -z "$job" ]] && continue
    base="${url_of[$job]:-http://$target}"
    if body="$(http_get "$base/metrics" 2>&1)" && grep -q '^# TYPE' <<<"$body"; then
        ok "$job ($target): $(grep -c '^# TYPE' <<<"$body") metric families"
    else
        fail "$job ($target): no metrics at $base/metrics"
    fi
done <<<"$TARGETS"

section "grafana"
validate_dashboard
info "run:    prometheus --config.file=$config"
info "import: $DASHBOARD in Grafana (Dashboards > Import), Prometheus as the data source"
verdict "setup_monitoring"
