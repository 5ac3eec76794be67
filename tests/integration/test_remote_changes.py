"""Remote changes: a directory removed by another client while the cache believes in it,
setfattr user.ftpsfs.refresh PATH, and -o poll=SECONDS.  Mounted with hour-long cache
timeouts so that only the feature under test can make a change visible.
"""

import errno
import os
import shutil
import time
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from writehelpers import pycall, run, wait_for  # noqa: E402

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


REFRESH = "os.setxattr(p, 'user.ftpsfs.refresh', b'1')"

LOOK = """
    result = {"names": sorted(os.listdir(d)), "size": os.stat(d + "/c").st_size,
              "content": open(d + "/c").read()}
"""


def _look(d):
    return pycall(LOOK, d=d).result


BEFORE = {"names": ["a", "c"], "size": 4, "content": "old\n"}
AFTER = {"names": ["b", "c"], "size": 12, "content": "new, longer\n"}


def _dir_for_others(ftp_server, mounted, options, also=()):
    """A mount whose dir/ holds a and c, looked at once (BEFORE); `also`: more files."""
    srv = ftp_server("vsftpd")
    for name in also:
        srv.put(name, name.encode())
    srv.put("dir/a", b"a\n")
    srv.put("dir/c", b"old\n")
    m = mounted(srv, options=LONG_CACHE + options)
    d = m.mountpoint / "dir"
    assert _look(d) == BEFORE
    return srv, m, d


def _change_dir_as_another_client(srv):
    """dir/ becomes AFTER: a removed, b added, c longer."""
    os.unlink(srv.root_dir / "dir" / "a")
    srv.put("dir/b", b"b\n")
    srv.put("dir/c", b"new, longer\n")


def test_refresh_xattr_on_a_directory_shows_changes_by_others(ftp_server, mounted):
    srv, m, d = _dir_for_others(ftp_server, mounted, [], also=["other/x"])
    assert sorted(os.listdir(m.mountpoint / "other")) == ["x"]
    held = os.open(d, os.O_RDONLY | os.O_DIRECTORY)  # the kernel keeps the inode
    try:
        _change_dir_as_another_client(srv)
        srv.put("other/y", b"y")
        assert pycall("result = sorted(os.listdir(d))", d=d).result == ["a", "c"]  # cached
        r = pycall(REFRESH, p=d)
        assert r.errno is None, r.error
        assert pycall("result = sorted(os.listdir(d))", d=d).result == ["b", "c"]
        # The kernel's attributes of the file are dropped by the mount's refresh
        # thread, an instant after the call returns.
        assert wait_for(lambda: _look(d) == AFTER, timeout=5), _look(d)
        # Only that directory: the other one still shows what was cached.
        assert sorted(os.listdir(m.mountpoint / "other")) == ["x"]
    finally:
        os.close(held)


def test_refresh_xattr_on_a_file_and_on_the_root(ftp_server, mounted):
    srv = ftp_server("proftpd")
    srv.put("f", b"1234")
    m = mounted(srv, options=LONG_CACHE)
    f = m.mountpoint / "f"
    assert pycall("result = open(p).read()", p=f).result == "1234"
    srv.put("f", b"123456789")
    srv.put("new", b"n")
    assert os.stat(f).st_size == 4  # cached
    assert pycall(REFRESH, p=f).errno is None
    assert wait_for(lambda: os.stat(f).st_size == 9, timeout=5)
    assert pycall("result = open(p).read()", p=f).result == "123456789"
    # The file's attributes came with its directory's listing, asked again too.
    assert sorted(os.listdir(m.mountpoint)) == ["f", "new"]
    srv.put("newer", b"n")
    assert sorted(os.listdir(m.mountpoint)) == ["f", "new"]  # cached
    assert pycall(REFRESH, p=m.mountpoint).errno is None
    assert sorted(os.listdir(m.mountpoint)) == ["f", "new", "newer"]


def test_refresh_xattr_after_a_directory_was_made_again(ftp_server, mounted):
    srv = ftp_server("vsftpd")
    srv.put("top/old", b"o")
    m = mounted(srv, options=LONG_CACHE)
    assert sorted(os.listdir(m.mountpoint / "top")) == ["old"]
    _remove_on_server(srv, "top")
    assert pycall("os.mkdir(d + '/top/sub')", d=m.mountpoint).errname == "ENOENT"
    srv.put("top/again", b"a")  # another client makes it again
    assert pycall(REFRESH, p=m.mountpoint).errno is None
    r = pycall("result = sorted(os.listdir(d + '/top'))", d=m.mountpoint)
    assert r.result == ["again"], r.error


def test_other_xattrs_cannot_be_set(ftp_server, mounted):
    srv = ftp_server("vsftpd")
    srv.put("f", b"x")
    m = mounted(srv, options=LONG_CACHE)
    r = pycall("os.setxattr(p, 'user.other', b'1')", p=m.mountpoint / "f")
    assert r.errno == errno.ENOTSUP


def test_poll_shows_changes_by_others_without_a_request(ftp_server, mounted):
    srv, m, d = _dir_for_others(ftp_server, mounted, ["poll=1"])
    held = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    try:
        # A name looked up and missing: the kernel keeps a negative entry for it.
        assert pycall("os.stat(d + '/b')", d=d).errname == "ENOENT"
        _change_dir_as_another_client(srv)
        assert wait_for(lambda: _look(d) == AFTER, timeout=15), _look(d)
        assert pycall("result = os.stat(d + '/b').st_size", d=d).result == 2
        assert "poll: /dir: 3 names changed on the server" in m.log_text()
    finally:
        os.close(held)


def test_without_poll_the_cache_stands(ftp_server, mounted):
    srv = ftp_server("vsftpd")
    srv.put("dir/c", b"old\n")
    m = mounted(srv, options=LONG_CACHE)
    d = m.mountpoint / "dir"
    assert pycall("result = sorted(os.listdir(d))", d=d).result == ["c"]
    srv.put("dir/b", b"b\n")
    time.sleep(2.5)
    assert pycall("result = sorted(os.listdir(d))", d=d).result == ["c"]
    assert "poll:" not in m.log_text()


def test_rm_r_of_a_directory_gone_from_the_server_leaves_no_phantom(ftp_server, mounted):
    srv = ftp_server("proftpd")
    srv.put("tree/sub/f", b"x")
    m = mounted(srv, options=LONG_CACHE)
    r = pycall("result = sorted(os.listdir(d + '/tree/sub'))", d=m.mountpoint)
    assert r.result == ["f"]
    _remove_on_server(srv, "tree")
    r = pycall("os.unlink(d + '/tree/sub/f')", d=m.mountpoint)
    assert r.errname == "ENOENT"
    assert pycall("result = os.listdir(d)", d=m.mountpoint).result == []
