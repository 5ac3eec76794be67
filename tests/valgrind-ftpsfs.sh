#!/bin/sh
# ftpsfs under valgrind, for the integration tests:
#     FTPSFS_BIN=tests/valgrind-ftpsfs.sh pytest tests/integration/test_hostile.py
# Runs $FTPSFS_VALGRIND_BIN (default: build/ftpsfs of this repository).  Every
# error valgrind finds (invalid reads and writes, uses of uninitialised values,
# definite leaks at exit) is printed between VALGRIND-ERROR-BEGIN/-END lines into
# the mount's log, where tests/integration/mount.py fails the test on it.
repo=$(cd "$(dirname "$0")/.." && pwd)
exec valgrind --quiet --error-exitcode=99 --leak-check=full \
    --errors-for-leak-kinds=definite \
    --error-markers=VALGRIND-ERROR-BEGIN,VALGRIND-ERROR-END \
    "${FTPSFS_VALGRIND_BIN:-$repo/build/ftpsfs}" "$@"
