# Shared by the kwh serve tests: a site with accounts, a payment provider, and `kwh serve`
# running as an unprivileged user (it refuses root). As root (CI), everything of the site runs
# as nobody from a copy of the binary in a folder it can enter (enterable_dir), so that a
# checkout in a private home works too; as another user, as that user.
source "$KWH_SOURCE/tests/e2e/lib.sh"
source "$KWH_SOURCE/tests/e2e/daemon_lib.sh" # sql, need_sqlite3
command -v curl >"$T/null" || skip "curl is not installed (tools/kwh-dev setup installs it)"
command -v openssl >"$T/null" || skip "openssl is not installed (tools/kwh-dev setup installs it)"

enterable_dir
SITE=$U/site
KWH_COPY=$U/bin/kwh
mkdir -p "$SITE" "$U/bin"
cp "$KWH" "$KWH_COPY"
chmod 0755 "$U/bin" "$KWH_COPY"
export KWH_DB=$SITE/kwh.db KWH_CONFIG=$SITE/kwh.toml
if [ "$(id -u)" = 0 ]; then
  command -v setpriv >"$T/null" || skip "setpriv is not installed"
  chown nobody:nogroup "$SITE"
  AS_SITE=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
else
  AS_SITE=()
fi
as_site() { "${AS_SITE[@]}" "$@"; }
kwh() { as_site "$KWH_COPY" "$@"; }

PORT=$(free_port)
BASE=http://127.0.0.1:$PORT
PAY_SECRET=whsec-kwh-e2e-0123456789
# write_site: the configuration, the provider's secret and a site with three accounts.
write_site() {
  cat >"$SITE/kwh.toml" <<TOML
currency = "CNY"
[serve]
listen = "127.0.0.1:$PORT"
max_body = 4096
link_rate = 40
[serve.providers.paybox]
secret_file = "$SITE/paybox.secret"
checkout_url = "https://checkout.example.com/pay?account={account}&amount={amount}&return={return}"
label = "Pay by card"
TOML
  printf '%s\n' "$PAY_SECRET" >"$SITE/paybox.secret"
  chmod 0640 "$SITE/paybox.secret"
  [ "$(id -u)" = 0 ] && chown nobody:nogroup "$SITE/kwh.toml" "$SITE/paybox.secret"
  kwh init >"$T/null"
  kwh tariff add T1 --flat 1.00 >"$T/null"
  kwh account open A1 --name "Tea House" --tariff T1 >"$T/null"
  kwh account open A2 --name "Closed Shop" --tariff T1 >"$T/null"
  kwh account open A3 --name "Book Shop" --tariff T1 >"$T/null"
  kwh sell A1 100 >"$T/null"
  kwh account close A2 >"$T/null"
}

SERVE_PID=
start_serve() {
  # Not through a function: $! must be kwh serve itself (setpriv execs it), for signals.
  "${AS_SITE[@]}" "$KWH_COPY" serve --insecure-cookies "$@" >"$T/serve.out" 2>"$T/serve.err" &
  SERVE_PID=$!
  track "$SERVE_PID"
  wait_for 10 grep -q "listening on" "$T/serve.out" || { cat "$T/serve.err" >&2; fail "kwh serve did not start"; }
}

# sign BODY [T]: the Kwh-Signature header value for BODY at time T (now).
sign() {
  local t=${2:-$(date +%s)}
  printf 't=%s,v1=%s' "$t" "$(printf '%s.%s' "$t" "$1" | openssl dgst -sha256 -hmac "$PAY_SECRET" | sed 's/.* //')"
}

# webhook BODY [HEADER-VALUE]: posts a payment; the status in $STATUS, the body in $BODY.
webhook() {
  local sig=${2-$(sign "$1")}
  BODY=$(curl -s -o - -w '\n%{http_code}' -X POST -H "Content-Type: application/json" -H "Kwh-Signature: $sig" \
    --data-binary "$1" "$BASE/webhooks/${PROVIDER:-paybox}")
  STATUS=${BODY##*$'\n'}; BODY=${BODY%$'\n'*}
}

# login URL JAR: Continue on a link's page and keep the session cookie in JAR.
login() {
  local page csrf
  page=$(curl -s "$1")
  csrf=$(printf '%s' "$page" | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p')
  [ -n "$csrf" ] || fail "no Continue form at $1: $page"
  STATUS=$(curl -s -o "$T/null" -w '%{http_code}' -c "$2" -H "Origin: $BASE" --data-urlencode "csrf=$csrf" "$1")
}

