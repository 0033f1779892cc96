# Helpers for the event hooks' end-to-end tests (sourced after lib.sh): $H, a folder for the hook
# programs the test writes and what they record, with record.sh already in it, and what to ask
# of the record.

H="$T/hooks"
mkdir -p "$H"

# record.sh [KIND]: appends the event (one line of JSON) to $H/KIND.jsonl; KIND defaults to
# what kwhd says in KWH_HOOK_KIND.
cat >"$H/record.sh" <<SH
#!/bin/sh
{ cat; echo; } >>"$H/\${1:-\$KWH_HOOK_KIND}.jsonl"
SH
chmod 755 "$H/record.sh"

# lines KIND: how many events of KIND were recorded; has_lines KIND N: at least N.
lines() { if [ -e "$H/$1.jsonl" ]; then wc -l <"$H/$1.jsonl"; else echo 0; fi; }
has_lines() { [ "$(lines "$1")" -ge "$2" ]; }
# field KIND N EXPR: a Python expression over the N-th (from 1) event of KIND as d.
field() { sed -n "$2p" "$H/$1.jsonl" | json "$3"; }
