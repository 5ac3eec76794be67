"""The caches against change: changes made by another client of the server and SIGUSR1
(forget the caches now), mounted with hour-long cache timeouts so that only the signal can
make the change visible; and our own changes racing a listing that is on its way.
"""

import os
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from fakeserver import DEFAULT  # noqa: E402
from writehelpers import pycall, pystart, wait_for  # noqa: E402

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

    # Another client changes the directory.  The listing and the attributes are what the
    # timeouts keep (the file's bytes are not: the kernel may drop its page cache and read
    # again), as long as the kernel holds the directory: an inode it forgets takes its
    # listing with it (memory follows the kernel's caches), so the test holds it open.
    held = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.unlink(srv.root_dir / "dir" / "a")
        srv.put("dir/b", b"b\n")
        srv.put("dir/c", b"new, longer\n")
        # What memory pressure does at any moment (a reclaim seen in CI): the kernel
        # forgets every dentry and inode it may.
        try:
            with open("/proc/sys/vm/drop_caches", "w") as f:
                f.write("2")
        except OSError:
            pass  # read-only /proc/sys (a container): the check still holds
        cached = pycall(LOOK, d=d).result
        assert {k: cached[k] for k in ("names", "size")} == \
            {"names": ["a", "c"], "size": 4}  # cached, as asked
    finally:
        os.close(held)

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


def test_listing_on_its_way_does_not_undo_our_append(fake_server, mounted, certs):
    # The listing of d/ is taken (log: 2 bytes), then held back while another program appends
    # to d/log; applied afterwards it would tell the kernel the file is 2 bytes long again,
    # and a reader would see the append vanish.
    srv = fake_server(files={"/d/log": b"a\n"})
    held = []

    def slow_first_mlsd(session, arg):
        if held or session._path(arg) != "/d":
            return DEFAULT
        held.append(arg)
        data = srv.listing(session._path(arg), mlsd=True)  # before the append
        time.sleep(1.5)
        session.transfer(data)
        return None

    srv.on("MLSD", slow_first_mlsd)
    m = mounted(srv, options=["timeout=10"], password=srv.password, cafile=certs.ca_file)
    lister = pystart("result = sorted(os.listdir(d))", d=m.mountpoint / "d")
    assert wait_for(lambda: held, timeout=10)
    r = pycall("""
        with open(path, "ab") as f:
            f.write(b"b\\n")
    """, path=m.mountpoint / "d" / "log")
    assert r.errno is None, r.error
    assert lister.finish().result == ["log"]
    assert srv.files["/d/log"] == b"a\nb\n"
    r = pycall("result = [os.stat(path).st_size, open(path, 'rb').read().decode()]",
               path=m.mountpoint / "d" / "log")
    assert r.result == [4, "a\nb\n"]
