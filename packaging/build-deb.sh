#!/usr/bin/env bash
# Build the Debian package of ftpsfs (binary only, unsigned):
#
#   bash packaging/build-deb.sh [OUTDIR]      -> OUTDIR/ftpsfs_VERSION_ARCH.deb (default build-deb/)
#   apt install ./build-deb/ftpsfs_*.deb      (or dpkg -i; apt also installs what it depends on)
#
# It needs dpkg-dev, debhelper and the build dependencies of packaging/debian/control
# (tests/deps.sh installs them all). The source tree (the files git knows, or every file when
# there is no git) is copied to a temporary directory with packaging/debian as debian/, and
# dpkg-buildpackage -b -us -uc runs there, so the working tree gets no debian/ or build files.
# By hand, in a clean copy of the tree:
#   cp -r packaging/debian debian && dpkg-buildpackage -b -us -uc
# Environment: DEB_BUILD_OPTIONS as usual (nocheck skips the unit tests).
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(realpath -m "${1:-build-deb}")
version=$(dpkg-parsechangelog -l packaging/debian/changelog -S Version)
work=$(mktemp -d "${TMPDIR:-/tmp}/ftpsfs-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
src="$work/ftpsfs-${version%-*}"
mkdir -p "$src" "$out"

if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    # Tracked and new (not ignored) files that exist: the tree as it is now, without builds.
    git ls-files -z --cached --others --exclude-standard |
        while IFS= read -r -d '' f; do [[ -e "$f" ]] && printf '%s\0' "$f"; done |
        tar --null -T - -cf - | tar -xf - -C "$src"
else
    tar --exclude='./build*' --exclude='./obj-*' --exclude=./debian -cf - . | tar -xf - -C "$src"
fi
rm -rf "$src/debian"
cp -r packaging/debian "$src/debian"

echo "build-deb: building ftpsfs $version in $src"
(cd "$src" && dpkg-buildpackage -b -us -uc) >"$work/build.log" 2>&1 || {
    tail -n 60 "$work/build.log" >&2
    echo "build-deb: dpkg-buildpackage failed" >&2
    exit 1
}
for deb in "$work"/*.deb; do
    cp "$deb" "$out/"
    echo "build-deb: $out/$(basename "$deb")"
done
