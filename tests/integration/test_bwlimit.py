"""-o bwlimit= and bwlimit_up=: bandwidth caps for the whole mount, changeable while mounted
through user.ftpsfs.bwlimit[_up].  Timing checks are lower bounds only (a loaded machine is
slower, never faster); the accuracy over 10 s is bench/ material."""

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from writehelpers import MIB, pycall, pystart  # noqa: E402

READ = "result = len(open(p, 'rb').read())"
WRITE = "open(p, 'wb').write(b'u' * size)"


def _get(mnt, name):
    r = pycall(f"result = os.getxattr(p, 'user.ftpsfs.{name}').decode()", p=mnt)
    assert r.errno is None, r.error
    return int(r.result)


def _set(mnt, name, value):
    return pycall(f"os.setxattr(p, 'user.ftpsfs.{name}', {value!r}.encode())", p=mnt)


def test_download_cap_slows_a_read(ftp_server, mounted):
    srv = ftp_server("vsftpd")
    srv.put("f", b"d" * (3 * MIB))
    m = mounted(srv, options=["bwlimit=1M"])
    assert _get(m.mountpoint, "bwlimit") == MIB
    assert _get(m.mountpoint, "bwlimit_up") == 0
    r = pycall(READ, p=m.mountpoint / "f")
    assert r.result == 3 * MIB
    # 3 MiB at 1 MiB/s: 3 s, less the 0.1 s burst.
    assert r.elapsed >= 2.5, r.elapsed


def test_upload_cap_slows_a_write_and_keeps_the_data(ftp_server, mounted):
    srv = ftp_server("proftpd")
    m = mounted(srv, options=["bwlimit_up=512k"])
    r = pycall(WRITE, p=m.mountpoint / "up", size=3 * MIB // 2)
    assert r.errno is None, r.error
    assert r.elapsed >= 2.5, r.elapsed  # 1.5 MiB at 0.5 MiB/s: 3 s
    assert (srv.root_dir / "up").read_bytes() == b"u" * (3 * MIB // 2)


def test_two_readers_share_the_cap(ftp_server, mounted):
    srv = ftp_server("vsftpd")
    srv.put("a", b"a" * (2 * MIB))
    srv.put("b", b"b" * (2 * MIB))
    m = mounted(srv, options=["bwlimit=1M"])
    start = time.monotonic()
    kids = [pystart(READ, p=m.mountpoint / n) for n in ("a", "b")]
    results = [k.finish() for k in kids]
    assert [r.result for r in results] == [2 * MIB, 2 * MIB]
    assert time.monotonic() - start >= 3.4  # 4 MiB together at 1 MiB/s


def test_the_cap_changes_while_mounted(ftp_server, mounted):
    srv = ftp_server("vsftpd")
    srv.put("f", b"d" * (2 * MIB))
    m = mounted(srv)
    assert _get(m.mountpoint, "bwlimit") == 0
    fast = pycall(READ, p=m.mountpoint / "f")
    assert _set(m.mountpoint, "bwlimit", "512k").errno is None
    assert _get(m.mountpoint, "bwlimit") == 512 * 1024
    assert "bwlimit set to 512k" in m.log_text()
    os.setxattr(m.mountpoint / "f", "user.ftpsfs.refresh", b"1")  # not from the page cache
    slow = pycall(READ, p=m.mountpoint / "f")
    assert slow.result == 2 * MIB
    assert slow.elapsed >= 3.5 and slow.elapsed > fast.elapsed, (fast.elapsed, slow.elapsed)
    assert _set(m.mountpoint, "bwlimit", "0").errno is None
    assert _get(m.mountpoint, "bwlimit") == 0


def test_a_bad_rate_is_refused(ftp_server, mounted):
    m = mounted(ftp_server("vsftpd"), options=["bwlimit_up=2M"])
    assert _set(m.mountpoint, "bwlimit_up", "fast").errname == "EINVAL"
    assert _get(m.mountpoint, "bwlimit_up") == 2 * MIB
