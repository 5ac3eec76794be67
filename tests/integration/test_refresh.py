"""Changes made by another client of the server, and SIGUSR1 (forget the caches now).

Mounted with hour-long cache timeouts so that only the signal can make the change visible.
"""

import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from writehelpers import pycall, wait_for  # noqa: E402

LONG_CACHE = ["attr_timeout=3600", "dir_timeout=3600", "negative_timeout=3600"]

LOOK = """
    result = {"names": sorted(os.listdir(d)), "size": os.stat(d + "/c").st_size,
              "content": open(d + "/c").read()}
"""


def test_sigusr1_makes_changes_by_others_visible(ftp_server, mounted):
    srv = ftp_server("vsftpd")
    srv.put("dir/a", b"a\n")
    srv.put("dir/c", b"old\n")
    m = mounted(srv, options=LONG_CACHE)
    d = m.mountpoint / "dir"
    before = pycall(LOOK, d=d).result
    assert before == {"names": ["a", "c"], "size": 4, "content": "old\n"}

    # Another client changes the directory.
    os.unlink(srv.root_dir / "dir" / "a")
    srv.put("dir/b", b"b\n")
    srv.put("dir/c", b"new, longer\n")
    assert pycall(LOOK, d=d).result == before  # cached, as asked

    m.proc.send_signal(signal.SIGUSR1)
    assert wait_for(lambda: "cache refreshed on request" in m.log_text(), timeout=10)
    assert pycall(LOOK, d=d).result == {"names": ["b", "c"], "size": 12,
                                        "content": "new, longer\n"}


def test_sigusr1_keeps_pending_writes(ftp_server, mounted):
    srv = ftp_server("vsftpd")
    m = mounted(srv, options=LONG_CACHE)
    r = pycall("""
        import signal
        fd = os.open(d + "/f", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.write(fd, b"x" * 100000)
        os.kill(mount_pid, signal.SIGUSR1)
        time.sleep(1)
        os.write(fd, b"y" * 1000)
        result = os.stat(d + "/f").st_size
        os.close(fd)
    """, d=m.mountpoint, mount_pid=m.proc.pid)
    assert r.errno is None, f"{r.error} at {r.stage}"
    assert r.result == 101000
    assert (srv.root_dir / "f").read_bytes() == b"x" * 100000 + b"y" * 1000
