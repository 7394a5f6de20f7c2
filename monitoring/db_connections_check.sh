#!/usr/bin/env bash
# PostgreSQL connections: how many of max_connections are used, by state and application,
# sessions idle in a transaction, long-running queries and sessions waiting on locks.
# Exit 1 when the database is unreachable, nearly full, or sessions hold transactions open.
#
#   monitoring/db_connections_check.sh   (IDLE_TX_SECONDS=60 LONG_QUERY_SECONDS=300
#                                          CONNECTIONS_WARN_PCT=70 CONNECTIONS_FAIL_PCT=90)
set -euo pipefail
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

session_limits 60 300
CONNECTIONS_WARN_PCT="${CONNECTIONS_WARN_PCT:-70}"
CONNECTIONS_FAIL_PCT="${CONNECTIONS_FAIL_PCT:-90}"

begin_report "Linkora database connections"
section "reachability"
if ! check_database; then
    verdict "db_connections_check"
fi

section "usage"
IFS='|' read -r used max <<<"$(db_query "SELECT count(*), current_setting('max_connections')
    FROM pg_stat_activity WHERE backend_type = 'client backend'")"
pct=$((used * 100 / max))
if ((pct >= CONNECTIONS_FAIL_PCT)); then
    fail "connections: $used of $max ($pct%)"
elif ((pct >= CONNECTIONS_WARN_PCT)); then
    warn "connections: $used of $max ($pct%)"
else
    ok "connections: $used of $max ($pct%)"
fi
while IFS='|' read -r app state count; do
    info "$(printf '%-28s %-22s %s' "${app:-<none>}" "${state:-?}" "$count")"
done < <(db_query "SELECT coalesce(nullif(application_name, ''), usename::text), state,
    count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'
    GROUP BY 1, 2 ORDER BY 3 DESC, 1")

section "problems"
idle_tx="$(db_query "SELECT pid, coalesce(nullif(application_name, ''), usename::text),
    extract(epoch FROM now() - state_change)::int FROM pg_stat_activity
    WHERE state LIKE 'idle in transaction%'
      AND now() - state_change > make_interval(secs => :'seconds')" seconds="$IDLE_TX_SECONDS")"
if [[ -n "$idle_tx" ]]; then
    while IFS='|' read -r pid app seconds; do
        fail "pid $pid ($app) idle in transaction for ${seconds}s (emergency_fix.sh --apply ends it)"
    done <<<"$idle_tx"
else
    ok "no session idle in a transaction for more than ${IDLE_TX_SECONDS}s"
fi

long="$(db_query "SELECT pid, coalesce(nullif(application_name, ''), usename::text),
    extract(epoch FROM now() - query_start)::int, left(regexp_replace(query, '\s+', ' ', 'g'), 80)
    FROM pg_stat_activity WHERE state = 'active' AND pid <> pg_backend_pid()
      AND backend_type = 'client backend'
      AND now() - query_start > make_interval(secs => :'seconds')" seconds="$LONG_QUERY_SECONDS")"
if [[ -n "$long" ]]; then
    while IFS='|' read -r pid app seconds query; do
        warn "pid $pid ($app) running for ${seconds}s: $query"
    done <<<"$long"
else
    ok "no query running longer than ${LONG_QUERY_SECONDS}s"
fi

blocked="$(db_query "SELECT count(*) FROM pg_stat_activity
    WHERE cardinality(pg_blocking_pids(pid)) > 0")"
if ((blocked > 0)); then
    warn "$blocked session(s) waiting on locks held by others"
else
    ok "no session waiting on a lock"
fi
verdict "db_connections_check"
