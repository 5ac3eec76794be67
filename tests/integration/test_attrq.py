"""A time or mode set on a temporary we just uploaded (a name starting with a dot, like
rsync's .name.XXXXXX) is sent a moment later (in its rename's flight, else within a
second, before a new write, at fsync and at unmount): whatever way it goes, the server
ends with it, and the mount shows it at once (src/fs/fs_attrq.c). Other files have it
on the server when chmod or utime returns."""

import os
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from writehelpers import pycall  # noqa: E402

SERVERS = ["vsftpd", "proftpd"]
T0 = 1_500_000_000


def wait_for(check, timeout=15):
    """Poll `check` until it holds (a background send has no fixed moment)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if check():
            return True
        time.sleep(0.1)
    return check()


def write_then_set(m, name, data, mode, mtime):
    """Create, write, close; then set the time and the mode, as rsync and cp -p do."""
    r = pycall("""
        with open(p, 'wb') as f:
            f.write(data.encode())
        os.utime(p, (t, t))
        os.chmod(p, mode)
        st = os.stat(p)
        result = (st.st_mtime, st.st_mode & 0o7777)
    """, p=str(m.mountpoint / name), data=data, mode=mode, t=mtime)
    assert r.errno is None, r.error
    return r.result


def server_has(srv, name, data, mode, mtime):
    p = srv.root_dir / name
    try:
        st = p.stat()
        return (p.read_bytes() == data.encode() and st.st_mode & 0o7777 == mode
                and st.st_mtime == mtime)
    except FileNotFoundError:
        return False


def warm_mount(ftp_server, mounted, kind, put=("x", b"x")):
    """A mount of a fresh server that has set one file's time and mode already: it knows
    how this server sets times, so the next ones can wait."""
    srv = ftp_server(kind)
    srv.put(*put)
    m = mounted(srv)
    write_then_set(m, "warm", "w", 0o644, T0)
    return srv, m


@pytest.mark.parametrize("kind", SERVERS)
def test_time_and_mode_without_rename_reach_the_server(ftp_server, mounted, kind):
    srv = ftp_server(kind)
    srv.put("x", b"x")
    m = mounted(srv)
    # The first file teaches how this server sets times; the second is deferred.
    for n, name in enumerate((".a", ".b")):
        shown = write_then_set(m, name, "data" * n, 0o600, T0 + n)
        assert list(shown) == [T0 + n, 0o600]  # at once, through the mount
        assert wait_for(lambda: server_has(srv, name, "data" * n, 0o600, T0 + n)), \
            (oct(os.stat(srv.root_dir / name).st_mode), os.stat(srv.root_dir / name).st_mtime)
    assert "cannot set its time or mode" not in m.log_text()


@pytest.mark.parametrize("kind", SERVERS)
def test_unmount_sends_what_waits(ftp_server, mounted, kind):
    srv, m = warm_mount(ftp_server, mounted, kind)
    write_then_set(m, ".second", "2", 0o640, T0 + 7)
    m.stop()  # at once: the second one's time and mode still wait
    assert server_has(srv, ".second", "2", 0o640, T0 + 7)


@pytest.mark.parametrize("kind", SERVERS)
def test_removed_or_rewritten_file_keeps_step(ftp_server, mounted, kind):
    """Removed before its time was sent: nothing goes and nothing fails. Opened for
    writing again: the mode is on the server before the new content, which then has the
    time of its own upload."""
    srv, m = warm_mount(ftp_server, mounted, kind)
    write_then_set(m, ".gone", "g", 0o600, T0 + 1)
    os.unlink(m.mountpoint / ".gone")
    assert not (srv.root_dir / ".gone").exists()
    write_then_set(m, ".again", "1", 0o640, T0 + 2)
    with open(m.mountpoint / ".again", "ab") as f:
        f.write(b"2")
    assert (srv.root_dir / ".again").read_bytes() == b"12"
    assert (srv.root_dir / ".again").stat().st_mode & 0o7777 == 0o640
    assert (srv.root_dir / ".again").stat().st_mtime > T0 + 1000
    time.sleep(1.5)  # past when the queue would have sent the old time
    assert (srv.root_dir / ".again").stat().st_mtime > T0 + 1000
    assert "cannot set its time or mode" not in m.log_text()


@pytest.mark.parametrize("kind", SERVERS)
def test_rename_over_a_file_sets_the_time_on_ours(ftp_server, mounted, kind):
    """Onto a name that is taken the time and mode go before the rename, never to the
    file being replaced."""
    srv, m = warm_mount(ftp_server, mounted, kind, put=("old", b"old content"))
    write_then_set(m, ".new.tmp", "new", 0o640, T0 + 5)
    os.rename(m.mountpoint / ".new.tmp", m.mountpoint / "old")
    assert server_has(srv, "old", "new", 0o640, T0 + 5)
    assert not (srv.root_dir / ".new.tmp").exists()


@pytest.mark.parametrize("kind", SERVERS)
def test_fsync_sends_it(ftp_server, mounted, kind):
    srv, m = warm_mount(ftp_server, mounted, kind)
    r = pycall("""
        with open(p, 'wb') as f:
            f.write(b'abc')
        os.utime(p, (t, t))
        fd = os.open(p, os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)
    """, p=str(m.mountpoint / ".s"), t=T0 + 9)
    assert r.errno is None, r.error
    assert (srv.root_dir / ".s").stat().st_mtime == T0 + 9


@pytest.mark.parametrize("kind", SERVERS)
def test_plain_name_has_it_on_the_server_at_once(ftp_server, mounted, kind):
    """cp -p, tar x, unzip: when utime and chmod return, the server has them."""
    srv, m = warm_mount(ftp_server, mounted, kind)
    write_then_set(m, "plain", "p", 0o640, T0 + 3)
    assert server_has(srv, "plain", "p", 0o640, T0 + 3)


@pytest.mark.parametrize("kind", SERVERS)
def test_temporary_gets_its_creation_mode(ftp_server, mounted, kind):
    """A temporary created 0600 and never renamed nor changed: the server ends with 0600
    (its SITE CHMOD waited in the queue), and its content is whole."""
    srv, m = warm_mount(ftp_server, mounted, kind)
    r = pycall("""
        fd = os.open(p, os.O_CREAT | os.O_WRONLY, 0o600)
        os.write(fd, b'private')
        os.close(fd)
        result = os.stat(p).st_mode & 0o7777
    """, p=str(m.mountpoint / ".priv"))
    assert r.result == 0o600, r.error
    p = srv.root_dir / ".priv"
    assert wait_for(lambda: p.exists() and p.stat().st_mode & 0o7777 == 0o600)
    assert p.read_bytes() == b"private"
