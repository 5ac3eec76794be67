#!/usr/bin/env bash
# Build every libFuzzer target with clang (ASan + UBSan) and run each for a
# bounded time on a scratch copy of its seed corpus.  Exits non-zero on the
# first finding.  Usage: tests/fuzz/run.sh [seconds-per-target]
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_PER_TARGET=${1:-20}
OUT=build-fuzz
mkdir -p "$OUT"

declare -A SOURCES=(
    [reply]="src/ftp/reply.c src/ftp/hash_reply.c src/ftp/lsparse_time.c src/util/log.c"
    [mlsd]="src/ftp/lsparse_mlsd.c src/ftp/lsparse_time.c"
    [list]="src/ftp/lsparse_unix.c src/ftp/lsparse_time.c"
    [hostspec]="src/opts/hostspec.c"
    [netrc]="src/opts/netrc.c"
    [known_hosts]="src/opts/known_hosts.c src/opts/fingerprint.c"
    [credfile]="src/opts/credfile.c"
    [symlink]="src/fs/symlink_policy.c"
    [proxy]="src/net/socks5.c src/net/httpconnect.c src/opts/proxyspec.c src/opts/hostspec.c"
    [wb_record]="src/cache/wb_record.c"
)
CFLAGS=(-std=gnu11 -D_GNU_SOURCE -g -O1 -Iinclude
        -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined)

for name in "${!SOURCES[@]}"; do
    # shellcheck disable=SC2086
    clang "${CFLAGS[@]}" "tests/fuzz/fuzz_$name.c" ${SOURCES[$name]} -o "$OUT/fuzz_$name"
done
for name in $(printf '%s\n' "${!SOURCES[@]}" | sort); do
    work="$OUT/corpus-$name"
    rm -rf "$work"
    mkdir -p "$work"
    cp tests/fuzz/corpus/"$name"/* "$work"/ 2>/dev/null || true
    printf 'fuzz %s: ' "$name"
    if ! "$OUT/fuzz_$name" -max_total_time="$SECONDS_PER_TARGET" -max_len=8192 \
            -print_final_stats=1 "$work" >"$OUT/fuzz_$name.log" 2>&1; then
        echo "FINDING"
        tail -n 60 "$OUT/fuzz_$name.log"
        exit 1
    fi
    grep -m1 '^stat::number_of_executed_units' "$OUT/fuzz_$name.log" | awk '{print $2 " runs, no findings"}'
done
