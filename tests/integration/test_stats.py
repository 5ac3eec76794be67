"""The live view of a mount: getfattr -n user.ftpsfs.stats MOUNTPOINT (any inode works).

Counters move as a known workload says they must; gauges describe the pool; the last error
carries the server's reply.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from writehelpers import pycall  # noqa: E402


def stats(path):
    """The statistics as {name: value} (values int where they are numbers), read with
    getfattr like a user would (package attr), falling back to os.getxattr."""
    try:
        out = subprocess.run(["getfattr", "--only-values", "-n", "user.ftpsfs.stats",
                              str(path)], capture_output=True, check=True, timeout=30).stdout
    except FileNotFoundError:
        out = os.getxattr(path, "user.ftpsfs.stats")
    result = {}
    for line in out.decode().splitlines():
        key, _, value = line.partition("=")
        result[key] = int(value) if value.isdigit() else value
    return result


@pytest.mark.parametrize("kind", ["vsftpd", "proftpd"])
def test_reading_files_adds_resumed_data_connections(ftp_server, mounted, kind):
    srv = ftp_server(kind)
    for i in range(3):
        srv.put(f"f{i}.txt", f"file {i}\n".encode() * 100)
    m = mounted(srv)
    before = stats(m.mountpoint)
    r = pycall("result = [len(open(os.path.join(d, f'f{i}.txt'), 'rb').read()) "
               "for i in range(3)]", d=str(m.mountpoint))
    assert r.result == [700, 700, 700]
    after = stats(m.mountpoint)
    grew = {k: after[k] - before[k] for k in before if isinstance(before[k], int)}
    # Three RETR (the root listing may have been fetched ahead, at mount time).
    assert grew["data_connections"] >= 3
    assert grew["data_connections_resumed"] == grew["data_connections"]
    assert after["data_connections_not_resumed"] == 0
    assert grew["bytes_read"] >= 2100
    assert grew["op_read"] >= 3 and grew["op_open"] >= 3
    assert grew["op_read_round_trips"] > 0
    assert grew["round_trips"] >= grew["op_read_round_trips"]
    assert after["connections_open"] >= 1
    assert after["connections_max"] == 5
    assert after["logins"] >= 1


def test_writes_count_bytes_and_the_cache_its_hits(ftp_server, mounted):
    srv = ftp_server("vsftpd")
    m = mounted(srv)
    before = stats(m.mountpoint)
    r = pycall("""
        with open(os.path.join(d, "w.bin"), "wb") as f:
            f.write(b"x" * 100000)
        for _ in range(5):
            os.stat(os.path.join(d, "w.bin"))
        os.listdir(d)
        os.listdir(d)
    """, d=str(m.mountpoint))
    assert r.errno is None, r.error
    after = stats(m.mountpoint)
    assert after["bytes_written"] - before["bytes_written"] == 100000
    assert after["cache_hits"] > before["cache_hits"]
    assert (srv.root_dir / "w.bin").stat().st_size == 100000


def test_the_last_error_carries_the_servers_reply(ftp_server, mounted):
    srv = ftp_server("vsftpd")
    srv.put("locked.txt", b"x")
    (srv.root_dir / "locked.txt").chmod(0)
    m = mounted(srv)
    r = pycall("open(p, 'rb').read()", p=str(m.mountpoint / "locked.txt"))
    assert r.errno is not None
    s = stats(m.mountpoint)
    assert s["op_open_errors"] + s["op_read_errors"] >= 1
    assert s["errors_refused"] + s["errors_transport"] >= 1
    assert "550" in s["last_error"], s["last_error"]
    assert s["last_error_time"]


def test_listings_stay_within_dir_cache_mb(ftp_server, mounted):
    """Listings of all directories together keep within dir_cache_mb: the least recently
    used are dropped and asked again when needed, and nothing is missing afterwards."""
    srv = ftp_server("vsftpd")
    dirs, per_dir = 6, 4000  # about 1.2 MiB of cached listing each
    for d in range(dirs):
        for i in range(per_dir):
            srv.put(f"d{d}/file-with-a-longer-name-{i:05d}.txt", b"")
    m = mounted(srv, ["dir_cache_mb=2", "dir_timeout=3600", "attr_timeout=3600"])
    # The directories stay open (the kernel keeps their inodes): only the budget drops them.
    fds = [os.open(m.mountpoint / f"d{d}", os.O_RDONLY | os.O_DIRECTORY) for d in range(dirs)]
    try:
        for d in range(dirs):
            assert len(os.listdir(m.mountpoint / f"d{d}")) == per_dir
            s = stats(m.mountpoint)
            assert s["cached_listing_bytes"] <= 2 << 20 or s["cached_listings"] == 1, s
        s = stats(m.mountpoint)
        assert s["listings_dropped"] >= dirs - 2, s
        listings = s["listings"]
        # The first directory's listing went: asked again, complete.
        names = os.listdir(m.mountpoint / "d0")
        assert len(names) == per_dir
        assert "file-with-a-longer-name-03999.txt" in names
        assert stats(m.mountpoint)["listings"] > listings
        # A file created in a dropped directory is there at once and after more drops.
        (m.mountpoint / "d1" / "new.txt").write_bytes(b"new")
        for d in range(2, dirs):
            os.listdir(m.mountpoint / f"d{d}")
        assert (m.mountpoint / "d1" / "new.txt").read_bytes() == b"new"
        assert "new.txt" in os.listdir(m.mountpoint / "d1")
        assert (srv.root_dir / "d1" / "new.txt").read_bytes() == b"new"
    finally:
        for fd in fds:
            os.close(fd)
