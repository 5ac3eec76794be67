#!/usr/bin/env bash
# Install everything needed to build ftpsfs and run its tests on Debian 12 (as root).
#
# Idempotent: a second run only checks and prints "ok" lines.
#   - apt packages: build toolchain, FUSE, OpenSSL, vsftpd, curl, pytest, ...
#   - ProFTPD and Pure-FTPd: they conflict with vsftpd (all provide ftp-server), so their .debs
#     are downloaded and unpacked with `dpkg -x` into a private prefix, never installed.
#   - ftp-srv (npm): `npm install --prefix` into the same private prefix, a pinned version.
#
# Environment:
#   FTPSFS_TEST_PREFIX  where the unpacked servers go (default /var/tmp/ftpsfs-test-prefix)
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

PREFIX="${FTPSFS_TEST_PREFIX:-/var/tmp/ftpsfs-test-prefix}"
DEB_CACHE="$PREFIX/debs"
APT_LOG="$PREFIX/apt.log"

APT_PACKAGES=(
    # build
    build-essential meson ninja-build pkg-config libfuse3-dev libssl-dev uthash-dev
    clang libclang-rt-14-dev
    # test
    fuse3 openssl vsftpd python3-pytest curl rsync git unzip
    # pyftpdlib's TLS server; Node.js for ftp-srv (the npm client: below)
    python3-pyftpdlib python3-openssl nodejs
    # shared libraries the dpkg -x'd proftpd-core links against (checked with ldd below)
    libhiredis0.14 libmemcached11 libmemcachedutil2 libsodium23
)

say() { printf 'deps: %s\n' "$*"; }

if [[ $EUID -ne 0 ]]; then
    echo "deps: must run as root" >&2
    exit 1
fi

is_installed() {
    [[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" == installed ]]
}

# PIDs of processes holding a listening TCP socket on port $1 (no ss/netstat needed).
listener_pids() {
    local port_hex inodes pid fd
    port_hex=$(printf ':%04X' "$1")
    # /proc/net/tcp columns: 2 local addr:port, 4 state (0A = LISTEN), 10 inode
    inodes=$(awk -v p="$port_hex" '$2 ~ p"$" && $4 == "0A" { print $10 }' \
        /proc/net/tcp /proc/net/tcp6 2>/dev/null | sort -u)
    [[ -z "$inodes" ]] && return 0
    for pid in /proc/[0-9]*; do
        for fd in "$pid"/fd/*; do
            local link
            link=$(readlink "$fd" 2>/dev/null) || continue
            for ino in $inodes; do
                [[ "$link" == "socket:[$ino]" ]] && { echo "${pid#/proc/}"; break 2; }
            done
        done
    done | sort -u
}

# --- 1. apt packages ---------------------------------------------------------------------------
missing=()
for p in "${APT_PACKAGES[@]}"; do
    is_installed "$p" || missing+=("$p")
done
if ((${#missing[@]})); then
    say "installing: ${missing[*]} (log: $APT_LOG)"
    mkdir -p "$PREFIX"
    # vsftpd's postinst may try to start the service; without an init system that either fails
    # (harmless) or starts a daemon on port 21, which we stop below.
    if ! { apt-get update -qq &&
        apt-get install -y -qq --no-install-recommends "${missing[@]}"; } \
        </dev/null >"$APT_LOG" 2>&1; then
        tail -n 40 "$APT_LOG" >&2
        echo "deps: apt-get failed" >&2
        exit 1
    fi
else
    say "apt packages: ok"
fi

# --- 2. no packaged vsftpd on port 21 ---------------------------------------------------------
for pid in $(listener_pids 21); do
    if [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == vsftpd ]]; then
        say "stopping packaged vsftpd on port 21 (pid $pid)"
        kill "$pid" 2>/dev/null || true
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.2
        done
        kill -9 "$pid" 2>/dev/null || true
    fi
done
say "port 21: no packaged vsftpd listening"

# --- 3. ProFTPD / Pure-FTPd unpacked into a private prefix --------------------------------------
# $1 = prefix subdirectory, $2 = binary that proves it is unpacked, rest = packages
unpack() {
    local dest="$PREFIX/$1" probe="$1/$2" pkg deb debs
    shift 2
    if [[ -e "$PREFIX/$probe" ]]; then
        say "$dest: ok"
        return
    fi
    mkdir -p "$DEB_CACHE" "$dest"
    for pkg in "$@"; do
        if ! compgen -G "$DEB_CACHE/${pkg}_*.deb" >/dev/null; then
            say "downloading $pkg"
            # apt-get download needs package lists; fetch them only if it fails the first time
            (cd "$DEB_CACHE" && { apt-get download -qq "$pkg" 2>/dev/null ||
                { apt-get update -qq && apt-get download -qq "$pkg"; }; })
        fi
        debs=("$DEB_CACHE/${pkg}"_*.deb)
        deb="${debs[-1]}"  # the newest if the cache holds several
        say "unpacking $(basename "$deb") into $dest"
        dpkg -x "$deb" "$dest"
    done
}
unpack proftpd usr/lib/proftpd/mod_tls.so proftpd-core proftpd-mod-crypto
unpack pure-ftpd usr/sbin/pure-ftpd pure-ftpd

# Shared libraries still missing for the unpacked binaries and the modules the tests load
# (should be none: see APT_PACKAGES).
checked=(
    "$PREFIX/proftpd/usr/sbin/proftpd"
    "$PREFIX/proftpd/usr/lib/proftpd/mod_tls.so"
    "$PREFIX/proftpd/usr/lib/proftpd/mod_site_misc.so"
    "$PREFIX/pure-ftpd/usr/sbin/pure-ftpd"
)
missing_libs=$(for f in "${checked[@]}"; do
    ldd "$f" | awk '/not found/ { print $1 }'
done | sort -u)
if [[ -n "$missing_libs" ]]; then
    echo "deps: unpacked servers miss shared libraries: $missing_libs" >&2
    exit 1
fi
say "unpacked servers: all shared libraries present"

# --- 4. ftp-srv from the npm registry into the private prefix ---------------------------------
FTP_SRV_VERSION=4.6.3
ftp_srv_dir="$PREFIX/ftp-srv"
# Node.js from NodeSource brings npm along (and conflicts with Debian's npm package); Debian's
# nodejs does not.
if ! command -v npm >/dev/null; then
    say "installing npm (log: $APT_LOG)"
    if ! apt-get install -y -qq --no-install-recommends npm </dev/null >>"$APT_LOG" 2>&1; then
        tail -n 40 "$APT_LOG" >&2
        echo "deps: apt-get install npm failed" >&2
        exit 1
    fi
fi
if [[ "$(node -p "require('$ftp_srv_dir/node_modules/ftp-srv/package.json').version" \
        2>/dev/null)" == "$FTP_SRV_VERSION" ]]; then
    say "$ftp_srv_dir: ftp-srv $FTP_SRV_VERSION ok"
else
    say "installing ftp-srv $FTP_SRV_VERSION into $ftp_srv_dir"
    mkdir -p "$ftp_srv_dir"
    if ! npm install --prefix "$ftp_srv_dir" --no-audit --no-fund --ignore-scripts \
        "ftp-srv@$FTP_SRV_VERSION" </dev/null >"$PREFIX/npm.log" 2>&1; then
        tail -n 40 "$PREFIX/npm.log" >&2
        echo "deps: npm install ftp-srv failed" >&2
        exit 1
    fi
fi
say "done (prefix $PREFIX)"
