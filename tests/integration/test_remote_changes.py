"""Remote changes: a directory removed by another client while the cache believes in it,
setfattr user.ftpsfs.refresh PATH, and -o poll=SECONDS.  Mounted with hour-long cache
timeouts so that only the feature under test can make a change visible.
"""

import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from writehelpers import pycall, run  # noqa: E402

LONG_CACHE = ["attr_timeout=3600", "dir_timeout=3600", "negative_timeout=3600"]


def _remove_on_server(srv, rel):
    shutil.rmtree(srv.root_dir / rel)


def test_mkdir_p_in_a_directory_gone_from_the_server_fails_cleanly(ftp_server, mounted):
    srv = ftp_server("vsftpd")
    srv.put("gone/keep", b"x")
    m = mounted(srv, options=LONG_CACHE)
    assert sorted(p.name for p in m.mountpoint.iterdir()) == ["gone"]
    _remove_on_server(srv, "gone")
    res = run(["mkdir", "-p", m.mountpoint / "gone/a/b"], check=False)
    assert res.returncode != 0
    assert "No such file or directory" in res.stderr, res.stderr
    # The mount learnt the truth: the directory is gone for everyone at once.
    r = pycall("result = sorted(os.listdir(d))", d=m.mountpoint)
    assert r.result == []
    r = pycall("os.stat(d + '/gone')", d=m.mountpoint)
    assert r.errname == "ENOENT"
    assert not (srv.root_dir / "gone").exists()


def test_create_in_a_nested_directory_gone_from_the_server_drops_the_topmost(ftp_server,
                                                                               mounted):
    srv = ftp_server("proftpd")
    srv.put("top/mid/f", b"x")
    srv.put("other", b"y")
    m = mounted(srv, options=LONG_CACHE)
    r = pycall("result = sorted(os.listdir(d + '/top/mid'))", d=m.mountpoint)
    assert r.result == ["f"]
    _remove_on_server(srv, "top")
    r = pycall("""
        fd = os.open(d + '/top/mid/new', os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            os.write(fd, b'z')  # the upload starts here (streamed)
            os.fsync(fd)
        finally:
            try:
                os.close(fd)
            except OSError:
                pass  # the write's error is the one that says why
    """, d=m.mountpoint)
    assert r.errname == "ENOENT"
    assert pycall("result = sorted(os.listdir(d))", d=m.mountpoint).result == ["other"]
    assert "/top: gone from the server" in m.log_text()


def test_rename_into_a_directory_gone_from_the_server_is_enoent(ftp_server, mounted):
    srv = ftp_server("vsftpd")
    srv.put("src", b"data")
    srv.put("dst/keep", b"k")
    m = mounted(srv, options=LONG_CACHE)
    assert sorted(p.name for p in m.mountpoint.iterdir()) == ["dst", "src"]
    _remove_on_server(srv, "dst")
    r = pycall("os.rename(d + '/src', d + '/dst/src')", d=m.mountpoint)
    assert r.errname == "ENOENT"
    assert (srv.root_dir / "src").read_bytes() == b"data"
    assert pycall("result = sorted(os.listdir(d))", d=m.mountpoint).result == ["src"]
