#!/usr/bin/env bash
# kwh serve over real HTTP with curl: login links (single use, expiry, revocation, altered
# tokens, Origin and CSRF), the tenant's page and JSON API, the reminder and buy forms, signed
# webhook payments credited exactly once and every refusal with nothing written, rate limits,
# request limits, keep-alive, the request log, refusing root, and a clean stop on SIGTERM.
source "$KWH_SOURCE/tests/e2e/web_lib.sh"
need_sqlite3
write_site

# Never as root.
if [ "$(id -u)" = 0 ]; then
  expect_exit 77 "$KWH" serve
  expect_one_line_error
  contains "$ERR" "refuses to run as root"
fi

start_serve
contains "$(cat "$T/serve.out")" "listening on 127.0.0.1:$PORT, base URL $BASE"
equals "$(curl -s "$BASE/healthz")" "ok"
ledger_rows() { sql "SELECT count(*) FROM ledger"; }
code() { curl -s -o "$T/null" -w '%{http_code}' "$@"; }

# --- Login links -------------------------------------------------------------------------
expect_exit 0 kwh account link A1
URL=$OUT
contains "$URL" "$BASE/l/"
# GET shows Continue and redeems nothing; it may be opened twice (a phone's link preview).
page=$(curl -s -D "$T/h" "$URL")
contains "$page" "Continue"
contains "$(cat "$T/h")" "Content-Security-Policy: default-src 'none'"
equals "$(code "$URL")" 200
equals "$(sql "SELECT count(*) FROM web_links_used")" 0
csrf=$(printf '%s' "$page" | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p')
# POST without Origin, from another origin, or without the form's token: 403, nothing used.
equals "$(code --data-urlencode "csrf=$csrf" "$URL")" 403
equals "$(code -H "Origin: https://evil.example.com" --data-urlencode "csrf=$csrf" "$URL")" 403
equals "$(code -H "Origin: $BASE" --data-urlencode "csrf=x$csrf" "$URL")" 403
equals "$(sql "SELECT count(*) FROM web_sessions")" 0
# The real POST: a session cookie, HttpOnly and SameSite=Lax (no Secure with --insecure-cookies).
curl -s -D "$T/h" -o "$T/null" -c "$T/jar" -H "Origin: $BASE" --data-urlencode "csrf=$csrf" "$URL"
contains "$(cat "$T/h")" "HTTP/1.1 303"
contains "$(cat "$T/h")" "Location: /"
contains "$(cat "$T/h")" "Set-Cookie: kwh="
contains "$(cat "$T/h")" "HttpOnly; SameSite=Lax"
equals "$(sql "SELECT count(*) FROM web_sessions")" 1
# Used: both GET and POST say so with 403, and nothing about the account.
page=$(curl -s -D "$T/h" "$URL")
contains "$(cat "$T/h")" "HTTP/1.1 403"
contains "$page" "cannot be used"
not_contains "$page" "Tea House"
equals "$(code -H "Origin: $BASE" --data-urlencode "csrf=$csrf" "$URL")" 403
equals "$(sql "SELECT count(*) FROM web_sessions")" 1

# Altered: any character of the token changed.
expect_exit 0 kwh account link A1
URL2=$OUT
tok=${URL2##*/}
last=${tok: -1}; [ "$last" = A ] && swap=B || swap=A
equals "$(code "$BASE/l/${tok%?}$swap")" 403
equals "$(code "$BASE/l/2${tok#?}")" 403
# Expired: a token signed with the site's key whose time is past (made here with openssl, as a
# check that the scheme is what kwh-serve(1) says).
key=$(as_site cat "$SITE/serve.secret")
part="1.$(( $(date +%s) - 10 )).0.AAAAAAAAAAAAAAAA"
mac=$(printf 'kwh-link-v1\n%s' "$part" | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$key" -binary | base64 | tr '+/' '-_' | tr -d '=')
equals "$(code "$BASE/l/$part.$mac")" 403
part="1.$(( $(date +%s) + 600 )).0.AAAAAAAAAAAAAAAA"
mac=$(printf 'kwh-link-v1\n%s' "$part" | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$key" -binary | base64 | tr '+/' '-_' | tr -d '=')
equals "$(code "$BASE/l/$part.$mac")" 200 # the same scheme, not expired: valid

# --- The tenant's page and API -----------------------------------------------------------
page=$(curl -s -D "$T/h" -b "$T/jar" "$BASE/")
contains "$(cat "$T/h")" "HTTP/1.1 200"
contains "$page" "Tea House"
contains "$page" "100.00"
contains "$page" "<svg"
not_contains "$page" "<script"
api=$(curl -s -b "$T/jar" "$BASE/api/v1/account")
equals "$(printf '%s' "$api" | json 'd["balance"]')" "100.00"
equals "$(printf '%s' "$api" | json 'len(d["days"])')" 30
equals "$(code "$BASE/")" 401
equals "$(code "$BASE/api/v1/account")" 401
equals "$(code -b "kwh=forged" "$BASE/")" 401
equals "$(code -b "$T/jar" "$BASE/receipt/1")" 200
equals "$(code -b "$T/jar" "$BASE/nothing-here")" 404
equals "$(code -X DELETE -b "$T/jar" "$BASE/")" 405

# The reminder level: with Origin and the session's token only.
csrf=$(curl -s -b "$T/jar" "$BASE/" | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' | head -1)
equals "$(code -b "$T/jar" -H "Origin: $BASE" --data-urlencode "csrf=$csrf" --data-urlencode "level=25" "$BASE/reminder")" 303
equals "$(sql "SELECT reminder FROM accounts WHERE name = 'A1'")" 2500
equals "$(code -b "$T/jar" -H "Origin: $BASE" --data-urlencode "csrf=nope" --data-urlencode "level=1" "$BASE/reminder")" 403
equals "$(code -b "$T/jar" --data-urlencode "csrf=$csrf" --data-urlencode "level=1" "$BASE/reminder")" 403
equals "$(code -b "$T/jar" -H "Origin: $BASE" --data-urlencode "csrf=$csrf" --data-urlencode "level=1.234" "$BASE/reminder")" 400
equals "$(sql "SELECT reminder FROM accounts WHERE name = 'A1'")" 2500
# Emergency credit: none is offered on this site (none configured, a balance above 0).
equals "$(code -b "$T/jar" -H "Origin: $BASE" --data-urlencode "csrf=$csrf" "$BASE/emergency")" 409
equals "$(code -b "$T/jar" -H "Origin: $BASE" --data-urlencode "csrf=nope" "$BASE/emergency")" 403
equals "$(sql "SELECT count(*) FROM ledger WHERE kind = 'emergency'")" 0
# Buy: a redirect to the provider's checkout; the sale comes only from the webhook.
curl -s -D "$T/h" -o "$T/null" -b "$T/jar" -H "Origin: $BASE" --data-urlencode "csrf=$csrf" \
  --data-urlencode "provider=paybox" --data-urlencode "amount=20" "$BASE/buy"
contains "$(cat "$T/h")" "HTTP/1.1 303"
contains "$(cat "$T/h")" "Location: https://checkout.example.com/pay?account=A1&amount=20.00&return=http%3A%2F%2F127.0.0.1%3A$PORT%2F"
equals "$(sql "SELECT count(*) FROM ledger WHERE account_id = 1")" 1

# --- Webhooks ----------------------------------------------------------------------------
before=$(ledger_rows)
pay='{"id":"evt-1","account":"A1","amount":5000,"currency":"CNY"}'
webhook "$pay"
equals "$STATUS" 200
equals "$(printf '%s' "$BODY" | json 'd["balance"]')" "150.00"
equals "$(printf '%s' "$BODY" | json 'd["replayed"]')" False
receipt=$(printf '%s' "$BODY" | json 'd["receipt"]')
# A retry: the first result, nothing new.
webhook "$pay"
equals "$STATUS" 200
equals "$(printf '%s' "$BODY" | json 'd["replayed"]')" True
equals "$(printf '%s' "$BODY" | json 'd["receipt"]')" "$receipt"
equals "$(sql "SELECT count(*) FROM ledger WHERE ref = 'paybox:evt-1' AND method = 'online' AND amount = 5000")" 1
after=$((before + 1))
equals "$(ledger_rows)" "$after"
# Refusals, each writing nothing.
refused() { # STATUS BODY [SIGNATURE]
  local want=$1; shift
  webhook "$@"
  [ "$STATUS" = "$want" ] || fail "expected $want, got $STATUS for $1: $BODY"
  equals "$(ledger_rows)" "$after"
}
refused 409 '{"id":"evt-1","account":"A1","amount":6000,"currency":"CNY"}'
refused 409 '{"id":"evt-1","account":"A3","amount":5000,"currency":"CNY"}'
refused 401 '{"id":"evt-2","account":"A1","amount":100,"currency":"CNY"}' "$(sign x)"
refused 401 '{"id":"evt-2","account":"A1","amount":100,"currency":"CNY"}' \
  "$(sign '{"id":"evt-2","account":"A1","amount":100,"currency":"CNY"}' $(( $(date +%s) - 400 )))"
refused 401 '{"id":"evt-2","account":"A1","amount":100,"currency":"CNY"}' \
  "$(sign '{"id":"evt-2","account":"A1","amount":100,"currency":"CNY"}' $(( $(date +%s) + 400 )))"
refused 400 '{"id":"evt-2","account":"A1","amount":100,"currency":"CNY"}' ""
refused 400 '{"id":"evt-2","account":"A1","amount":1.5,"currency":"CNY"}'
refused 400 '{"id":"evt-2","account":"A1","amount":100}'
refused 400 'not json'
refused 422 '{"id":"evt-2","account":"A1","amount":100,"currency":"USD"}'
refused 422 '{"id":"evt-2","account":"NOPE","amount":100,"currency":"CNY"}'
refused 422 '{"id":"evt-2","account":"A2","amount":100,"currency":"CNY"}'
PROVIDER=other refused 404 '{"id":"evt-2","account":"A1","amount":100,"currency":"CNY"}'
big="{\"id\":\"evt-2\",\"account\":\"A1\",\"amount\":100,\"currency\":\"CNY\",\"pad\":\"$(head -c 5000 /dev/zero | tr '\0' x)\"}"
refused 413 "$big"
# Several signatures (a key being rotated): one right one is enough.
pay3='{"id":"evt-3","account":"A3","amount":1234,"currency":"CNY"}'
good=$(sign "$pay3")
webhook "$pay3" "t=${good#t=}"",v1=$(printf '%064d' 0)"
equals "$STATUS" 200
after=$((after + 1))
# Concurrent deliveries of one payment: exactly one sale.
pay4='{"id":"evt-4","account":"A3","amount":700,"currency":"CNY"}'
sig4=$(sign "$pay4")
pids=()
for i in 1 2 3 4 5 6; do
  curl -s -o "$T/dup.$i" -w '%{http_code}' -H "Kwh-Signature: $sig4" --data-binary "$pay4" "$BASE/webhooks/paybox" >"$T/dup.$i.code" &
  pids+=($!)
done
wait "${pids[@]}"
for i in 1 2 3 4 5 6; do equals "$(cat "$T/dup.$i.code")" 200; done
equals "$(sql "SELECT count(*) FROM ledger WHERE ref = 'paybox:evt-4'")" 1
equals "$(sql "SELECT balance FROM accounts WHERE name = 'A3'")" 1934
# The page shows the payment.
contains "$(curl -s -b "$T/jar" "$BASE/")" "150.00"
# Each sale has its audit entry, by kwh-serve.
equals "$(sql "SELECT count(*) FROM audit WHERE operator = 'kwh-serve' AND action = 'sell'")" 3
expect_exit 0 kwh check

# --- Revocation and logout ---------------------------------------------------------------
expect_exit 0 kwh account link A1
URL3=$OUT
login "$URL3" "$T/jar2"
equals "$STATUS" 303
equals "$(code -b "$T/jar2" "$BASE/")" 200
expect_exit 0 kwh account link A1
URL4=$OUT
expect_exit 0 kwh account link --revoke A1
equals "$(code -b "$T/jar" "$BASE/")" 401  # every session of the account ended
equals "$(code -b "$T/jar2" "$BASE/")" 401
equals "$(code "$URL4")" 403                # and every link
expect_exit 0 kwh account link A1
login "$OUT" "$T/jar3"
csrf=$(curl -s -b "$T/jar3" "$BASE/" | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' | head -1)
curl -s -D "$T/h" -o "$T/null" -b "$T/jar3" -H "Origin: $BASE" --data-urlencode "csrf=$csrf" "$BASE/logout"
contains "$(cat "$T/h")" "Max-Age=0"
equals "$(code -b "$T/jar3" "$BASE/")" 401
expect_exit 0 kwh log
contains "$OUT" "account link"

# --- Limits ------------------------------------------------------------------------------
# Keep-alive: two requests on one connection.
curl -sv "$BASE/healthz" "$BASE/healthz" -o "$T/null" -o "$T/null" 2>"$T/v"
contains "$(cat "$T/v")" "Re-using existing connection"
# Link redemption is rate limited per address: 429 with Retry-After.
limited=
for i in $(seq 1 100); do
  curl -s -D "$T/h" -o "$T/null" "$BASE/l/junk$i"
  if grep -q "HTTP/1.1 429" "$T/h"; then limited=1; break; fi
done
[ -n "$limited" ] || fail "no 429 after 100 link requests (link_rate = 40)"
contains "$(cat "$T/h")" "Retry-After:"

# Webhooks too (120 a minute, a burst of 60): refused before their signature is even read.
rows=$(ledger_rows)
limited=
for i in $(seq 1 200); do
  curl -s -D "$T/h" -o "$T/null" -H "Kwh-Signature: t=1,v1=00" --data-binary '{}' "$BASE/webhooks/paybox"
  if grep -q "HTTP/1.1 429" "$T/h"; then limited=1; break; fi
done
[ -n "$limited" ] || { head -1 "$T/h" >&2; tail -3 "$T/serve.err" >&2; fail "no 429 after 200 webhook requests"; }
contains "$(cat "$T/h")" "Retry-After:"
equals "$(ledger_rows)" "$rows"

# The log: one line per request, with no token and no cookie.
grep -q "GET /l/... 200" "$T/serve.err" || fail "no request line for a link in the log"
not_contains "$(cat "$T/serve.err")" "${tok:0:20}"
not_contains "$(cat "$T/serve.err")" "kwh="

# SIGTERM: exits 0.
kill -TERM "$SERVE_PID"
rc=0; wait "$SERVE_PID" || rc=$?
equals "$rc" 0

# A provider's secret that others may read: refused at start (78), as a bad configuration.
chmod 0644 "$SITE/paybox.secret"
expect_exit 78 as_site "$KWH_COPY" serve --insecure-cookies
expect_one_line_error
contains "$ERR" "paybox.secret"

# Connection limits: at most max_connections at once (more get 503 and are closed), and an
# idle connection is closed after idle_timeout.
chmod 0640 "$SITE/paybox.secret"
sed -i 's/^max_body = 4096$/max_body = 4096\nmax_connections = 2\nidle_timeout = "1s"/' "$SITE/kwh.toml"
start_serve
/usr/bin/python3 - "$PORT" <<'PY' || fail "connection limits not kept"
import socket, sys, time
port = int(sys.argv[1])
idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(2)]
time.sleep(0.3)
third = socket.create_connection(("127.0.0.1", port))
third.settimeout(5)
third.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
answer = third.recv(200)
assert answer.startswith(b"HTTP/1.1 503"), answer
time.sleep(1.6)
for s in idle:
    s.settimeout(5)
    assert s.recv(10) == b"", "an idle connection stayed open"
ok = socket.create_connection(("127.0.0.1", port))
ok.settimeout(5)
ok.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
assert ok.recv(200).startswith(b"HTTP/1.1 200"), "no room after the idle ones closed"
PY
kill -TERM "$SERVE_PID"
rc=0; wait "$SERVE_PID" || rc=$?
equals "$rc" 0

# Without --insecure-cookies (the default, for HTTPS behind a proxy): the cookie is
# __Host-kwh, Secure, HttpOnly, SameSite=Lax, Path=/.
"${AS_SITE[@]}" "$KWH_COPY" serve >"$T/serve.out" 2>"$T/serve.err" &
SERVE_PID=$!
track "$SERVE_PID"
wait_for 10 grep -q "listening on" "$T/serve.out" || fail "kwh serve did not start"
expect_exit 0 kwh account link A3
csrf=$(curl -s "$OUT" | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p')
curl -s -D "$T/h" -o "$T/null" -H "Origin: $BASE" --data-urlencode "csrf=$csrf" "$OUT"
contains "$(cat "$T/h")" "Set-Cookie: __Host-kwh="
contains "$(cat "$T/h")" "; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=604800"
kill -TERM "$SERVE_PID"
rc=0; wait "$SERVE_PID" || rc=$?
equals "$rc" 0
