#!/usr/bin/env bash
# Fail when a C file differs from the tree's .clang-format, printing clang-format's findings.
# Fix with:  clang-format -i $(git ls-files 'src/*.[ch]' 'include/*.h' 'tests/unit/*.[ch]' \
#                                        'tests/fuzz/*.c')
# The result is checked with Debian 12's clang-format (14); another version may lay out a few
# lines differently, which is why CI installs that one (tests/deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null ||
    { echo "check-format: clang-format is not installed" >&2; exit 2; }
mapfile -t files < <(git ls-files 'src/*.[ch]' 'include/*.h' 'tests/unit/*.[ch]' \
                                  'tests/fuzz/*.c')
if ! clang-format --dry-run --Werror "${files[@]}"; then
    echo "check-format: the files above differ from .clang-format" >&2
    exit 1
fi
echo "check-format: ${#files[@]} files as .clang-format lays them out"
