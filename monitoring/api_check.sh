#!/usr/bin/env bash
# Calls the main endpoints of both APIs, checks status, shape and latency, and that
# /metrics exposes the request histogram. Exit 1 when an endpoint fails or answers garbage.
#
#   monitoring/api_check.sh            SLOW_MS=500 (WARN above it)
set -euo pipefail
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SLOW_MS="${SLOW_MS:-1000}"

# check NAME URL JQ_TEST: GET, time it, and require the body to satisfy the jq filter.
check() {
    local name="$1" url="$2" test="$3" out code seconds body millis
    if ! out="$(curl -sS --max-time "$HTTP_TIMEOUT" -w $'\n%{http_code} %{time_total}' "$url" 2>&1)"; then
        fail "$name: unreachable (${out//$'\n'/ })"
        return
    fi
    read -r code seconds <<<"${out##*$'\n'}"
    body="${out%$'\n'*}"
    millis="$(awk -v s="$seconds" 'BEGIN { printf "%d", s * 1000 }')"
    if [[ "$code" != 200 ]]; then
        fail "$name: HTTP $code ${body:0:200}"
    elif [[ "$test" != - ]] && ! jq -e "$test" >/dev/null 2>&1 <<<"$body"; then
        fail "$name: unexpected body ${body:0:200}"
    elif ((millis > SLOW_MS)); then
        warn "$name: ${millis} ms (slower than ${SLOW_MS} ms)"
    else
        ok "$name: ${millis} ms"
    fi
}

check_metrics() {
    local name="$1" url="$2" body
    if ! body="$(http_get "$url/metrics" 2>&1)"; then
        fail "$name /metrics: unreachable (${body//$'\n'/ })"
    elif grep -q '^http_request_duration_seconds_count' <<<"$body"; then
        ok "$name /metrics: request latency histogram present"
    else
        fail "$name /metrics: no http_request_duration_seconds"
    fi
}

begin_report "Linkora API check"

section "api-server"
if [[ -z "$API_URL" ]]; then
    fail "api-server: no URL"
else
    check "GET /health" "$API_URL/health" '.status'
    symbol="$(http_get "$API_URL/symbols" 2>/dev/null | jq -r '.symbols[0] // empty' || true)"
    if [[ -z "$symbol" ]]; then
        fail "GET /symbols: no symbols"
    else
        ok "GET /symbols: first is $symbol"
        check "GET /candles 1" "$API_URL/candles?symbol=$symbol&timeframe=1&limit=5" \
            'type == "array" and (length == 0 or (.[0] | has("open_price") and has("timestamp")))'
        check "GET /candles 1H" "$API_URL/candles?symbol=$symbol&timeframe=1H&limit=5" \
            'type == "array"'
        check "GET /orderbook" "$API_URL/orderbook?symbol=$symbol" 'type == "object"'
        check "GET /price" "$API_URL/price?symbol=$symbol" 'type == "object"'
        check "GET /udf/history" \
            "$API_URL/udf/history?symbol=$symbol&resolution=60&from=$(($(date +%s) - 86400))&to=$(date +%s)" \
            '.s == "ok" or .s == "no_data"'
    fi
    check "GET /udf/time" "$API_URL/udf/time" '-'
    check_metrics api-server "$API_URL"
fi

section "order-api"
if [[ -z "$ORDER_API_URL" ]]; then
    fail "order-api: no URL"
else
    check "GET /health" "$ORDER_API_URL/health" '.overall_status == "healthy"'
    check "GET /orders/all" "$ORDER_API_URL/orders/all?limit=5" 'type == "object" or type == "array"'
    check "GET /orders/pending" "$ORDER_API_URL/orders/pending?limit=5" \
        'type == "object" or type == "array"'
    check "GET /statistics" "$ORDER_API_URL/statistics" 'type == "object"'
    check_metrics order-api "$ORDER_API_URL"
fi
verdict "api_check"
