#!/usr/bin/env bash
# Safe remediation. By default a dry run that only says what it would do; --apply does it.
#   - ends sessions idle in a transaction for more than IDLE_TX_SECONDS (they hold locks and
#     stop autovacuum), cancels queries running longer than LONG_QUERY_SECONDS
#   - reports services that are down with the command that restarts them (never restarts
#     anything itself)
#   - reports an indexer alert (a reorg deeper than the window halts the indexer)
# Exit 1 when a problem remains: in a dry run, any problem found; after --apply, anything
# that could not be fixed here (a service down, an alert).
#
#   monitoring/emergency_fix.sh [--dry-run | --apply]
set -euo pipefail
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

session_limits 300 900
apply=false
case "${1:---dry-run}" in
--dry-run) ;;
--apply) apply=true ;;
*)
    printf 'usage: %s [--dry-run | --apply]\n' "$0" >&2
    exit 2
    ;;
esac

restart_hint() {
    local service="$1"
    if [[ "$STACK_MODE" == compose ]]; then
        info "fix: docker compose -f $COMPOSE_FILE restart $service"
    else
        info "fix: restart the native stack: python -m devstack down && python -m devstack up"
        info "     (logs of $service: ${DEVSTACK_RUN_DIR:-$REPO_DIR/.run}/logs/)"
    fi
}

# Act on the sessions a query selects: dry run lists them, --apply calls FUNCTION on each.
#   remedy WHAT FUNCTION SELECT [name=value ...]   (the values are the SELECT's variables)
remedy() {
    local what="$1" function="$2" select="$3" rows
    shift 3
    rows="$(db_query "$select" "$@")"
    if [[ -z "$rows" ]]; then
        ok "no $what"
        return
    fi
    while IFS='|' read -r pid app seconds; do
        if $apply; then
            if [[ "$(db_query "SELECT $function(:'pid'::int)" pid="$pid")" == t ]]; then
                ok "ended $what: pid $pid ($app, ${seconds}s) via $function"
            else
                warn "$what pid $pid ($app) already gone"
            fi
        else
            fail "$what: pid $pid ($app, ${seconds}s); --apply runs $function($pid)"
        fi
    done <<<"$rows"
}

# Run one service check; when it failed, say how to restart that service.
#   check_or_hint CHECK SERVICE
check_or_hint() {
    local before=$FAILS
    "$1"
    if ((FAILS > before)); then
        restart_hint "$2"
    fi
}

begin_report "Linkora emergency fix ($($apply && echo apply || echo dry run))"

section "services"
check_or_hint check_api_health api-server
check_or_hint check_order_api_health order-api
check_or_hint check_collector data-collector
check_or_hint check_indexer order-events

section "database"
if check_database; then
    remedy "session idle in transaction" pg_terminate_backend \
        "SELECT pid, coalesce(nullif(application_name, ''), usename::text),
                extract(epoch FROM now() - state_change)::int
           FROM pg_stat_activity
          WHERE state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()
            AND datname = current_database() AND usename = current_user
            AND now() - state_change > make_interval(secs => :'seconds')" \
        seconds="$IDLE_TX_SECONDS"
    remedy "long-running query" pg_cancel_backend \
        "SELECT pid, coalesce(nullif(application_name, ''), usename::text),
                extract(epoch FROM now() - query_start)::int
           FROM pg_stat_activity
          WHERE state = 'active' AND pid <> pg_backend_pid()
            AND backend_type = 'client backend'
            AND datname = current_database() AND usename = current_user
            AND now() - query_start > make_interval(secs => :'seconds')" \
        seconds="$LONG_QUERY_SECONDS"
    alert="$(db_query "SELECT value::text FROM system_state WHERE key = 'order_indexer.alert'" \
        2>/dev/null || true)"
    if [[ -n "$alert" ]]; then
        fail "indexer alert recorded: $alert"
        info "fix: investigate the chain (deep reorg or another chain), then lift the halt"
        info "     (order-events stays up halted until then): python -m order_system.events resume"
    else
        ok "no indexer alert recorded"
    fi
else
    info "fix: check that PostgreSQL runs and accepts connections (pg_isready -h $DB_HOST -p $DB_PORT)"
fi
verdict "emergency_fix"
