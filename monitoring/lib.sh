# shellcheck shell=bash
# Shared by the monitoring scripts (sourced, not run): finds the stack, talks to it, and
# keeps the OK/WARN/FAIL tally that decides the exit status.
#
# Which stack, in this order:
#   explicit  API_URL / ORDER_API_URL / COLLECTOR_URL / EVENTS_URL / DB_* in the environment
#   compose   `docker compose ps` lists running services of this project
#   native    stack.json written by `python -m devstack up` ($DEVSTACK_RUN_DIR or ./.run)
# MONITOR_MODE=explicit|compose|native skips the detection.

MONITORING_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(dirname "$MONITORING_DIR")"
COMPOSE_FILE="${COMPOSE_FILE:-$REPO_DIR/docker-compose.yml}"
HTTP_TIMEOUT="${HTTP_TIMEOUT:-5}"
COLLECTOR_MAX_LAG="${COLLECTOR_MAX_LAG:-300}"   # seconds behind now before FAIL
INDEXER_MAX_LAG="${INDEXER_MAX_LAG:-50}"        # blocks behind the head before FAIL

OKS=0
WARNS=0
FAILS=0

if [[ -t 1 && -z "${NO_COLOR:-}" ]]; then
    _GREEN=$'\e[32m' _YELLOW=$'\e[33m' _RED=$'\e[31m' _RESET=$'\e[0m'
else
    _GREEN='' _YELLOW='' _RED='' _RESET=''
fi

ok() { OKS=$((OKS + 1)); printf '%sOK%s   %s\n' "$_GREEN" "$_RESET" "$*"; }
warn() { WARNS=$((WARNS + 1)); printf '%sWARN%s %s\n' "$_YELLOW" "$_RESET" "$*"; }
fail() { FAILS=$((FAILS + 1)); printf '%sFAIL%s %s\n' "$_RED" "$_RESET" "$*"; }
info() { printf '     %s\n' "$*"; }
section() { printf '\n== %s ==\n' "$*"; }

# The last line of every script; exit 1 when anything failed.
verdict() {
    local name="$1"
    printf '\n%s: %d ok, %d warnings, %d failures (%s stack)\n' \
        "$name" "$OKS" "$WARNS" "$FAILS" "$STACK_MODE"
    if ((FAILS > 0)); then
        printf 'VERDICT: FAIL\n'
        exit 1
    fi
    if ((WARNS > 0)); then
        printf 'VERDICT: WARN\n'
    else
        printf 'VERDICT: OK\n'
    fi
    exit 0
}

require() {
    local tool
    for tool in "$@"; do
        if ! command -v "$tool" >/dev/null 2>&1; then
            printf 'FAIL %s is required but not installed\n' "$tool"
            exit 2
        fi
    done
}

compose() { docker compose -f "$COMPOSE_FILE" "$@"; }

compose_running() {
    command -v docker >/dev/null 2>&1 || return 1
    local services
    services="$(compose ps --status running --services 2>/dev/null)" || return 1
    grep -qx 'api-server' <<<"$services"
}

stack_file() { printf '%s/stack.json' "${DEVSTACK_RUN_DIR:-$REPO_DIR/.run}"; }

_from_stack() { jq -r "$1 // empty" "$(stack_file)"; }

detect_stack() {
    require curl jq
    STACK_MODE="${MONITOR_MODE:-}"
    if [[ -z "$STACK_MODE" ]]; then
        if [[ -n "${API_URL:-}${ORDER_API_URL:-}" ]]; then
            STACK_MODE=explicit
        elif compose_running; then
            STACK_MODE=compose
        elif [[ -f "$(stack_file)" ]]; then
            STACK_MODE=native
        else
            STACK_MODE=none
        fi
    fi
    case "$STACK_MODE" in
    native)
        local file
        file="$(stack_file)"
        if ! jq -e . "$file" >/dev/null 2>&1; then
            fail "no readable stack description at $file"
            verdict "$(basename "$0")"
        fi
        API_URL="${API_URL:-$(_from_stack '.endpoints["api-server"]')}"
        ORDER_API_URL="${ORDER_API_URL:-$(_from_stack '.endpoints["order-api"]')}"
        COLLECTOR_URL="${COLLECTOR_URL:-$(_from_stack '.endpoints["collector health"]')}"
        EVENTS_URL="${EVENTS_URL:-$(_from_stack '.endpoints["events health"]')}"
        DB_HOST="${DB_HOST:-$(_from_stack '.env.DB_HOST')}"
        DB_PORT="${DB_PORT:-$(_from_stack '.env.DB_PORT')}"
        DB_NAME="${DB_NAME:-$(_from_stack '.env.DB_NAME')}"
        DB_USER="${DB_USER:-$(_from_stack '.env.DB_USER')}"
        DB_PASSWORD="${DB_PASSWORD:-$(_from_stack '.env.DB_PASSWORD')}"
        ;;
    compose)
        # The APIs are published on the host; the collector's and indexer's METRICS_PORTs
        # are not, so those are read from inside their containers (see http_get).
        API_URL="${API_URL:-http://127.0.0.1:8022}"
        ORDER_API_URL="${ORDER_API_URL:-http://127.0.0.1:8080}"
        COLLECTOR_URL="${COLLECTOR_URL:-compose://data-collector:9101}"
        EVENTS_URL="${EVENTS_URL:-compose://order-events:9102}"
        DB_HOST="${DB_HOST:-127.0.0.1}"
        DB_PORT="${DB_PORT:-5432}"
        DB_NAME="${DB_NAME:-crypto_data}"
        DB_USER="${DB_USER:-crypto_user}"
        DB_PASSWORD="${DB_PASSWORD:-linkora_dev_password}"
        ;;
    explicit) ;;
    none)
        fail "no running stack found: no compose project, no $(stack_file); set API_URL etc."
        verdict "$(basename "$0")"
        ;;
    *)
        fail "MONITOR_MODE must be explicit, compose or native (not '$STACK_MODE')"
        verdict "$(basename "$0")"
        ;;
    esac
    API_URL="${API_URL:-}"
    ORDER_API_URL="${ORDER_API_URL:-}"
    # Base URLs: a health URL given for the collector or the indexer is accepted too.
    COLLECTOR_URL="${COLLECTOR_URL:-}"
    COLLECTOR_URL="${COLLECTOR_URL%/health}"
    EVENTS_URL="${EVENTS_URL:-}"
    EVENTS_URL="${EVENTS_URL%/health}"
    DB_HOST="${DB_HOST:-127.0.0.1}"
    DB_PORT="${DB_PORT:-5432}"
    DB_NAME="${DB_NAME:-crypto_data}"
    DB_USER="${DB_USER:-crypto_user}"
    DB_PASSWORD="${DB_PASSWORD:-}"
    export STACK_MODE API_URL ORDER_API_URL COLLECTOR_URL EVENTS_URL
    export DB_HOST DB_PORT DB_NAME DB_USER DB_PASSWORD
}

# GET a URL and print the body; non-zero on connection errors and HTTP errors (>= 400).
# `compose://service:port/path` is fetched from inside that service's container.
http_get() {
    local url="$1"
    if [[ "$url" == compose://* ]]; then
        local rest="${url#compose://}"
        local service="${rest%%:*}"
        compose exec -T "$service" python -c \
            'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' \
            "http://127.0.0.1:${rest#*:}"
        return
    fi
    curl -fsS --max-time "$HTTP_TIMEOUT" "$url"
}

# psql with the stack's credentials: unaligned, tuples only, stop on the first error.
#   db_query SQL [name=value ...]
# Values travel as psql variables, written :'name' in SQL (a quoted literal), never pasted
# into its text; psql interpolates variables only in what it reads, hence the SQL on stdin.
db_query() {
    local sql="$1" pair
    shift
    local vars=()
    for pair in "$@"; do
        vars+=(-v "$pair")
    done
    if [[ "$STACK_MODE" == compose ]] && ! command -v psql >/dev/null 2>&1; then
        compose exec -T timescaledb psql -X -q -A -t -v ON_ERROR_STOP=1 -F '|' "${vars[@]}" \
            -U "$DB_USER" -d "$DB_NAME" -f - <<<"$sql"
        return
    fi
    PGPASSWORD="$DB_PASSWORD" PGCONNECT_TIMEOUT="${PGCONNECT_TIMEOUT:-5}" psql -X -q -A -t \
        -v ON_ERROR_STOP=1 -F '|' "${vars[@]}" -h "$DB_HOST" -p "$DB_PORT" -U "$DB_USER" \
        -d "$DB_NAME" -f - <<<"$sql"
}

# Exit 2 unless variable NAME holds a whole number of seconds.
require_seconds() {
    local name="$1"
    if [[ ! "${!name}" =~ ^[0-9]{1,9}$ ]]; then
        printf '%s must be a whole number of seconds, not %q\n' "$name" "${!name}" >&2
        exit 2
    fi
}

# IDLE_TX_SECONDS and LONG_QUERY_SECONDS from the environment, else these defaults; exit 2
# unless both are whole numbers of seconds.
#   session_limits IDLE_DEFAULT LONG_DEFAULT
session_limits() {
    IDLE_TX_SECONDS="${IDLE_TX_SECONDS:-$1}"
    LONG_QUERY_SECONDS="${LONG_QUERY_SECONDS:-$2}"
    require_seconds IDLE_TX_SECONDS
    require_seconds LONG_QUERY_SECONDS
}

show_stack() {
    info "stack: $STACK_MODE"
    info "api-server: ${API_URL:-?}  order-api: ${ORDER_API_URL:-?}"
    info "collector: ${COLLECTOR_URL:-?}  events: ${EVENTS_URL:-?}"
    info "database: ${DB_USER}@${DB_HOST}:${DB_PORT}/${DB_NAME}"
}

# How every report starts: find the stack, title the report, say which stack it reads.
begin_report() {
    detect_stack
    section "$1"
    show_stack
}

# GET BASE/PATH into BODY. False, having said why, when no URL is known (LEVEL is warn or
# fail) or the service does not answer (FAIL, DOWN followed by the error).
#   fetch LEVEL NO_URL DOWN BASE PATH
fetch() {
    local level="$1" no_url="$2" down="$3" base="$4" path="$5"
    if [[ -z "$base" ]]; then
        "$level" "$no_url"
        return 1
    fi
    if ! BODY="$(http_get "$base$path" 2>&1)"; then
        fail "$down: ${BODY//$'\n'/ }"
        return 1
    fi
}

# A field of a JSON body, '?' when it is missing or the body is not JSON.
json_field() { jq -r "$2 // \"?\"" <<<"$1" 2>/dev/null || echo '?'; }

# -- checks shared by several scripts --------------------------------------------------------

check_database() {
    local version
    if version="$(db_query 'SHOW server_version' 2>&1)"; then
        ok "database answers (PostgreSQL $version)"
    else
        fail "database unreachable at $DB_HOST:$DB_PORT/$DB_NAME: ${version//$'\n'/ }"
        return 1
    fi
}

# An API's /health into BODY, and its STATUS_FIELD into STATUS; false, having said FAIL, when
# the API has no URL or does not answer.
#   api_health NAME URL STATUS_FIELD
api_health() {
    fetch fail "$1: no URL" "$1 down or unhealthy at $2/health" "$2" /health || return 1
    STATUS="$(json_field "$BODY" "$3")"
}

check_api_health() {
    api_health api-server "$API_URL" .status || return 0
    case "$STATUS" in
    healthy) ok "api-server healthy ($API_URL)" ;;
    degraded) warn "api-server degraded: $(jq -c . <<<"$BODY")" ;;
    *) fail "api-server /health says '$STATUS'" ;;
    esac
}

check_order_api_health() {
    api_health order-api "$ORDER_API_URL" .overall_status || return 0
    if [[ "$STATUS" == healthy ]]; then
        ok "order-api healthy ($ORDER_API_URL)"
    else
        fail "order-api /health says '$STATUS': $(jq -c . <<<"$BODY" 2>/dev/null)"
    fi
}

# Collector: reachable, healthy, and every symbol's newest closed minute recent enough.
check_collector() {
    local body status lagging
    fetch warn "collector: no health URL known (set COLLECTOR_URL)" \
        "collector down at $COLLECTOR_URL/health" "$COLLECTOR_URL" /health || return 0
    body="$BODY"
    status="$(json_field "$body" .status)"
    if [[ "$status" == healthy ]]; then
        ok "collector healthy"
    else
        fail "collector /health says '$status'"
    fi
    while IFS=$'\t' read -r symbol phase lag; do
        if [[ "$phase" == backfill || "$phase" == starting ]]; then
            warn "collector $symbol: $phase (lag ${lag}s)"
        elif [[ "$phase" == error ]]; then
            fail "collector $symbol: error phase"
        elif [[ "$lag" == null ]]; then
            warn "collector $symbol: $phase, no closed minute yet"
        else
            lagging="$(jq -n --argjson lag "$lag" --argjson max "$COLLECTOR_MAX_LAG" '$lag > $max')"
            if [[ "$lagging" == true ]]; then
                fail "collector $symbol: ${lag}s behind (max $COLLECTOR_MAX_LAG)"
            else
                ok "collector $symbol: $phase, ${lag}s behind"
            fi
        fi
    done < <(jq -r '.symbols // {} | to_entries[] |
        [.key, .value.phase, (.value.lag_seconds | tostring)] | @tsv' <<<"$body" 2>/dev/null)
}

# Indexer: reachable and within INDEXER_MAX_LAG blocks of the head.
check_indexer() {
    local body head processed lag
    fetch warn "event indexer: no health URL known (set EVENTS_URL)" \
        "event indexer down at $EVENTS_URL/health" "$EVENTS_URL" /health || return 0
    body="$BODY"
    # The indexer's own verdict first: a halted or stalled indexer can be 0 blocks behind.
    if [[ "$(jq -r '.verdict // "healthy"' <<<"$body")" != healthy ]]; then
        fail "event indexer: $(jq -r '.verdict' <<<"$body"): $(jq -c '.problems' <<<"$body")"
        return
    fi
    head="$(jq -r '.order_indexer_chain_head // -1' <<<"$body")"
    processed="$(jq -r '.order_indexer_processed_block // -1' <<<"$body")"
    lag="$(jq -r '.order_indexer_lag_blocks // -1' <<<"$body")"
    if [[ "$lag" == -1 ]]; then
        warn "event indexer: has not seen the chain head yet"
    elif ((lag > INDEXER_MAX_LAG)); then
        fail "event indexer: $lag blocks behind (head $head, processed $processed, max $INDEXER_MAX_LAG)"
    else
        ok "event indexer: block $processed of $head ($lag behind)"
    fi
}

# The four services' health, in the order every report lists them.
check_services() {
    check_api_health
    check_order_api_health
    check_collector
    check_indexer
}
