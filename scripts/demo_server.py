#!/usr/bin/python3
"""Start or stop a throwaway local vsftpd for trying ftpsfs (used by try.sh).

  demo_server.py start DIR   create a CA, a test user, sample files and start
                             vsftpd (TLS required, require_ssl_reuse=YES) on
                             127.0.0.1; print "PORT PASSWORD CAFILE USER"
  demo_server.py stop DIR    stop it

Reuses the integration tests' server helpers.
"""

import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "integration"))

from servers import Certs, TestUser, Vsftpd  # noqa: E402


def start(base):
    base.mkdir(parents=True, exist_ok=True)
    base.chmod(0o755)
    root = base / "share"
    root.mkdir(exist_ok=True)
    root.chmod(0o755)
    (root / "hello.txt").write_text("Hello from ftpsfs over FTPS!\n")
    (root / "docs").mkdir(exist_ok=True)
    (root / "docs" / "notes with spaces.txt").write_text("TLS session reuse works.\n")
    (root / "data.bin").write_bytes(os.urandom(4 * 1024 * 1024))
    user = TestUser()
    user.chown_tree(root)
    certs = Certs(base / "certs")
    srv = Vsftpd(root, certs, user, workdir=base / "vsftpd")
    srv.start()
    (base / "vsftpd.pid").write_text(str(srv.proc.pid))
    print(srv.port, user.password, certs.ca_file, user.name)


def is_demo_server(pid, base):
    """True if `pid` is the vsftpd that start() ran with its config under `base`: a stale pid
    file (a reboot, a crash) must never make us signal someone else's process."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    conf_dir = bytes(base / "vsftpd") + b"/"
    return len(argv) >= 2 and argv[0] == b"/usr/sbin/vsftpd" and argv[1].startswith(conf_dir)


def stop(base):
    pidfile = base / "vsftpd.pid"
    if not pidfile.exists():
        return
    pid = int(pidfile.read_text())
    if is_demo_server(pid, base):
        # vsftpd runs in its own session: its group ends with it; the
        # per-connection children end when their connections close.
        os.killpg(pid, signal.SIGTERM)
    else:
        print(f"demo_server: pid {pid} is no longer the demo's vsftpd: nothing to stop",
              file=sys.stderr)
    pidfile.unlink()


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("start", "stop"):
        sys.exit(__doc__)
    (start if sys.argv[1] == "start" else stop)(Path(sys.argv[2]))
