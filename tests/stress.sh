#!/usr/bin/env bash
# The stress tests (tests/integration/test_stress.py: our exerciser tests/tools/fsx.py and
# dbench, on vsftpd and ProFTPD) in longer forms than CI runs. As root, after tests/deps.sh and
# a build; the binary is build/ftpsfs or $FTPSFS_BIN (e.g. build-asan/ftpsfs).
#
#   bash tests/stress.sh [--load] [FORM | FSX_OPS PARALLEL_OPS DBENCH_SECONDS [PARALLEL]] \
#       [-- PYTEST_ARGS...]
#
# FORM      single fsx run  6 in parallel   dbench -t   wall time (2 idle cores; +40% loaded)
#   ci      3000 ops        6 x 1000        30 s        ~4 min (what run-all.sh runs)
#   long    5000 ops        6 x 2000        60 s        ~9 min (the default)
#   soak    20000 ops       6 x 8000        300 s       ~40 min (estimated from long's rates)
# Most of the time is dbench's (4 runs of -t plus its cleanup). The unprivileged-user runs
# (fsx 2 processes, dbench 2 clients) are half as long as the others.
#
# --load    runs `stress-ng --cpu 2` (package stress-ng) alongside and stops it at the end.
# A failing exerciser prints its seed and a replay command; FTPSFS_STRESS_SEED=N (printed in
# the failure) replays a whole test. Anything after -- goes to pytest, e.g. -- -k proftpd.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }

load=0
sizes=()
while (($#)); do
    case $1 in
    --load) load=1 ;;
    -h | --help) usage ;;
    --) shift; break ;;
    *) sizes+=("$1") ;;
    esac
    shift
done

case ${#sizes[@]}:${sizes[0]:-long} in
0:long | 1:long) set_sizes=(5000 2000 60 6) ;;
1:ci) set_sizes=(3000 1000 30 6) ;;
1:soak) set_sizes=(20000 8000 300 6) ;;
3:* | 4:*) set_sizes=("${sizes[@]}") ;;
*) usage ;;
esac
for n in "${set_sizes[@]}"; do
    [[ $n =~ ^[0-9]+$ ]] || usage
done
export FTPSFS_STRESS_FSX_OPS=${set_sizes[0]}
export FTPSFS_STRESS_PARALLEL_OPS=${set_sizes[1]}
export FTPSFS_STRESS_DBENCH_SECONDS=${set_sizes[2]}
export FTPSFS_STRESS_PARALLEL=${set_sizes[3]:-6}

stress_pid=
stop_load() {
    if [[ -n $stress_pid ]]; then
        # stress-ng's own process group (setsid below): the parent and its workers only
        kill -TERM -- "-$stress_pid" 2>/dev/null || true
        wait "$stress_pid" 2>/dev/null || true
        stress_pid=
    fi
}
if ((load)); then
    if ! command -v stress-ng >/dev/null; then
        echo "stress.sh: --load needs stress-ng (apt install stress-ng)" >&2
        exit 1
    fi
    trap stop_load EXIT
    setsid stress-ng --cpu 2 --quiet &
    stress_pid=$!
    echo "stress.sh: stress-ng --cpu 2 running (pid $stress_pid)"
fi

echo "stress.sh: fsx $FTPSFS_STRESS_FSX_OPS ops, $FTPSFS_STRESS_PARALLEL x" \
    "$FTPSFS_STRESS_PARALLEL_OPS in parallel, dbench -t $FTPSFS_STRESS_DBENCH_SECONDS," \
    "binary ${FTPSFS_BIN:-build/ftpsfs}"
start=$SECONDS
rc=0
/usr/bin/python3 -m pytest -p no:cacheprovider -v --durations=5 \
    tests/integration/test_stress.py "$@" || rc=$?
echo "stress.sh: finished in $((SECONDS - start)) s, pytest exit $rc"
exit "$rc"
