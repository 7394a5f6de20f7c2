#!/usr/bin/env bash
# A demo client of the order API: every endpoint with curl + jq (shapes, newest-first order,
# pagination clamps, error answers). One PASS/FAIL line per check; exits 1 on any failure.
#
#   demo/order_api_demo.sh http://127.0.0.1:8080
#   ORDER_API_URL=http://127.0.0.1:8080 demo/order_api_demo.sh
set -uo pipefail

BASE="${1:-${ORDER_API_URL:-http://127.0.0.1:8080}}"
BASE="${BASE%/}"
PASSED=0
FAILED=0
BODY=""
STATUS=""

for tool in curl jq; do
    command -v "$tool" >/dev/null || { echo "FAIL: $tool is not installed" >&2; exit 1; }
done

# fetch PATH: sets STATUS and BODY; returns 1 when nothing answers.
fetch() {
    local out
    out=$(curl -sS --max-time 10 -w '\n%{http_code}' "$BASE$1" 2>&1) || {
        BODY="${out%$'\n'*}"
        STATUS="000"
        return 1
    }
    STATUS="${out##*$'\n'}"
    BODY="${out%$'\n'*}"
}

pass() { PASSED=$((PASSED + 1)); echo "PASS $1"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL $1: $2"; }

# check NAME PATH STATUS JQ-FILTER: the filter must print `true` for the body.
check() {
    local name="$1" path="$2" want="$3" filter="$4" verdict
    if ! fetch "$path"; then
        fail "$name" "no answer from $BASE$path: $BODY"
        return
    fi
    if [[ "$STATUS" != "$want" ]]; then
        fail "$name" "HTTP $STATUS (wanted $want): ${BODY:0:200}"
        return
    fi
    verdict=$(jq -r "$filter" <<<"$BODY" 2>&1)
    if [[ "$verdict" == "true" ]]; then
        pass "$name"
    else
        fail "$name" "body does not match ($verdict): ${BODY:0:200}"
    fi
}

if ! fetch /health; then
    echo "FAIL order API reachable at $BASE: $BODY" >&2
    echo "FAILED: the order API is not reachable" >&2
    exit 1
fi

PLAIN='test("^-?(0|[1-9][0-9]*)(\\.[0-9]*[1-9])?$")'
ORDER="(keys == [\"amount_in\",\"created_at\",\"executed_at\",\"id\",\"is_long\",\"min_amount_out\",
  \"order_type\",\"status\",\"target_price\",\"token_in\",\"token_out\",\"user_address\"])
  and (.amount_in | $PLAIN) and (.target_price | $PLAIN) and (.min_amount_out | $PLAIN)
  and (.user_address | test(\"^0x[0-9a-fA-F]{40}$\"))
  and ((.status == \"EXECUTED\") == (.executed_at != null))"
NEWEST_FIRST='([.orders[].id] == ([.orders[].id] | sort | reverse))'
LIST="(.status == \"success\") and (.total | type == \"number\") and (.has_more | type == \"boolean\")
  and $NEWEST_FIRST and ((.orders | length) <= .limit) and all(.orders[]; $ORDER)"

check "GET /health" /health 200 \
    '.status == "success" and .overall_status == "healthy" and .components.order_api == "HEALTHY"
     and .components.database_connection == "WORKING"'
for status in pending executed cancelled; do
    upper=$(tr '[:lower:]' '[:upper:]' <<<"$status")
    check "GET /orders/$status" "/orders/$status" 200 \
        "$LIST and all(.orders[]; .status == \"$upper\") and .limit == 100 and .offset == 0"
done
check "GET /orders/all" /orders/all 200 "$LIST"
check "GET /orders/all?status=Executed" "/orders/all?status=Executed" 200 \
    "$LIST and all(.orders[]; .status == \"EXECUTED\")"

# Pagination: limit clamped to 1..1000, offset to >= 0, never rejected.
check "limit=0 is clamped to 1" "/orders/all?limit=0" 200 "$LIST and .limit == 1"
check "limit=-7 is clamped to 1" "/orders/all?limit=-7" 200 "$LIST and .limit == 1"
check "limit=5000 is clamped to 1000" "/orders/all?limit=5000" 200 "$LIST and .limit == 1000"
check "offset=-3 is clamped to 0" "/orders/all?offset=-3" 200 "$LIST and .offset == 0"
check "limit=2&offset=1 is echoed" "/orders/all?limit=2&offset=1" 200 \
    "$LIST and .limit == 2 and .offset == 1 and (.orders | length <= 2)"
# Errors: 400/404 with the exact messages clients know.
check "status=open is rejected" "/orders/all?status=open" 400 \
    '. == {"error": "Invalid status. Use: pending, executed, cancelled"}'
check "limit=ten is rejected" "/orders/all?limit=ten" 400 \
    '. == {"error": "Invalid limit. Must be a number."}'
check "GET /orders/abc is rejected" /orders/abc 400 \
    '. == {"error": "Invalid order_id format. Must be a number."}'
check "GET /orders/987654321 is 404" /orders/987654321 404 \
    '. == {"error": "Order 987654321 not found"}'
check "GET /orders/987654321/events is 404" /orders/987654321/events 404 \
    '. == {"error": "Order 987654321 not found"}'
check "GET /users/0x1234/orders is rejected" /users/0x1234/orders 400 \
    '. == {"error": "Invalid address format. Must be 0x followed by 40 hex digits."}'

# One real order, when the chain has any: details, events and its user's orders.
fetch "/orders/all?limit=1"
order_id=$(jq -r '.orders[0].id // empty' <<<"$BODY")
user=$(jq -r '.orders[0].user_address // empty' <<<"$BODY")
if [[ -n "$order_id" ]]; then
    check "GET /orders/$order_id" "/orders/$order_id" 200 \
        ".status == \"success\" and .order.id == $order_id
         and (.order | has(\"tx_hash\") and has(\"block_number\") and has(\"self_executable\"))"
    check "GET /orders/$order_id/events" "/orders/$order_id/events" 200 \
        ".order_id == $order_id and .total == (.events | length) and .events[0].event_type == \"CREATED\"
         and ([.events[].block_number] == ([.events[].block_number] | sort))
         and all(.events[]; .event_data | type == \"object\")"
    lower=$(tr '[:upper:]' '[:lower:]' <<<"$user")
    check "GET /users/{lowercase address}/orders" "/users/$lower/orders" 200 \
        "$LIST and .total >= 1 and all(.orders[]; .user_address == \"$user\")"
else
    check "GET /users/{address}/orders (no orders yet)" \
        "/users/0x70997970c51812dc3a010c7d01b50e0d17dc79c8/orders" 200 "$LIST"
    echo "note: no orders yet, so the details and events of a real order were not checked"
fi

check "GET /statistics" /statistics 200 \
    '.status == "success" and (.statistics | keys == ["CANCELLED", "EXECUTED", "PENDING"])
     and all(.statistics[]; (.total | type == "number") and (.last_24h | type == "number"))'
check "GET /openapi.json" /openapi.json 200 \
    '(.openapi | startswith("3.1")) and (.paths | has("/orders/{order_id}"))'
if fetch /docs && [[ "$STATUS" == 200 && "$BODY" == *"/orders/all"* ]]; then
    pass "GET /docs"
else
    fail "GET /docs" "HTTP $STATUS"
fi

echo "$PASSED passed, $FAILED failed"
[[ "$FAILED" == 0 ]]
