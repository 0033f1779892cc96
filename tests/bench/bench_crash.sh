#!/usr/bin/env bash
# tests/e2e/reliability_crash.sh with many rounds (ROUNDS, default 1000): cashiers selling with
# --ref next to kwhd, both killed with SIGKILL at random moments. Prints the rounds survived,
# sales acknowledged, lost and duplicated (the last line of the run); exits non-zero on a loss.
# Usage: bench_crash.sh KWH KWHD
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export KWH=${1:-${KWH:?}} KWHD=${2:-${KWHD:?}} KWH_SOURCE=${KWH_SOURCE:-$(cd "$here/../.." && pwd)}
export ROUNDS=${ROUNDS:-1000}
start=$SECONDS
bash "$KWH_SOURCE/tests/e2e/reliability_crash.sh"
echo "bench_crash: $ROUNDS rounds survived in $((SECONDS - start)) s"
