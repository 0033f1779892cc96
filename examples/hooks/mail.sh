#!/bin/sh
# A kwhd hook ([hooks] in kwh.toml) that mails the site office: mail.sh ADDRESS...
#
# kwhd runs it with one event as JSON on standard input (kwhd(8), HOOKS); the mail's subject
# names the kind, account and meter, and its body lists every field. Exit 0 when sendmail took
# the mail; otherwise kwhd retries it later.
#
# Needs: python3 (to read the JSON) and a sendmail (exim4, postfix, msmtp-mta, ...);
# $SENDMAIL names another, $MAIL_FROM the sender (default kwh@ this host).
set -eu
[ $# -ge 1 ] || { echo "usage: mail.sh ADDRESS..."; exit 64; }
sendmail=${SENDMAIL:-/usr/sbin/sendmail}
from=${MAIL_FROM:-kwh@$(hostname -f 2>/dev/null || hostname)}
to=$(printf '%s, ' "$@")
to=${to%, }

body=$(python3 -c '
import json, sys
e = json.load(sys.stdin)
def v(k):
    x = e.get(k)
    return "-" if x is None else str(x)
print("Subject: [kwh] " + v("kind") + ": account " + v("account") + ", meter " + v("meter"))
print()
for k in e:
    print(k.ljust(14), v(k))
') || { echo "the event is not JSON"; exit 65; }

{
  printf 'From: %s\nTo: %s\nContent-Type: text/plain; charset=utf-8\n' "$from" "$to"
  printf '%s\n' "$body"
} | "$sendmail" -i -f "$from" -- "$@"
