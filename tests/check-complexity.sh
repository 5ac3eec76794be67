#!/usr/bin/env bash
# Fail when a function in src/ has a modified cyclomatic complexity (McCabe, as pmccabe counts it:
# a switch counts once) above MAX, printing each offender as "complexity file(line): function".
#
# A function that passes ~25 decisions usually does several jobs (choosing a route, running the
# exchange, learning from the answer, counting): cut it along the protocol instead (STYLE.md,
# "Functions and errors"). Exceptions go in ALLOW below with a comment saying why and until when;
# an entry that is no longer needed fails the check too, so the list cannot go stale.
#
# Usage: tests/check-complexity.sh [MAX]   (default 25; needs pmccabe)
set -euo pipefail
cd "$(dirname "$0")/.."
MAX=${1:-25}

# "file:function" entries allowed above MAX, each with a comment saying why and until when.
# Empty: every function is within MAX (main() was the last, cut by the shared setup, issue 19).
ALLOW=(
)

command -v pmccabe >/dev/null || { echo "check-complexity: pmccabe is not installed" >&2; exit 2; }

fail=0
declare -A over=()
# pmccabe columns: modified cc, traditional cc, statements, first line, lines, "file(line): name"
while IFS=$'\t' read -r mcc _tcc _st _line _len where; do
    (( mcc > MAX )) || continue
    file=${where%%(*}
    name=${where##*: }
    over["$file:$name"]=1
    allowed=0
    for a in "${ALLOW[@]}"; do [[ $a == "$file:$name" ]] && allowed=1; done
    if (( allowed )); then
        echo "allowed: $mcc $where"
    else
        echo "too complex (> $MAX): $mcc $where"
        fail=1
    fi
done < <(find src -name '*.[ch]' -print0 | sort -z | xargs -0 pmccabe)

for a in "${ALLOW[@]}"; do
    if [[ -z ${over[$a]:-} ]]; then
        echo "stale allowlist entry (not above $MAX any more, remove it): $a"
        fail=1
    fi
done
(( fail )) && exit 1
echo "check-complexity: no function in src/ above $MAX"
