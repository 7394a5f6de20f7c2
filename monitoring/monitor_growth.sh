#!/usr/bin/env bash
# Table sizes and row growth over an interval: two snapshots of pg_stat_user_tables and
# pg_total_relation_size, then rows and bytes added per table and per minute.
# TimescaleDB chunks are summed under their hypertable's schema ("chunks").
# Exit 1 when the database is unreachable; WARN when candles stopped growing.
#
#   monitoring/monitor_growth.sh [SECONDS]     (default 60)
set -euo pipefail
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

interval="${1:-60}"
if ! [[ "$interval" =~ ^[0-9]+$ ]] || ((interval < 1)); then
    printf 'usage: %s [SECONDS]   (a positive whole number of seconds)\n' "$0" >&2
    exit 2
fi

# name|rows added (inserted - deleted)|rows touched (ins + upd + del)|live rows|bytes, cumulative
SNAPSHOT_SQL="SELECT CASE WHEN s.schemaname = 'public' THEN s.relname::text
                          ELSE s.schemaname || ' chunks' END,
       sum(s.n_tup_ins - s.n_tup_del), sum(s.n_tup_ins + s.n_tup_upd + s.n_tup_del),
       sum(s.n_live_tup), sum(pg_total_relation_size(s.relid))
  FROM pg_stat_user_tables s
 WHERE s.schemaname NOT LIKE 'pg\_temp\_%'
 GROUP BY 1 ORDER BY 1"

begin_report "Linkora table growth over ${interval}s"
section "database"
if ! check_database; then
    verdict "monitor_growth"
fi

# The statistics a backend reads are cached per transaction: each snapshot is a new session.
before="$(db_query "$SNAPSHOT_SQL")"
sleep "$interval"
after="$(db_query "$SNAPSHOT_SQL")"

section "tables"
printf '     %-30s %12s %10s %10s %12s %10s\n' table rows "+rows" touched size "rows/min"
declare -A start=() touched_before=()
while IFS='|' read -r name written touched _live _bytes; do
    start["$name"]="$written"
    touched_before["$name"]="$touched"
done <<<"$before"
grown=0
candles_grew=unknown
while IFS='|' read -r name written touched live bytes; do
    [[ -z "$name" ]] && continue
    delta=$((written - ${start["$name"]:-0}))
    changed=$((touched - ${touched_before["$name"]:-0}))
    per_minute=$((delta * 60 / interval))
    printf '     %-30s %12s %+10d %10d %12s %10d\n' "$name" "$live" "$delta" "$changed" \
        "$(numfmt --to=iec "$bytes" 2>/dev/null || echo "$bytes")" "$per_minute"
    if ((delta > 0)); then grown=$((grown + 1)); fi
    if [[ "$name" == candles ]]; then
        candles_grew=$( ((changed > 0)) && echo yes || echo no)
    fi
done <<<"$after"

total="$(db_query "SELECT pg_size_pretty(pg_database_size(current_database()))")"
info "database size: $total"
if ((grown > 0)); then
    ok "$grown table(s) grew in ${interval}s"
else
    warn "no table grew in ${interval}s"
fi
case "$candles_grew" in
yes) ok "candles are being written" ;;
no) warn "candles did not change in ${interval}s (collector idle or stopped?)" ;;
*) warn "no candles table found" ;;
esac
verdict "monitor_growth"
