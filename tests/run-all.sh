#!/usr/bin/env bash
# Install what is needed, build, and run every test (as root, on Debian 12).
#
#  1. tests/deps.sh: apt packages, ProFTPD unpacked into a private prefix
#  2. two builds: build/ (normal) and build-asan/ (ASan + UBSan); tests/check-complexity.sh,
#     tests/check-format.sh
#  3. unit tests of both builds (meson test)
#  4. the Debian package: built, installed, the fstab tests run with the installed
#     /usr/bin/ftpsfs, removed again (skipped if an ftpsfs package was installed before)
#  5. fuzz targets, a bounded time each, under ASan + UBSan
#  6. the fault, outage, resilience, write, server-quirk, hostile-server, probe, statistics and
#     proxy tests and part of the read tests against the ASan + UBSan binary (any sanitizer report
#     in a mount's log fails the test), part of the hostile-server tests under valgrind, and the
#     concurrent part of the stress tests (parallel exercisers, dbench with 4 clients)
#  7. all integration tests (real vsftpd and ProFTPD mounts) against the
#     normal build, the stress tests in their bounded CI form among them (tests/stress.sh
#     runs them longer); pytest's summary is the last line of the output
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZ_SECONDS=${FUZZ_SECONDS:-20}

step() { printf '\n=== %s\n' "$*"; }

step "dependencies"
bash tests/deps.sh

step "build"
[[ -f build/build.ninja ]] || meson setup build
ninja -C build
[[ -f build-asan/build.ninja ]] ||
    meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false
ninja -C build-asan

step "complexity: no function in src/ above 25 (tests/check-complexity.sh)"
bash tests/check-complexity.sh

step "format: every C file as .clang-format lays it out (tests/check-format.sh)"
bash tests/check-format.sh

step "unit tests"
meson test -C build --print-errorlogs
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    meson test -C build-asan --print-errorlogs

step "Debian package: build, install, fstab tests with the installed binary, remove"
if [[ "$(dpkg-query -W -f='${db:Status-Status}' ftpsfs 2>/dev/null)" == installed ]]; then
    echo "an ftpsfs package is installed on this machine already: not replacing it, skipped"
else
    rm -f build-deb/ftpsfs_*.deb
    # The unit tests ran above; no debug-symbols package: only what the test installs.
    DEB_BUILD_OPTIONS="nocheck noddebs parallel=$(nproc)" bash packaging/build-deb.sh build-deb
    trap 'dpkg --purge ftpsfs >/dev/null 2>&1 || true' EXIT
    dpkg -i build-deb/ftpsfs_*_"$(dpkg --print-architecture)".deb
    dpkg -L ftpsfs | grep -qx /usr/share/man/man1/ftpsfs.1.gz
    FTPSFS_BIN=/usr/bin/ftpsfs /usr/bin/python3 -m pytest -q -p no:cacheprovider \
        tests/integration/test_fstab.py
    dpkg --purge ftpsfs
    trap - EXIT
fi

step "fuzzing (${FUZZ_SECONDS}s per target)"
bash tests/fuzz/run.sh "$FUZZ_SECONDS"

step "fault, outage, resilience, write, security, hostile-server, probe, prefetch, proxy, remote-change, drop-box, idmap, bandwidth and --stats tests, and part of the read matrix, under ASan + UBSan"
FTPSFS_BIN=build-asan/ftpsfs /usr/bin/python3 -m pytest -q -p no:cacheprovider \
    tests/integration/test_faults.py tests/integration/test_resilience.py \
    tests/integration/test_write.py tests/integration/test_security.py \
    tests/integration/test_interop_pureftpd.py tests/integration/test_active.py \
    tests/integration/test_checksums.py tests/integration/test_codepage.py \
    tests/integration/test_refresh.py tests/integration/test_server_quirks.py \
    tests/integration/test_outage.py tests/integration/test_hatches.py \
    tests/integration/test_hostile.py tests/integration/test_probe.py \
    tests/integration/test_open_files.py tests/integration/test_stats.py \
    tests/integration/test_readahead.py tests/integration/test_proxy.py \
    tests/integration/test_remote_changes.py tests/integration/test_dropbox.py \
    tests/integration/test_idmap.py tests/integration/test_bwlimit.py \
    tests/integration/test_stats_view.py tests/integration/test_writeback.py \
    tests/integration/test_prefetch.py tests/integration/test_parallel_reads.py \
    tests/integration/test_round_trips.py \
    tests/integration/test_read.py -k "not test_read or test_readahead or vsftpd-explicit-tls1.3 or proftpd-implicit-tls1.2"

# The hostile server's listings, times and texts, the daemon under valgrind (about a minute;
# every error valgrind reports fails the test: tests/valgrind-ftpsfs.sh). The whole file
# passes too but takes twice the time (its timeout tests wait).
step "hostile-server tests (listings, times, texts) under valgrind"
FTPSFS_BIN=tests/valgrind-ftpsfs.sh /usr/bin/python3 -m pytest -q -p no:cacheprovider \
    tests/integration/test_hostile.py \
    -k "absurd_sizes or dir_max_entries or far_ or control_characters or interrupted_listing or interrupted_lookup"

step "stress tests under ASan + UBSan: parallel exercisers, dbench with 4 clients"
FTPSFS_BIN=build-asan/ftpsfs /usr/bin/python3 -m pytest -q -p no:cacheprovider \
    tests/integration/test_stress.py -k "parallel_runs or 4clients"

step "integration tests"
/usr/bin/python3 -m pytest -p no:cacheprovider tests/integration
