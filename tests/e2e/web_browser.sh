#!/usr/bin/env bash
# The tenant's path in a real browser, Debian's headless Chromium driven over the DevTools
# protocol (peers/cdp_tenant.py): the office's link, Continue, the page with the balance and
# the 30-day chart on a phone's screen, a signed webhook payment, the new balance and its
# receipt after a reload, the used link refused, and the page on a desktop screen. On the way:
# no Content Security Policy violation, no script error, no page wider than the screen.
# KWH_WEB_SHOTS=DIR keeps the two screenshots in DIR, for a person to look at.
source "$KWH_SOURCE/tests/e2e/web_lib.sh"
[ -x /usr/bin/chromium ] || skip "chromium is not installed (tools/kwh-dev setup installs it)"
/usr/bin/python3 -c 'import websocket' 2>"$T/null" ||
  skip "python3-websocket is not installed (tools/kwh-dev setup installs it)"
export TZ=UTC # the site's days, for the usage below
write_site
# Three days of use in the daily rollups (what the page reads; the balance is the ledger's):
# 2.5 kWh two days ago, 7.25 kWh yesterday, 1 kWh today.
today=$(( $(date +%s) / 86400 * 86400 ))
as_site sqlite3 "$KWH_DB" "INSERT INTO daily_usage(day, meter_id, account_id, quantity, cost) VALUES
  ($((today - 2 * 86400)), 1, 1, 2500, 250), ($((today - 86400)), 1, 1, 7250, 725), ($today, 1, 1, 1000, 100)"
start_serve
expect_exit 0 kwh account link A1
URL=$OUT
contains "$URL" "$BASE/l/"

# --- The browser -------------------------------------------------------------------------
# Its profile, home and temporary files stay in $T. It opens nothing but kwh serve on loopback,
# so it runs without its sandbox (which cannot work as root, as in CI). It gets a process
# group of its own, so that its helper processes stop with it when the test ends.
B=$T/browser
mkdir -p "$B/home" "$B/tmp"
CDP_PORT=$(free_port)
BROWSER_PID=
browser_running() { ps -e -o pgid=,stat= | awk -v g="$BROWSER_PID" '$1 == g && $2 !~ /^Z/ {n++} END {exit !n}'; }
stop_browser() {
  [ -n "$BROWSER_PID" ] || return 0
  kill -TERM -- "-$BROWSER_PID" 2>"$T/null" || return 0
  local i
  for i in $(seq 1 50); do browser_running || break; sleep 0.1; done
  kill -KILL -- "-$BROWSER_PID" 2>"$T/null" || true
  wait "$BROWSER_PID" 2>"$T/null" || true
}
exit_status() { return "$1"; }
on_exit() {
  local rc=$?
  set +e
  stop_browser
  exit_status "$rc"
  cleanup
}
trap on_exit EXIT

HOME=$B/home XDG_CONFIG_HOME=$B/home/.config XDG_CACHE_HOME=$B/home/.cache TMPDIR=$B/tmp \
  setsid /usr/bin/chromium --headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage --hide-scrollbars \
  --no-first-run --no-default-browser-check --no-proxy-server --disable-extensions --disable-sync \
  --disable-component-update --disable-background-networking --password-store=basic \
  --user-data-dir="$B/profile" --remote-debugging-address=127.0.0.1 --remote-debugging-port="$CDP_PORT" \
  about:blank >"$T/browser.out" 2>"$T/browser.err" &
BROWSER_PID=$! # setsid execs the browser: this is the group's leader
track "$BROWSER_PID"
has_page() { curl -s --noproxy '*' "http://127.0.0.1:$CDP_PORT/json/list" | grep -q '"type": "page"'; }
wait_for 30 has_page || { tail -5 "$T/browser.err" >&2; fail "chromium did not start"; }

coproc CDP { exec /usr/bin/python3 "$KWH_SOURCE/tests/e2e/peers/cdp_tenant.py" "$CDP_PORT" 2>"$T/cdp.err"; }
track "$CDP_PID"
# cdp COMMAND...: one command to the browser; its answer (JSON) in $R, decoded in $V.
cdp() {
  [ -n "${CDP[1]:-}" ] || fail "the browser's driver stopped: $(cat "$T/cdp.err")"
  printf '%s\n' "$*" >&"${CDP[1]}"
  local line=
  IFS= read -r -t 60 line <&"${CDP[0]}" || fail "no answer from the browser to '$*': $(cat "$T/cdp.err")"
  case $line in
    '{"ok": '*) R=${line#'{"ok": '}; R=${R%'}'} ;;
    *) fail "the browser, on '$*': $line" ;;
  esac
  V=$(printf '%s' "$R" | json d)
}
# field EXPRESSION: a part of the last answer (d is the answer).
field() { printf '%s' "$R" | json "$1"; }
# The page's text, and the numbers that say whether it fits its screen.
page_text() { cdp evaluate "document.body.innerText"; TEXT=$V; }
fits() { # WIDTH: the layout is as wide as the screen, and nothing in it is wider
  cdp evaluate "[window.innerWidth, document.documentElement.scrollWidth, document.body.scrollWidth]"
  equals "$(field 'd[0]')" "$1"
  [ "$(field 'd[1]')" -le "$1" ] && [ "$(field 'd[2]')" -le "$1" ] ||
    fail "the page is wider than a $1 px screen: [innerWidth, html, body scrollWidth] = $R"
}
styled() { # the stylesheet loaded (the policy allows 'self') and applies
  cdp evaluate "document.styleSheets.length === 1 && document.styleSheets[0].cssRules.length > 20"
  equals "$V" True
}
shot() { # FILE WIDTH-IN-PIXELS
  cdp screenshot "$1"
  equals "$(field 'd["width"]')" "$2"
  [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] || fail "$1 is not a PNG"
  local size
  size=$(stat -c %s "$1")
  [ "$size" -gt 20000 ] || fail "$1 has only $size bytes"
}

# --- The link, on a phone ----------------------------------------------------------------
cdp viewport 360 740 2 mobile
cdp open "$URL"
equals "$(field 'd["statuses"]')" "[200]"
cdp evaluate "[...document.querySelectorAll('form button, form input[type=submit]')].map(b => (b.textContent || b.value).trim()).join('|')"
equals "$V" "Continue"
fits 360
# Continue: the form POSTs, kwh serve answers 303 to the tenant's page.
cdp click "form button, form input[type=submit]"
equals "$(field 'd["method"]')" POST
if [ "$(field 'd["statuses"]')" != "[303, 200]" ]; then
  nav=$R
  page_text
  fail "Continue did not sign in: $nav, the page says: $TEXT; kwh serve logged: $(tail -3 "$T/serve.err")"
fi
equals "$(field 'd["url"]')" "$BASE/"

# --- The tenant's page -------------------------------------------------------------------
page_text
contains "$TEXT" "Tea House"
contains "$TEXT" "100.00"
cdp evaluate "document.querySelector('.balance-amount').innerText"
equals "$V" "100.00 CNY"
# The chart: one SVG with a bar for each of the last 30 days, drawn within the screen.
cdp evaluate "document.querySelectorAll('svg.chart').length"
equals "$V" 1
cdp evaluate "document.querySelectorAll('svg.chart g.day rect.use').length"
equals "$V" 30
# The tallest bar is yesterday's (the 29th of 30), and the days without use have none.
cdp evaluate "(() => { const h = [...document.querySelectorAll('svg.chart g.day rect.use')].map(r => r.getBoundingClientRect().height); return [h.indexOf(Math.max(...h)), h.filter(x => x > 0).length].join(' '); })()"
equals "$V" "28 3"
cdp evaluate "[document.querySelector('svg.chart').getBoundingClientRect()].map(r => r.left >= 0 && r.right <= 360 && r.width > 250)[0]"
equals "$V" True
styled
fits 360
shot "$T/tenant-360.png" 720 # 360 CSS pixels at 2 device pixels each
# Nothing said so far: no policy violation, no script error, not even a warning.
cdp messages
equals "$R" "[]"

# --- A payment, then a reload ------------------------------------------------------------
webhook '{"id":"evt-browser-1","account":"A1","amount":5000,"currency":"CNY"}'
equals "$STATUS" 200
receipt=$(printf '%s' "$BODY" | json 'd["receipt"]')
cdp reload
equals "$(field 'd["statuses"]')" "[200]"
page_text
contains "$TEXT" "150.00"
cdp evaluate "document.querySelector('.balance-amount').innerText"
equals "$V" "150.00 CNY"
# The purchases list: the payment, as its receipt with method online.
cdp evaluate "[...document.querySelectorAll('table.purchases tbody tr')].map(r => [...r.cells].map(c => c.innerText.trim()).join('|')).join('\n')"
printf '%s\n' "$V" | grep -Eq "^$receipt\|[^|]+\|sale\|50\.00\|online\$" ||
  fail "no purchase '$receipt | ... | sale | 50.00 | online' in: $V"
cdp evaluate "document.querySelectorAll('svg.chart g.day rect.use').length"
equals "$V" 30
fits 360
# The receipt's link opens the receipt.
cdp click "table.purchases a[href='/receipt/$receipt']"
equals "$(field 'd["statuses"]')" "[200]"
equals "$(field 'd["url"]')" "$BASE/receipt/$receipt"
page_text
contains "$TEXT" "50.00"
fits 360
cdp messages
equals "$R" "[]"

# --- The same link again: refused --------------------------------------------------------
cdp open "$URL"
equals "$(field 'd["statuses"]')" "[403]"
page_text
contains "$TEXT" "cannot be used"
not_contains "$TEXT" "Tea House"
fits 360

# --- A desktop screen --------------------------------------------------------------------
cdp viewport 1280 800 1 desktop
cdp open "$BASE/"
equals "$(field 'd["statuses"]')" "[200]"
page_text
contains "$TEXT" "150.00"
cdp evaluate "document.querySelectorAll('svg.chart g.day rect.use').length"
equals "$V" 30
styled
fits 1280
shot "$T/tenant-1280.png" 1280

# The whole run: the browser's only complaint is the refused link's 403, and nothing at all
# about the Content Security Policy.
cdp messages
not_contains "$R" "Content Security Policy"
equals "$(field "[m for m in d if not (m['source'] == 'network' and ' 403 ' in m['text'] and m['url'] == '$URL')]")" "[]"
# And the browser would have said so: an inline style, which the policy forbids, is reported.
cdp evaluate "document.body.insertAdjacentHTML('beforeend', '<p style=\"color: red\">inline</p>')"
reported() { cdp messages; case $R in *"Content Security Policy"*) ;; *) return 1 ;; esac; }
for i in $(seq 1 50); do reported && break; sleep 0.1; done
contains "$R" "Content Security Policy"

if [ -n "${KWH_WEB_SHOTS:-}" ]; then
  cp "$T/tenant-360.png" "$T/tenant-1280.png" "$KWH_WEB_SHOTS/"
fi
