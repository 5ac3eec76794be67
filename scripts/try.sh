#!/usr/bin/env bash
# Try ftpsfs on a fresh Debian 12 machine (as root): install what is needed,
# build, start a throwaway local vsftpd (TLS required, require_ssl_reuse=YES)
# and mount it at /tmp/ftpsfs-demo/mnt.
#
#   bash scripts/try.sh        set everything up and mount
#   bash scripts/try.sh stop   unmount and stop the server
set -euo pipefail
cd "$(dirname "$0")/.."
DEMO=/tmp/ftpsfs-demo
MNT=$DEMO/mnt

# Only what this script started: the ftpsfs mount at the demo's mount point, and the vsftpd
# whose PID demo_server.py recorded (it checks that the PID is still that vsftpd).
demo_mounted() {
    [[ "$(findmnt -n -o FSTYPE --mountpoint "$MNT" 2>/dev/null)" == fuse.ftpsfs ]]
}

stop() {
    if demo_mounted; then
        fusermount3 -u "$MNT" || umount -l "$MNT"
    fi
    /usr/bin/python3 scripts/demo_server.py stop "$DEMO"
    echo "try: unmounted $MNT and stopped the demo server"
}

if [[ "${1:-}" == stop ]]; then
    stop
    exit 0
fi

bash tests/deps.sh
[[ -f build/build.ninja ]] || meson setup build
ninja -C build
if demo_mounted || [[ -e "$DEMO/vsftpd.pid" ]]; then stop; fi
read -r port password cafile user < <(/usr/bin/python3 scripts/demo_server.py start "$DEMO")
mkdir -p "$MNT"
# The password goes in on standard input, never on the command line.
printf '%s\n' "$password" |
    build/ftpsfs "ftp://$user@127.0.0.1:$port/" "$MNT" -o "cafile=$cafile,password_stdin"
cat <<MSG

ftpsfs mounted the demo FTPS share (vsftpd on 127.0.0.1:$port) at $MNT:

$(ls -l "$MNT")

Try:   ls -lR $MNT; cat $MNT/hello.txt; sha256sum $MNT/data.bin
Stop:  bash scripts/try.sh stop
MSG
