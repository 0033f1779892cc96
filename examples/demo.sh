#!/usr/bin/env bash
# The kwh demo: a small site on the embedded default (SQLite and the built-in simulator).
# Usage: examples/demo.sh BUILD_DIR. Everything lives in a temporary folder, removed at the end.
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
kwh() { "$build/kwh" "$@"; }
demo=$(mktemp -d "${TMPDIR:-/tmp}/kwh-demo.XXXXXX")
trap 'rm -rf "$demo"' EXIT
export KWH_DB="$demo/kwh.db"
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

step kwh --version
step kwh init
step kwh init
step kwh check
echo
echo "The demo grows with kwh: meters, accounts, sales and the daemon come next."
