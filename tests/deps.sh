#!/usr/bin/env bash
# Install everything needed to build ftpsfs and run its tests on Debian 12 (as root).
#
# Idempotent: a second run only checks and prints "ok" lines.
#   - apt packages: build toolchain, FUSE, OpenSSL, vsftpd, curl, pytest, debhelper, ...
#   - ProFTPD and Pure-FTPd: they conflict with vsftpd (all provide ftp-server), so their .debs
#     are downloaded and unpacked with `dpkg -x` into a private prefix, never installed.
#   - ftp-srv (npm): `npm install --prefix` into the same private prefix, a pinned version.
#
# The tests need only the vsftpd binary: they start their own servers on 127.0.0.1 and stop
# them by PID. Installing Debian's vsftpd package would also enable and start a system FTP
# service with Debian's default configuration (plain-text logins for local accounts, port 21):
# when this script installs it, no service is started during the installation and the service
# is disabled (and stopped) afterwards. A vsftpd installed before is left alone. Nothing here
# stops or kills a process this script did not start.
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
    # tests/check-complexity.sh: no function above a cyclomatic complexity
    pmccabe
    # tests/check-format.sh: the layout of .clang-format (Debian 12: version 14)
    clang-format
    # test
    fuse3 openssl vsftpd python3-pytest curl rsync git unzip
    # hostile-server tests under valgrind (tests/valgrind-ftpsfs.sh, run-all.sh)
    valgrind
    # stress tests (test_stress.py, tests/stress.sh): dbench and its loadfile
    dbench
    # proxy= tests (test_proxy.py): a SOCKS5 and an HTTP CONNECT proxy, started by the tests
    microsocks tinyproxy
    # pyftpdlib's TLS server; Node.js for ftp-srv (the npm client: below)
    python3-pyftpdlib python3-openssl nodejs
    # packaging (packaging/build-deb.sh)
    debhelper
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

# Packages whose installation must not leave a system service running or enabled.
QUIET_SERVICES=(vsftpd tinyproxy)
POLICY_RC_D=/usr/sbin/policy-rc.d

# invoke-rc.d and deb-systemd-invoke ask policy-rc.d before starting a service from a package's
# postinst; exit status 101 means "not now". Only if there is none already (a Docker image has
# one); removed as soon as the installation is over (and on exit).
OWN_POLICY_RC_D=0
forbid_service_starts() {
    [[ -e "$POLICY_RC_D" ]] && return 0
    printf '#!/bin/sh\n# tests/deps.sh: no service starts while it installs packages\nexit 101\n' \
        >"$POLICY_RC_D"
    chmod 755 "$POLICY_RC_D"
    OWN_POLICY_RC_D=1
    trap allow_service_starts EXIT
}

allow_service_starts() {
    if ((OWN_POLICY_RC_D)); then
        rm -f "$POLICY_RC_D"
        OWN_POLICY_RC_D=0
    fi
}

# Disable, and stop if it was started anyway (a policy-rc.d of someone else's that allows it),
# the service of a package this run installed.
quiet_service() {
    local svc=$1
    if [[ -d /run/systemd/system ]]; then
        systemctl disable --now --quiet "$svc.service" || true
    else
        # Without a running systemd, systemctl still removes the enablement links (and,
        # through systemd-sysv-install, the init script's start links).
        if command -v systemctl >/dev/null; then
            systemctl disable --quiet "$svc.service" >/dev/null 2>&1 || true
        fi
        if [[ -x "/etc/init.d/$svc" ]]; then
            # The init script stops the instance in its own pid file, nothing else.
            "/etc/init.d/$svc" stop >/dev/null 2>&1 || true
            update-rc.d "$svc" disable >/dev/null 2>&1 || true
        fi
    fi
    say "$svc: installed for its binary only; its system service is disabled and not" \
        "running (the tests run their own servers). To use it as a system service:" \
        "systemctl enable --now $svc"
}

# --- 1. apt packages ---------------------------------------------------------------------------
missing=()
for p in "${APT_PACKAGES[@]}"; do
    is_installed "$p" || missing+=("$p")
done
if ((${#missing[@]})); then
    say "installing: ${missing[*]} (log: $APT_LOG)"
    mkdir -p "$PREFIX"
    forbid_service_starts
    if ! { apt-get update -qq &&
        apt-get install -y -qq --no-install-recommends "${missing[@]}"; } \
        </dev/null >"$APT_LOG" 2>&1; then
        tail -n 40 "$APT_LOG" >&2
        echo "deps: apt-get failed" >&2
        exit 1
    fi
    allow_service_starts
    for svc in "${QUIET_SERVICES[@]}"; do
        if [[ " ${missing[*]} " == *" $svc "* ]]; then
            quiet_service "$svc"
        fi
    done
else
    say "apt packages: ok"
fi
for svc in "${QUIET_SERVICES[@]}"; do
    if command -v systemctl >/dev/null &&
        [[ "$(systemctl is-enabled "$svc.service" 2>/dev/null)" == enabled ]]; then
        say "note: $svc.service is enabled (it was installed before this run, so it is left" \
            "alone); if only the tests need it: systemctl disable --now $svc"
    fi
done

# --- 2. ProFTPD / Pure-FTPd unpacked into a private prefix --------------------------------------
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
