#!/usr/bin/env bash
# Everything at once: service health and lag, every service's /metrics, data freshness in
# the database, the API and connection checks (run as sub-reports), and table sizes.
# Exit 1 when any part fails.
#
#   monitoring/full_diagnostics.sh
set -euo pipefail
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Metric names each service must expose.
API_METRICS=(http_request_duration_seconds_count api_websocket_clients)
ORDER_API_METRICS=(http_request_duration_seconds_count)
COLLECTOR_METRICS=(collector_lag_seconds collector_weight_used collector_candles_written_total)
EVENTS_METRICS=(order_indexer_chain_head order_indexer_processed_block order_indexer_lag_blocks)

check_metric_names() {
    local name="$1" base="$2" body metric missing=()
    shift 2
    fetch warn "$name /metrics: no URL known" "$name /metrics unreachable" "$base" /metrics ||
        return 0
    body="$BODY"
    for metric in "$@"; do
        grep -q "^$metric" <<<"$body" || missing+=("$metric")
    done
    if ((${#missing[@]} > 0)); then
        fail "$name /metrics lacks ${missing[*]}"
    else
        ok "$name /metrics: $(grep -c '^[a-z]' <<<"$body") samples"
    fi
}

# Run a sibling script, indent its report, and turn its exit status into one verdict line.
sub_report() {
    local script="$1" status=0 output
    shift
    output="$(MONITOR_MODE="$STACK_MODE" "$MONITORING_DIR/$script" "$@" 2>&1)" || status=$?
    while IFS= read -r line; do printf '   | %s\n' "$line"; done <<<"$output"
    if ((status == 0)); then
        ok "$script passed"
    else
        fail "$script failed (exit $status)"
    fi
}

begin_report "Linkora full diagnostics  $(date -u '+%Y-%m-%d %H:%M:%S UTC')"

section "services"
check_services

section "metrics"
check_metric_names api-server "$API_URL" "${API_METRICS[@]}"
check_metric_names order-api "$ORDER_API_URL" "${ORDER_API_METRICS[@]}"
check_metric_names collector "$COLLECTOR_URL" "${COLLECTOR_METRICS[@]}"
check_metric_names order-events "$EVENTS_URL" "${EVENTS_METRICS[@]}"

section "data"
if check_database; then
    while IFS='|' read -r symbol newest age; do
        [[ -z "$symbol" ]] && continue
        if ((age > COLLECTOR_MAX_LAG)); then
            fail "newest stored $symbol candle opened $newest (${age}s ago)"
        else
            ok "newest stored $symbol candle opened $newest (${age}s ago)"
        fi
    done < <(db_query "SELECT symbol, max(open_time), extract(epoch FROM now() - max(open_time))::int
        FROM candles GROUP BY symbol ORDER BY symbol" 2>/dev/null || true)
    gaps="$(db_query "SELECT count(*) FROM candle_gaps" 2>/dev/null || echo '?')"
    info "recorded candle gaps: $gaps"
    orders="$(db_query "SELECT status, count(*) FROM orders GROUP BY 1 ORDER BY 1" 2>/dev/null |
        tr '\n' ' ' || true)"
    info "orders by status: ${orders:-none}"
    while IFS='|' read -r table size; do
        info "$(printf '%-28s %s' "$table" "$size")"
    done < <(db_query "SELECT relname, pg_size_pretty(pg_total_relation_size(relid))
        FROM pg_stat_user_tables WHERE schemaname = 'public'
        ORDER BY pg_total_relation_size(relid) DESC LIMIT 8")
fi

section "api_check.sh"
sub_report api_check.sh
section "db_connections_check.sh"
sub_report db_connections_check.sh
verdict "full_diagnostics"
