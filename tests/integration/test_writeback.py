"""-o writeback: close() returns once the file is durable in the spool directory; uploads run in
the background (fs_wback.h).

What is checked, through a real mount against real servers (vsftpd with require_ssl_reuse=YES,
ProFTPD):
- close returns and each file appears on the server, byte-exact, shortly after (polled with a
  generous limit: no timing assertion); the statistics show the queue;
- a file whose upload is pending (the server is down) reads back its own bytes and size, and is
  uploaded once the server is back (the queue retries);
- fsync() returns only once the server has the file;
- kill -9 of ftpsfs in the middle of copying many files, then a remount with the same
  spool_dir: every file whose close() returned is on the server byte-exact, and no file under
  its real name holds anything but its whole content;
- a file changed on the server while ours was open is not overwritten: ours goes to a
  conflict name;
- unmount waits for the queue; with the server away it gives up after op_timeout, keeps the
  records, and the next mount uploads them.
"""

import hashlib
import os
import random
import re
import signal
import sys
import threading
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from mount import Mount, default_binary  # noqa: E402
from tcpproxy import PROXY_HOST, Proxy  # noqa: E402
from writehelpers import (make_tree, mount_stats, pycall, pystart, run,  # noqa: E402
                          snapshot, wait_for)

BOTH_SERVERS = pytest.mark.parametrize("kind", ["vsftpd", "proftpd"])
ARRIVAL_LIMIT = 90   # seconds a queued upload may take to show up on the server (generous)
# For tests that stop the server and then create files: a new name needs a fresh listing of its
# directory (the mount cannot ask the server whether the name is taken), however long a loaded
# machine takes between the listing and the last create (the default dir_timeout, 20 s, is not
# always enough under load: the create then fails with ETIMEDOUT).
LONG_LISTING = "dir_timeout=3600"


def _content(name, size=None):
    rnd = random.Random(f"wb-{name}")
    return rnd.randbytes(size if size is not None else rnd.randrange(1, 20000))


@pytest.fixture
def wb_mount(ftp_server, certs, test_user, tmp_path):
    """Factory: wb_mount(server, *options, spool=None, host=None) -> started Mount with
    -o writeback and a spool directory of its own (`spool`: reuse one, e.g. for a remount;
    `host` replaces 127.0.0.1 in the URL: the proxy)."""
    mounts = []

    def make(server, *options, spool=None, host=None):
        spool = spool or tmp_path / "spool"
        opts = ["writeback", f"spool_dir={spool}", *options]
        url = server.url("/")
        if host:
            url = url.replace("127.0.0.1", host)
        m = Mount(default_binary(), url, tmp_path / f"mnt{len(mounts)}",
                  test_user.password, options=opts, cafile=certs.ca_file)
        m.spool = spool
        mounts.append(m)
        return m.start()

    yield make
    for m in reversed(mounts):
        m.stop()


WRITE_FILES = """
    # Write each of `names` (content from `seed`) under `d`, closing each; returns the names
    # whose close() returned 0.
    import random
    done = []
    for n in names:
        rnd = random.Random("wb-" + n)
        data = rnd.randbytes(rnd.randrange(1, 20000))
        stage = "write " + n
        with open(os.path.join(d, n), "wb") as f:
            f.write(data)
        done.append(n)
    result = done
"""


def _server_has(srv, name, data):
    p = srv.root_dir / name
    try:
        return p.read_bytes() == data
    except OSError:
        return False


def _mode_on_server(srv, name, data):
    """The permission bits of `name` on the server, which must hold `data`."""
    assert _server_has(srv, name, data), f"{name} is not on the server whole"
    return (srv.root_dir / name).stat().st_mode & 0o777


def _all_arrived(srv, names):
    return all(_server_has(srv, n, _content(n)) for n in names)


def _records(spool):
    return sorted(p.name for p in Path(spool).glob("wb-*.rec"))


def _kill_9(m):
    os.kill(m.proc.pid, signal.SIGKILL)
    m.proc.wait(timeout=10)


def _remount_replays(wb_mount, srv, m):
    """After a kill -9 of `m`: mount again with its spool; the replay uploads every record."""
    m.stop()  # clears the dead mount
    m2 = wb_mount(srv, spool=m.spool)
    os.listdir(m2.mountpoint)  # served only after the replay
    assert not _records(m.spool), _records(m.spool)
    return m2


@BOTH_SERVERS
def test_close_returns_and_the_files_arrive(ftp_server, wb_mount, kind):
    srv = ftp_server(kind)
    m = wb_mount(srv)
    names = [f"f{i:03d}" for i in range(40)]
    r = pycall(WRITE_FILES, d=m.mountpoint, names=names)
    assert r.errno is None, r.error
    assert r.result == names
    assert wait_for(lambda: _all_arrived(srv, names), ARRIVAL_LIMIT), \
        f"not all files arrived on the server:\n{m._tail()}"
    # The queue ran dry: every record is gone, the statistics say so.
    assert wait_for(lambda: not _records(m.spool), 30), _records(m.spool)
    st = wait_for(lambda: (lambda s: s if s["writeback_queued"] == 0 else None)(
        mount_stats(m.mountpoint)), 30)
    assert st and st["writeback"] == 1
    assert st["writeback_uploads"] >= len(names)
    assert st["writeback_failures"] == 0
    # What the mount shows matches, too.
    for n in names[:5]:
        assert (m.mountpoint / n).read_bytes() == _content(n)


def test_pending_file_reads_back_and_is_uploaded_after_an_outage(ftp_server, wb_mount):
    srv = ftp_server("vsftpd")
    m = wb_mount(srv, "op_timeout=3", LONG_LISTING)
    (m.mountpoint / "sub").mkdir()
    os.listdir(m.mountpoint / "sub")  # the listing is cached: creating needs no server
    srv.stop()
    try:
        data = _content("pending", 300000)
        src = m.spool.parent / "pending.src"
        src.write_bytes(data)
        r = pycall("open(p, 'wb').write(open(src, 'rb').read())", timeout=60,
                   p=m.mountpoint / "sub" / "pending", src=src)
        assert r.errno is None, r.error
        # Pending: on disk in the spool, not on the server, and read back from the spool.
        assert _records(m.spool)
        assert not (srv.root_dir / "sub" / "pending").exists()
        r = pycall("st = os.stat(p); result = [st.st_size, "
                   "hashlib.sha256(open(p, 'rb').read()).hexdigest()]",
                   timeout=60, p=m.mountpoint / "sub" / "pending")
        assert r.errno is None, r.error
        assert r.result == [len(data), hashlib.sha256(data).hexdigest()]
        st = mount_stats(m.mountpoint)
        assert st["writeback_queued"] == 1
        assert st["writeback_bytes_pending"] == len(data)
        # A try failed (past op_timeout): the queue tries again later.
        assert wait_for(lambda: mount_stats(m.mountpoint)["writeback_retries"] >= 1,
                        ARRIVAL_LIMIT), m._tail()
    finally:
        srv.start()
    assert wait_for(lambda: _server_has(srv, "sub/pending", data), ARRIVAL_LIMIT), m._tail()
    assert wait_for(lambda: not _records(m.spool), 30)
    # (The job leaves the queue just after its record is removed.)
    assert _queue_empty(m), m._tail()


def test_fsync_waits_for_the_server(ftp_server, wb_mount):
    srv = ftp_server("vsftpd")
    m = wb_mount(srv)
    data = _content("synced", 1 << 20)
    src = m.spool.parent / "synced.src"
    src.write_bytes(data)
    r = pycall("""
        data = open(src, 'rb').read()
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.write(fd, data)
        os.fsync(fd)
        # fsync returned: the server has it now (checked before close).
        result = open(oracle, 'rb').read() == data
        os.close(fd)
    """, p=m.mountpoint / "synced", src=src, oracle=srv.root_dir / "synced")
    assert r.errno is None, r.error
    assert r.result is True
    # Nothing is left to do for the queue.
    assert wait_for(lambda: not _records(m.spool), 30)


COPY_MANY = """
    # Copy `count` files into `d` one by one; after each close() returned, its name goes to
    # the progress file `out` (flushed), so the caller knows what close() promised.
    import random
    prog = open(out, "a", buffering=1)
    for i in range(count):
        n = "c%04d" % i
        rnd = random.Random("wb-" + n)
        data = rnd.randbytes(rnd.randrange(1, 20000))
        with open(os.path.join(d, n), "wb") as f:
            f.write(data)
        prog.write(n + "\\n")
"""


@BOTH_SERVERS
def test_kill_9_mid_copy_then_remount_uploads_every_closed_file(ftp_server, wb_mount, tmp_path,
                                                                kind):
    # The kill may land after a STOR and before its data connection: vsftpd's session of the
    # dead mount has then created and locked the file (lock_upload_files) and waits for that
    # connection for accept_timeout (60 s by default), and the replay's STOR of the file waits
    # for the lock longer than ftpsfs waits for a reply (30 s): the replay's first try fails
    # and its second (WB_REPLAY_RETRY_MS) gets the file about 60 s after the kill (measured).
    # A shorter accept_timeout keeps this test quick.  local_umask=077 (vsftpd's default): a
    # file whose mode was never set shows.
    vsftpd_conf = {"accept_timeout": "10", "local_umask": "077"}
    srv = ftp_server(kind, **({"extra": vsftpd_conf} if kind == "vsftpd" else {}))
    m = wb_mount(srv)
    out = tmp_path / "progress"
    out.write_text("")
    (m.mountpoint / "cp").mkdir()
    child = pystart(COPY_MANY, d=m.mountpoint / "cp", count=1000, out=out)
    try:
        assert wait_for(lambda: len(out.read_text().split()) >= 300, 120), \
            f"the copy made no progress:\n{m._tail()}"
        os.kill(m.proc.pid, signal.SIGKILL)
        m.proc.wait(timeout=10)
    finally:
        child.kill()
    m.stop()  # clears the dead mount
    closed = out.read_text().split()
    assert len(closed) >= 300
    # Whatever is on the server now under a real name is whole (a cut upload of ours may
    # be there only while its record waits for the remount, and it is then replaced).
    m2 = wb_mount(srv, spool=m.spool)
    os.listdir(m2.mountpoint)  # served only after the replay
    assert not _records(m.spool), _records(m.spool)
    for n in closed:
        assert _server_has(srv, "cp/" + n, _content(n)), f"{n} is not on the server whole"
        # The mode open() asked for (umask 022) is set after the upload, replayed or not.
        assert (srv.root_dir / "cp" / n).stat().st_mode & 0o777 == 0o644, n
    for p in (srv.root_dir / "cp").iterdir():
        if re.fullmatch(r"c\d{4}", p.name):
            assert p.read_bytes() == _content(p.name), f"{p.name} is half-written"
    assert not list((srv.root_dir / "cp").glob("*conflict*"))


HOLD_OPEN = """
    # Write `p` and close it while a second handle (a writer) stays open; then say so in
    # `ready` and wait to be killed.
    import time
    w = open(p, "wb")
    w.write(bytes.fromhex(data))
    held = open(p, "r+b")
    w.close()
    open(ready, "w").close()
    time.sleep(300)
"""


def test_kill_9_while_the_mode_waits_for_the_last_close_then_remount_sets_it(ftp_server,
                                                                            wb_mount,
                                                                            tmp_path):
    """A new file's mode is set on the server once its last handle is closed (a writer still
    holding it may need the old one, fs_wfile_defer_chmod()). The upload itself does not
    wait for that, but its record does: ftpsfs killed after the upload and before that last
    close leaves the file with the server's umask (077 here), and the remount sets the
    mode."""
    srv = ftp_server("vsftpd", extra={"local_umask": "077"})
    m = wb_mount(srv)
    os.listdir(m.mountpoint)
    data = _content("held")
    ready = tmp_path / "ready"
    child = pystart(HOLD_OPEN, p=m.mountpoint / "held", data=data.hex(), ready=ready)
    try:
        assert wait_for(ready.exists, 60), m._tail()
        assert wait_for(lambda: _server_has(srv, "held", data), ARRIVAL_LIMIT), m._tail()
        # Uploaded; the mode waits for the second handle, and so does the record.
        assert (srv.root_dir / "held").stat().st_mode & 0o777 == 0o600
        assert _records(m.spool)
        _kill_9(m)
    finally:
        child.kill()
    _remount_replays(wb_mount, srv, m)
    # The mode open() asked for (umask 022).
    assert _mode_on_server(srv, "held", data) == 0o644


def test_file_changed_on_the_server_goes_to_a_conflict_name(ftp_server, wb_mount):
    srv = ftp_server("vsftpd")
    (srv.root_dir / "doc.txt").write_bytes(b"original\n")
    os.chown(srv.root_dir / "doc.txt", srv.user.uid, srv.user.gid)
    m = wb_mount(srv)
    theirs = b"changed on the server meanwhile\n"
    ours = b"our edit, written through the mount\n"
    r = pycall("""
        f = open(p, 'wb')
        f.write(ours.encode())
        f.flush()
        open(oracle, 'wb').write(theirs.encode())  # someone else, on the server
        f.close()
    """, p=m.mountpoint / "doc.txt", oracle=srv.root_dir / "doc.txt", ours=ours.decode(),
        theirs=theirs.decode())
    assert r.errno is None, r.error

    def conflicts():
        return list(srv.root_dir.glob("doc.txt.ftpsfs-conflict-*"))
    # (The conflict copy is there from its STOR on: wait until it is whole.)
    assert wait_for(lambda: conflicts() and conflicts()[0].read_bytes() == ours,
                    ARRIVAL_LIMIT), m._tail()
    assert len(conflicts()) == 1
    assert (srv.root_dir / "doc.txt").read_bytes() == theirs
    assert "changed on the server" in m.log_text()
    assert wait_for(lambda: mount_stats(m.mountpoint)["writeback_conflicts"] == 1, 30)


def test_unmount_waits_for_the_queue(ftp_server, wb_mount):
    srv = ftp_server("proftpd")
    m = wb_mount(srv)
    names = [f"u{i:03d}" for i in range(60)]
    r = pycall(WRITE_FILES, d=m.mountpoint, names=names)
    assert r.errno is None, r.error
    assert m.stop() == 0
    # The process ended only after the queue: everything is there without waiting.
    assert _all_arrived(srv, names)
    assert not _records(m.spool)


def test_unmount_with_the_server_away_keeps_the_records_for_the_next_mount(ftp_server,
                                                                         wb_mount):
    srv = ftp_server("vsftpd")
    m = wb_mount(srv, "op_timeout=2", LONG_LISTING)
    os.listdir(m.mountpoint)
    srv.stop()
    try:
        names = ["k1", "k2", "k3"]
        r = pycall(WRITE_FILES, d=m.mountpoint, names=names, timeout=60)
        assert r.errno is None, r.error
        m.stop()
        assert len(_records(m.spool)) == 3
        assert "uploaded at the next mount" in m.log_text()
    finally:
        srv.start()
    m2 = wb_mount(srv, spool=m.spool)
    os.listdir(m2.mountpoint)
    assert _all_arrived(srv, names), m2._tail()
    assert not _records(m.spool)


def _down_with_a_pending_file(srv, m, name, data):
    """Stop the server and write `name` through the mount: its upload stays pending."""
    os.listdir(m.mountpoint)  # the listing is cached: creating needs no server
    srv.stop()
    src = m.spool.parent / f"{name}.src"
    src.write_bytes(data)
    r = pycall("open(p, 'wb').write(open(src, 'rb').read())", timeout=60,
               p=m.mountpoint / name, src=src)
    assert r.errno is None, r.error
    assert _records(m.spool)


def _killed_with_a_pending_file(srv, wb_mount, name, size):
    """A mount whose upload of `name` (`size` bytes) is pending - the server stopped - ended
    by kill -9. Returns the dead mount (its spool) and the content; the server stays down."""
    m = wb_mount(srv, "op_timeout=3", LONG_LISTING)
    data = _content(name, size)
    _down_with_a_pending_file(srv, m, name, data)
    _kill_9(m)
    m.stop()
    return m, data


def _queue_empty(m):
    return wait_for(lambda: mount_stats(m.mountpoint)["writeback_queued"] == 0, ARRIVAL_LIMIT)


def test_unlink_drops_a_pending_upload(ftp_server, wb_mount):
    srv = ftp_server("vsftpd")
    m = wb_mount(srv, "op_timeout=3", LONG_LISTING)
    try:
        _down_with_a_pending_file(srv, m, "gone", b"never to arrive\n")
        r = pycall("os.unlink(p)", timeout=60, p=m.mountpoint / "gone")
        assert r.errno is None, r.error
        assert not _records(m.spool)
    finally:
        srv.start()
    assert _queue_empty(m), m._tail()
    assert not (srv.root_dir / "gone").exists()
    assert not (m.mountpoint / "gone").exists()


def test_writing_a_pending_file_again_joins_its_content(ftp_server, wb_mount):
    srv = ftp_server("proftpd")
    m = wb_mount(srv, "op_timeout=3", LONG_LISTING)
    first = _content("again-1", 50000)
    more = _content("again-2", 7000)
    try:
        _down_with_a_pending_file(srv, m, "again", first)
        r = pycall("open(p, 'ab').write(bytes.fromhex(h))", timeout=60,
                   p=m.mountpoint / "again", h=more.hex())
        assert r.errno is None, r.error
        assert len(_records(m.spool)) == 1
        assert (m.mountpoint / "again").read_bytes() == first + more
    finally:
        srv.start()
    assert wait_for(lambda: _server_has(srv, "again", first + more), ARRIVAL_LIMIT), m._tail()
    assert wait_for(lambda: not _records(m.spool), 30)


def test_rename_of_a_pending_file_uploads_it_first(ftp_server, wb_mount):
    srv = ftp_server("vsftpd")
    m = wb_mount(srv)
    data = _content("moved", 80000)
    src = m.spool.parent / "moved.src"
    src.write_bytes(data)
    r = pycall("""
        open(a, 'wb').write(open(src, 'rb').read())
        os.rename(a, b)
    """, a=m.mountpoint / "a.tmp", b=m.mountpoint / "b.txt", src=src)
    assert r.errno is None, r.error
    # rename waited for the upload: no polling needed.
    assert (srv.root_dir / "b.txt").read_bytes() == data
    assert not (srv.root_dir / "a.tmp").exists()
    assert wait_for(lambda: not _records(m.spool), 30)


def test_kill_9_mid_upload_then_remount_replaces_the_partial_file(ftp_server, wb_mount):
    """The worst moment: the server holds part of our upload under the file's real name
    (no atomic_upload) when ftpsfs dies. The record says the upload had begun, so the replay
    knows that part is ours and replaces it (rather than taking it for someone else's change
    and keeping ours under a conflict name)."""
    srv = ftp_server("vsftpd")
    px = Proxy(srv.port, srv.pasv_range).start()
    big = srv.root_dir / "big"
    data = _content("big", 4 << 20)
    try:
        m = wb_mount(srv, host=PROXY_HOST)
        os.listdir(m.mountpoint)
        px.hold_uploads_after = 512 * 1024
        src = m.spool.parent / "big.src"
        src.write_bytes(data)
        r = pycall("open(p, 'wb').write(open(src, 'rb').read())", p=m.mountpoint / "big",
                   src=src)
        assert r.errno is None, r.error
        assert wait_for(lambda: big.exists() and big.stat().st_size > 0, 60), m._tail()
        rec = [m.spool / n for n in _records(m.spool)]
        assert len(rec) == 1 and "started=1" in rec[0].read_text()
        os.kill(m.proc.pid, signal.SIGKILL)
        m.proc.wait(timeout=10)
    finally:
        px.hold_uploads_after = None
        px.stop()
    m.stop()
    assert big.stat().st_size < len(data)  # half-written until the remount
    m2 = wb_mount(srv, spool=m.spool)
    os.listdir(m2.mountpoint)  # served only after the replay
    assert big.read_bytes() == data
    assert not list(srv.root_dir.glob("big.ftpsfs-conflict-*"))
    assert not _records(m.spool)


@BOTH_SERVERS
def test_overwriting_and_appending_existing_files_is_no_conflict(ftp_server, wb_mount, kind):
    srv = ftp_server(kind)
    for n in ("over", "app"):
        (srv.root_dir / n).write_bytes(b"old content\n")
        os.chown(srv.root_dir / n, srv.user.uid, srv.user.gid)
    m = wb_mount(srv)
    r = pycall("""
        open(over, 'wb').write(b'new content\\n')
        open(app, 'ab').write(b'more\\n')
    """, over=m.mountpoint / "over", app=m.mountpoint / "app")
    assert r.errno is None, r.error
    assert wait_for(lambda: _server_has(srv, "over", b"new content\n") and
                    _server_has(srv, "app", b"old content\nmore\n"), ARRIVAL_LIMIT), m._tail()
    assert _queue_empty(m)
    assert not list(srv.root_dir.glob("*conflict*"))
    assert mount_stats(m.mountpoint)["writeback_conflicts"] == 0


def test_a_full_queue_makes_close_upload_itself(ftp_server, wb_mount):
    """Back-pressure: with WB_MAX_JOBS (512) files pending, the next close uploads its own
    file before it returns - here, with the server away, it waits (an upload: up to
    `timeout`) and fails as a mount without writeback would; the pending files all arrive
    once the server is back."""
    srv = ftp_server("vsftpd")
    m = wb_mount(srv, "op_timeout=2", "timeout=3", LONG_LISTING)
    (m.mountpoint / "q").mkdir()
    os.listdir(m.mountpoint / "q")
    srv.stop()
    try:
        r = pycall("""
            import errno
            done, failed = [], None
            for i in range(520):
                n = "q%03d" % i
                try:
                    with open(os.path.join(d, n), "wb") as f:
                        f.write(n.encode())
                except OSError as e:
                    failed = [n, e.errno]
                    break
                done.append(n)
            result = [done, failed]
        """, timeout=120, d=m.mountpoint / "q")
        assert r.errno is None, r.error
        done, failed = r.result
        assert len(done) == 512
        assert failed and failed[0] == "q512"
        assert mount_stats(m.mountpoint)["writeback_queued"] == 512
    finally:
        srv.start()
    assert wait_for(lambda: all(_server_has(srv, "q/" + n, n.encode()) for n in done),
                    ARRIVAL_LIMIT), m._tail()
    assert _queue_empty(m)


def _drop_kernel_caches():
    """What memory pressure does at any moment: the kernel forgets every dentry and inode it
    may (a closed file's among them)."""
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("2")


def test_a_pending_file_outlives_the_kernel_forgetting_it(ftp_server, wb_mount):
    """After the last close the kernel may forget a file's inode while its upload is still
    queued (seen under load in CI: every queued upload then failed with ESTALE and waited for
    the next mount). The mount keeps the file - its name, its bytes - and uploads it."""
    srv = ftp_server("vsftpd")
    m = wb_mount(srv, "op_timeout=3", LONG_LISTING)
    (m.mountpoint / "f").mkdir()
    os.listdir(m.mountpoint / "f")
    names = [f"g{i:02d}" for i in range(20)]
    srv.stop()
    try:
        r = pycall(WRITE_FILES, d=m.mountpoint / "f", names=names, timeout=60)
        assert r.errno is None, r.error
        forgets = m.log_text().count("FORGET")
        _drop_kernel_caches()
        assert wait_for(lambda: m.log_text().count("FORGET") > forgets, 30), \
            "the kernel forgot nothing"
        # Still there, with our bytes (from the spool: the server is away).
        r = pycall("result = [sorted(os.listdir(d)), {n: hashlib.sha256(open("
                   "os.path.join(d, n), 'rb').read()).hexdigest() for n in names}]",
                   timeout=120, d=m.mountpoint / "f", names=names)
        assert r.errno is None, r.error
        assert r.result == [names, {n: hashlib.sha256(_content(n)).hexdigest()
                                    for n in names}]
    finally:
        srv.start()
    assert wait_for(lambda: all(_server_has(srv, "f/" + n, _content(n)) for n in names),
                    ARRIVAL_LIMIT), m._tail()
    assert _queue_empty(m), m._tail()
    assert not _records(m.spool)
    assert mount_stats(m.mountpoint)["writeback_failures"] == 0
    assert "Stale file handle" not in m.log_text()


def test_times_of_pending_files_are_set_after_their_upload(ftp_server, wb_mount, tmp_path):
    """cp -p and tar x set times after writing: on a pending file the time waits for the
    upload (no synchronous upload, no waiting for the server), also across a crash."""
    srv = ftp_server("vsftpd")
    m = wb_mount(srv, "op_timeout=3", LONG_LISTING)
    t_before, t_after = 1_500_000_000, 1_600_000_000
    try:
        _down_with_a_pending_file(srv, m, "closed", b"closed, then touched\n")
        # Once the mount knows the server is away, no upload attempt holds a file.
        assert wait_for(lambda: mount_stats(m.mountpoint)["server_state"] == "down" and
                        mount_stats(m.mountpoint)["writeback_retries"] >= 1, 30)
        r = pycall("""
            import time
            t0 = time.monotonic()
            os.utime(closed, (t_after, t_after))       # tar x: after close
            fd = os.open(open_, os.O_WRONLY | os.O_CREAT, 0o644)
            os.write(fd, b"touched while open\\n")
            os.utime(fd, (t_before, t_before))         # cp -p: futimens before close
            os.close(fd)
            result = [time.monotonic() - t0, os.stat(closed).st_mtime,
                      os.stat(open_).st_mtime]
        """, timeout=60, closed=m.mountpoint / "closed", open_=m.mountpoint / "open",
                   t_after=t_after, t_before=t_before)
        assert r.errno is None, r.error
        elapsed, shown_closed, shown_open = r.result
        assert elapsed < 2.5  # the server is down: nothing waited for it (op_timeout 3 s)
        assert (shown_closed, shown_open) == (t_after, t_before)
        assert len(_records(m.spool)) == 2
        os.kill(m.proc.pid, signal.SIGKILL)  # the times survive in the records
        m.proc.wait(timeout=10)
    finally:
        srv.start()
    m.stop()
    m2 = wb_mount(srv, spool=m.spool)
    os.listdir(m2.mountpoint)
    assert _server_has(srv, "closed", b"closed, then touched\n")
    assert _server_has(srv, "open", b"touched while open\n")
    assert (srv.root_dir / "closed").stat().st_mtime == t_after
    assert (srv.root_dir / "open").stat().st_mtime == t_before


def test_kill_9_after_chmod_of_a_pending_file_then_remount_sets_that_mode(ftp_server,
                                                                          wb_mount):
    """chmod of a file whose upload is pending (a new file: not on the server yet) waits for
    the upload - in the file's record too, so that the replay after a crash sets it."""
    srv = ftp_server("vsftpd", extra={"local_umask": "077"})
    m = wb_mount(srv, "op_timeout=3", LONG_LISTING)
    data = b"pending, then chmod\n"
    try:
        _down_with_a_pending_file(srv, m, "moded", data)
        r = pycall("os.chmod(p, 0o640); result = os.stat(p).st_mode & 0o777", timeout=60,
                   p=m.mountpoint / "moded")
        assert r.errno is None, r.error
        assert r.result == 0o640
        rec = [m.spool / n for n in _records(m.spool)]
        assert len(rec) == 1 and f"mode={0o640}" in rec[0].read_text()
        _kill_9(m)
    finally:
        srv.start()
    _remount_replays(wb_mount, srv, m)
    assert _mode_on_server(srv, "moded", data) == 0o640


def test_records_of_a_delay_connect_mount_begun_in_an_outage_are_uploaded_once_it_ends(
        ftp_server, wb_mount):
    """A mount with delay_connect comes up while the server is away and finds records of an
    earlier mount: they are uploaded as soon as the server can be reached, before the first
    request is served - not left for yet another mount."""
    srv = ftp_server("vsftpd")
    try:
        m, data = _killed_with_a_pending_file(srv, wb_mount, "late", 30000)
        m2 = wb_mount(srv, "delay_connect", "op_timeout=2", spool=m.spool)
        assert _records(m.spool)
        # A request in the outage fails (the server cannot be reached).
        r = pycall("os.listdir(d)", timeout=60, d=m2.mountpoint)
        assert r.errno is not None
        assert _records(m.spool)
    finally:
        srv.start()
    r = pycall("result = os.stat(p).st_size", timeout=120, p=m2.mountpoint / "late")
    assert r.errno is None, (r.error, m2._tail())
    assert r.result == len(data)
    assert _server_has(srv, "late", data)  # before that stat was answered
    assert not _records(m.spool)


def test_a_replayed_upload_that_fails_is_tried_again_before_the_mount_serves(ftp_server,
                                                                            wb_mount):
    """The replay at mount tries an upload that failed for a reason that may pass (here: its
    data connections are cut, again and again) again after a pause, instead of leaving it for
    yet another mount; the second try replaces our own partial file of the first (no
    conflict copy), and only then is the first request served."""
    # (Cut rather than stalled: vsftpd keeps its upload lock on the file while a session
    # waits for the rest of a stalled upload, and a second try could not begin.)
    srv = ftp_server("vsftpd")
    try:
        m, data = _killed_with_a_pending_file(srv, wb_mount, "retried", 200000)
    finally:
        srv.start()
    px = Proxy(srv.port, srv.pasv_range).start()
    try:
        px.cut_upload(*[64 * 1024] * 100)
        # The mount comes up only after the replay: the cuts end from another thread once
        # the first pass failed.
        log = m.mountpoint.with_name("mnt1.log")
        uncut = threading.Thread(target=lambda: wait_for(
            lambda: log.exists() and "trying again in" in log.read_text(errors="replace"),
            ARRIVAL_LIMIT) and px.cancel_cuts(), daemon=True)
        uncut.start()
        m2 = wb_mount(srv, "op_timeout=3", spool=m.spool, host=PROXY_HOST)
        uncut.join()
        assert "trying again in" in m2.log_text(), m2._tail()
        r = pycall("result = os.stat(p).st_size", timeout=180, p=m2.mountpoint / "retried")
        assert r.errno is None, (r.error, m2._tail())
        assert r.result == len(data)
    finally:
        px.stop()
    assert _server_has(srv, "retried", data)
    assert not list(srv.root_dir.glob("retried.ftpsfs-conflict-*"))
    assert not _records(m.spool)


def test_time_set_on_a_pending_file_arrives_with_it(ftp_server, wb_mount):
    srv = ftp_server("proftpd")
    m = wb_mount(srv)
    r = pycall("""
        with open(p, "wb") as f:
            f.write(b"x" * 1000)
            f.flush()  # a write after utime would make the time "now" again
            os.utime(f.fileno(), (1234567890, 1234567890))
    """, p=m.mountpoint / "t")
    assert r.errno is None, r.error
    assert wait_for(lambda: _server_has(srv, "t", b"x" * 1000) and
                    (srv.root_dir / "t").stat().st_mtime == 1234567890, ARRIVAL_LIMIT), \
        m._tail()


def test_tar_x_onto_a_writeback_mount_arrives_whole_with_modes_and_times(ftp_server, wb_mount,
                                                                          tmp_path):
    """An ordinary tool: tar x writes each file, then sets its mode and time (after close):
    everything arrives as in the archive, without waiting for each upload."""
    srv = ftp_server("proftpd")
    m = wb_mount(srv)
    src = make_tree(tmp_path / "src")
    archive = tmp_path / "tree.tar"
    run(["tar", "-cf", archive, "-C", src, "."])
    (m.mountpoint / "x").mkdir()
    run(["tar", "-xpf", archive, "--no-same-owner", "-C", m.mountpoint / "x"], log=m.log_text)
    want = snapshot(src)
    assert wait_for(lambda: snapshot(srv.root_dir / "x") == want, ARRIVAL_LIMIT), \
        (snapshot(srv.root_dir / "x"), want)
    assert _queue_empty(m)
    assert snapshot(m.mountpoint / "x") == want
