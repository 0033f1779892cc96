#!/bin/sh
# A kwhd hook ([hooks] in kwh.toml) that texts the tenant through an HTTP SMS gateway.
#
# kwhd runs it with one event as JSON on standard input (kwhd(8), HOOKS). It picks the message
# for the event's kind from messages/LANG.txt (lines "kind: text", with {account}, {name},
# {balance}, {amount}, {currency}, {cutoff}, {meter} and {site} filled in), in the tenant's
# language (the account's, `kwh account open --language`; else SMS_LANGS; else SMS_LANG; a tag
# such as zh-Hans falls back to zh), and POSTs it with curl. Exit 0: sent (or nothing to send: no phone, or no message
# for the kind); otherwise kwhd retries it later, and the first line printed is the reason.
#
# Needs: python3 (to read the JSON; Debian's python3-minimal is enough) and curl.
# Settings: /etc/kwh/sms.conf (or $KWH_SMS_CONF), a shell file of variables:
#   SMS_URL="https://sms.example.com/api/send"   # the gateway; gets to= and text= as a form
#   SMS_TOKEN="..."                              # sent as "Authorization: Bearer ..."
#   SMS_LANG=en                                  # the language of accounts without one
#   SMS_LANGS=/etc/kwh/sms-languages             # optional: lines "ACCOUNT LANG" (S-101 zh) for
#                                                # accounts without a language of their own
#   CURRENCY=CNY SITE_NAME="Riverside Mall"
# SMS_DRY_RUN=1 prints "PHONE<TAB>TEXT" instead of sending (to try a template).
set -eu

conf=${KWH_SMS_CONF:-/etc/kwh/sms.conf}
# shellcheck source=/dev/null
[ -r "$conf" ] && . "$conf"
here=$(dirname "$0")
export SMS_LANG="${SMS_LANG:-en}" SMS_LANGS="${SMS_LANGS:-}" CURRENCY="${CURRENCY:-CNY}" \
  SITE_NAME="${SITE_NAME:-}" SMS_MESSAGES="${SMS_MESSAGES:-$here/messages}"

# Two lines out: the phone, and the text (empty lines: nothing to send).
out=$(python3 -c '
import json, os, sys
e = json.load(sys.stdin)
phone = e.get("phone") or ""
lang = e.get("language") or ""
langs = os.environ["SMS_LANGS"]
if not lang and langs and os.path.exists(langs):
    for line in open(langs, encoding="utf-8"):
        f = line.split()
        if len(f) == 2 and f[0] == e.get("account"):
            lang = f[1]
lang = lang or os.environ["SMS_LANG"]
def template(lang):
    path = os.path.join(os.environ["SMS_MESSAGES"], lang + ".txt")
    if not os.path.exists(path):
        return None
    for line in open(path, encoding="utf-8"):
        kind, sep, text = line.partition(":")
        if sep and kind.strip() == e.get("kind"):
            return text.strip()
    return None
text = (template(lang) or template(lang.split("-")[0]) or template(os.environ["SMS_LANG"]) or template("en")
        or "")
values = {k: ("" if v is None else str(v)) for k, v in e.items()}
values.setdefault("amount", "")
values.setdefault("cutoff", "")
values["currency"] = os.environ["CURRENCY"]
values["site"] = os.environ["SITE_NAME"]
for k, v in values.items():
    text = text.replace("{" + k + "}", v)
print(phone if text else "")
print(" ".join(text.split()) if phone else "")
') || { echo "the event is not JSON"; exit 65; }
phone=$(printf '%s\n' "$out" | sed -n 1p)
text=$(printf '%s\n' "$out" | sed -n 2p)
if [ -z "$phone" ] || [ -z "$text" ]; then
  echo "nothing to send (no phone, or no message for this kind)"
  exit 0
fi
if [ "${SMS_DRY_RUN:-}" = 1 ]; then
  printf '%s\t%s\n' "$phone" "$text"
  exit 0
fi
: "${SMS_URL:?set SMS_URL in $conf}"
# --fail: an HTTP error is an exit code, so that kwhd retries; the reason is curl's one line.
curl --fail --silent --show-error --max-time 8 \
  ${SMS_TOKEN:+-H "Authorization: Bearer $SMS_TOKEN"} \
  --data-urlencode "to=$phone" --data-urlencode "text=$text" "$SMS_URL" >/dev/null
