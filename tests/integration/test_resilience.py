"""Connection pool, concurrency and faults against a real vsftpd
(require_ssl_reuse=YES): never hang, adapt to the server, recover alone.

Some tests put a loopback TCP proxy (tcpproxy.py) between ftpsfs and the
server to stall, slow down or reset control and data connections.  Every
access to the mount that could hang runs in a child process with a hard
time limit (fscall.py).  Timings are asserted only as generous bounds that
prove "no hang"; speed belongs to the benchmarks.
"""

import errno
import hashlib
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from mount import Mount, default_binary  # noqa: E402
from fscall import errname, fs_call  # noqa: E402
from tcpproxy import PROXY_HOST, Proxy  # noqa: E402
from writehelpers import INTERLEAVED_WRITERS, pycall, pystart  # noqa: E402

MIB = 1024 * 1024
TIMEOUT = 3  # -o timeout and connect_timeout for the fault tests


def _payload(seed, size):
    return random.Random(seed).randbytes(size)


@pytest.fixture
def vsftpd(ftp_server, new_root):
    """Factory: vsftpd(extra={...}) -> a started vsftpd on a fresh root."""
    def make(extra=None):
        return ftp_server("vsftpd", root=new_root(), extra=extra or {})
    return make


@pytest.fixture
def mount_of(certs, test_user, tmp_path):
    """Factory: mount_of(server, *options, host=None) -> started Mount;
    `host` replaces 127.0.0.1 in the URL (the proxy).  Unmounted at
    teardown (before the servers stop: this fixture is requested after
    them)."""
    mounts = []

    def make(server, *options, host=None):
        url = server.url("/")
        if host:
            url = url.replace("127.0.0.1", host)
        m = Mount(default_binary(), url, tmp_path / f"mnt{len(mounts)}",
                  test_user.password, options=options, cafile=certs.ca_file)
        mounts.append(m)
        return m.start()

    yield make
    for m in reversed(mounts):
        m.stop()


def _sha(data):
    return hashlib.sha256(data).hexdigest()


def _read_all_while_listing(m, names, listdir):
    """Read every file of `names` concurrently (one child process each)
    and list `listdir` meanwhile; returns ({name: FsCall}, listing FsCall)."""
    results = {}

    def reader(name):
        results[name] = fs_call("read", m.mountpoint / name, limit=120)

    threads = [threading.Thread(target=reader, args=(n,)) for n in names]
    for t in threads:
        t.start()
    time.sleep(0.3)  # the readers are under way
    ls = fs_call("listdir", listdir, limit=60)
    for t in threads:
        t.join()
    return results, ls


# --- concurrency -------------------------------------------------------------------------------

def test_concurrent_readers_get_exact_bytes_and_ls_answers(vsftpd, mount_of):
    srv = vsftpd()
    files = {f"big{i}.bin": _payload(i, 50 * MIB) for i in range(4)}
    for name, data in files.items():
        srv.put(name, data)
    for i in range(30):
        srv.put(f"other/f{i}", b"x")
    m = mount_of(srv)
    results, ls = _read_all_while_listing(m, files, m.mountpoint / "other")
    assert ls.names == sorted(f"f{i}" for i in range(30)), errname(ls)
    for name, data in files.items():
        assert results[name].sha256 == _sha(data), (name, errname(results[name]))


def test_pool_shrinks_when_server_limits_connections(vsftpd, mount_of):
    srv = vsftpd(extra={"max_per_ip": 2})
    files = {f"f{i}.bin": _payload(10 + i, 2 * MIB) for i in range(6)}
    for name, data in files.items():
        srv.put(name, data)
    m = mount_of(srv, "max_conns=6")
    results, ls = _read_all_while_listing(m, files, m.mountpoint)
    assert ls.names == sorted(files), errname(ls)
    for name, data in files.items():
        assert results[name].sha256 == _sha(data), (name, errname(results[name]))
    log = m.log_text()
    assert "pool shrunk" in log
    assert log.count("pool shrunk") == 1  # said once


# Several files open for writing at once, written in turns (a download manager, a build, tar -x
# of interleaved members): every write takes the one transfer connection from another writer's
# stream, which the pool ends with 226; that writer goes on with APPE at its next write.
@pytest.mark.parametrize("atomic", [False, True], ids=["plain", "atomic_upload"])
def test_more_streaming_writers_than_connections_all_arrive(vsftpd, mount_of, atomic):
    srv = vsftpd()
    # max_conns=2: one connection for transfers, one kept for metadata.
    m = mount_of(srv, "max_conns=2", f"timeout={TIMEOUT}", f"connect_timeout={TIMEOUT}",
                 *(["atomic_upload"] if atomic else []))
    seeds = {f"w{i}.bin": 200 + i for i in range(3)}
    size = 2 * MIB
    r = pycall(INTERLEAVED_WRITERS, timeout=120, d=m.mountpoint, seeds=seeds, size=size,
               chunk=256 * 1024)
    assert r.errno is None, (r.stage, r.error)
    for name, seed in seeds.items():
        want = random.Random(seed).randbytes(size + seed)
        assert _sha((srv.root_dir / name).read_bytes()) == _sha(want), name
    assert sorted(os.listdir(srv.root_dir)) == sorted(seeds)  # no temporary files left
    log = m.log_text()
    assert "reclaiming from a parked writer" in log
    assert "APPE" in log


# --- idle connections --------------------------------------------------------------------------

def test_idle_timeout_of_server_is_survived(vsftpd, mount_of):
    srv = vsftpd(extra={"idle_session_timeout": 3})
    srv.put("a.txt", b"hello\n")
    m = mount_of(srv, "attr_timeout=1", "dir_timeout=1")
    assert fs_call("listdir", m.mountpoint).names == ["a.txt"]
    time.sleep(10)  # the server closes our idle connections
    r = fs_call("listdir", m.mountpoint)
    assert r.names == ["a.txt"], errname(r)
    r = fs_call("read", m.mountpoint / "a.txt")
    assert r.sha256 == _sha(b"hello\n"), errname(r)


def test_keepalive_keeps_connections_through_idle_timeout(vsftpd, mount_of):
    srv = vsftpd(extra={"idle_session_timeout": 3})
    srv.put("a.txt", b"hello\n")
    m = mount_of(srv, "keepalive=1", "attr_timeout=1", "dir_timeout=1")
    assert fs_call("listdir", m.mountpoint).names == ["a.txt"]
    time.sleep(6)
    assert fs_call("listdir", m.mountpoint).names == ["a.txt"]
    log = m.log_text()
    assert "> NOOP" in log
    assert "closed by server while idle" not in log


def test_open_files_idle_longer_than_the_servers_data_timeout(vsftpd, mount_of, tmp_path):
    # vsftpd cuts a transfer that stalls data_connection_timeout seconds. A writer and a
    # reader pausing longer than that between two calls must not notice: their parked
    # transfers are ended after `keepalive` seconds and resumed (APPE / REST) when they
    # come back.
    srv = vsftpd(extra={"data_connection_timeout": 3})
    data = _payload(77, 8 * MIB)
    srv.put("big.bin", data)
    m = mount_of(srv, "keepalive=1", f"timeout={TIMEOUT}")
    r = pycall("""
        w = os.open(d + "/new.bin", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        rd = os.open(d + "/big.bin", os.O_RDONLY)
        os.write(w, b"first " * 20000)
        got = os.read(rd, 65536)
        stage = "pause"
        time.sleep(6)
        stage = "write after the pause"
        os.write(w, b"second " * 20000)
        stage = "read after the pause"
        while True:
            chunk = os.read(rd, 1 << 20)
            if not chunk:
                break
            got += chunk
        stage = "close"
        os.close(w)
        os.close(rd)
        result = hashlib.sha256(got).hexdigest()
    """, d=m.mountpoint)
    assert r.errno is None, f"{r.error} at {r.stage}"
    assert r.result == _sha(data)
    assert (srv.root_dir / "new.bin").read_bytes() == b"first " * 20000 + b"second " * 20000
    assert "ending a transfer parked for 1 s" in m.log_text()


def test_surplus_idle_connections_are_closed(vsftpd, mount_of):
    srv = vsftpd()
    for i in range(3):
        srv.put(f"f{i}", _payload(i, 4 * MIB))
    m = mount_of(srv, "idle_close=1")
    # Three files open and partly read hold three connections (parked
    # streams); closing them leaves three idle ones, two of them surplus.
    script = ("import sys\n"
              "fs = [open(p, 'rb') for p in sys.argv[1:]]\n"
              "for f in fs: f.read(65536)\n"
              "for f in fs: f.close()\n")
    subprocess.run([sys.executable, "-c", script] +
                   [str(m.mountpoint / f"f{i}") for i in range(3)], check=True, timeout=60)
    deadline = time.monotonic() + 10
    while m.log_text().count("closing surplus idle connection") < 2:
        assert time.monotonic() < deadline, "surplus idle connections not closed"
        time.sleep(0.5)


# --- server down and back ----------------------------------------------------------------------

def test_dead_server_fails_fast_and_mount_recovers(vsftpd, mount_of):
    # -o soft: fail at once while the server is down (by default operations wait for it,
    # see test_outage.py).
    srv = vsftpd()
    srv.put("a.txt", b"hello\n")
    srv.put("d/b.txt", b"b\n")
    m = mount_of(srv, "soft", f"timeout={TIMEOUT}", f"connect_timeout={TIMEOUT}",
                 "attr_timeout=0", "dir_timeout=0", "negative_timeout=0")
    assert fs_call("listdir", m.mountpoint).names == ["a.txt", "d"]
    srv.stop()
    worst = 0.0
    for op, path in (("listdir", m.mountpoint / "d"), ("read", m.mountpoint / "a.txt"),
                     ("listdir", m.mountpoint)):
        r = fs_call(op, path, limit=60)
        assert r.errno in (errno.EIO, errno.ETIMEDOUT, errno.ECONNREFUSED), errname(r)
        worst = max(worst, r.elapsed)
    assert worst < TIMEOUT * 3 + 2, worst
    print(f"worst time to error with the server down: {worst:.2f} s")
    srv.start()  # same port
    deadline = time.monotonic() + 20
    while True:  # back-off: the first tries may still fail fast
        r = fs_call("listdir", m.mountpoint / "d")
        if r.errno is None or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert r.names == ["b.txt"], errname(r)
    assert fs_call("read", m.mountpoint / "a.txt").sha256 == _sha(b"hello\n")


# --- faults through the proxy ------------------------------------------------------------------

@pytest.fixture
def proxied(vsftpd, mount_of):
    """Factory: proxied(files, *options) -> (server, proxy, mount) with ftpsfs
    connecting through the proxy."""
    proxies = []

    def make(files, *options):
        srv = vsftpd()
        for name, data in files.items():
            srv.put(name, data)
        px = Proxy(srv.port, srv.pasv_range).start()
        proxies.append(px)
        m = mount_of(srv, *options, host=PROXY_HOST)
        return srv, px, m

    yield make
    for px in proxies:
        px.stop()


def test_stalled_data_connection_fails_or_resumes_with_exact_bytes(proxied):
    data = _payload(3, 20 * MIB)
    _, px, m = proxied({"big.bin": data}, f"timeout={TIMEOUT}")
    px.data_rate = 20 * MIB  # about a second for the file
    # Look the file up first: the stall is for the transfer, not for the listing that a
    # lookup 0.3 s late on a busy machine would need.
    assert (m.mountpoint / "big.bin").stat().st_size == len(data)

    def stall_soon():
        time.sleep(0.3)
        px.stall_data.set()
        time.sleep(TIMEOUT * 3)
        px.stall_data.clear()

    t = threading.Thread(target=stall_soon)
    t.start()
    r = fs_call("readchunks", m.mountpoint / "big.bin", limit=60)
    t.join()
    assert r.errno in (None, errno.EIO, errno.ETIMEDOUT), errname(r)
    assert r.elapsed < TIMEOUT * 3 + 10, r.elapsed
    # Whatever arrived is exactly the file's beginning.
    assert r.sha256 == _sha(data[:r.size])
    if r.errno is None:
        assert r.size == len(data)


def test_control_reset_during_read_gives_exact_bytes_or_error(proxied):
    data = _payload(4, 30 * MIB)
    _, px, m = proxied({"big.bin": data})
    px.data_rate = 30 * MIB

    def reset_soon():
        time.sleep(0.4)
        px.reset("control")

    t = threading.Thread(target=reset_soon)
    t.start()
    r = fs_call("readchunks", m.mountpoint / "big.bin", limit=60)
    t.join()
    assert r.errno in (None, errno.EIO), errname(r)
    assert r.sha256 == _sha(data[:r.size])
    if r.errno is None:
        assert r.size == len(data)


def test_interrupted_read_leaves_the_mount_usable(proxied):
    big = _payload(5, 50 * MIB)
    _, px, m = proxied({"big.bin": big, "small.txt": b"small\n"})
    px.data_rate = 10 * MIB  # five seconds for the whole file
    res = subprocess.run(["timeout", "-s", "INT", "1", "cat", str(m.mountpoint / "big.bin")],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=30)
    assert res.returncode == 124  # killed by timeout(1), not finished
    px.data_rate = None
    start = time.monotonic()
    out = subprocess.run(["cat", str(m.mountpoint / "small.txt")], capture_output=True,
                         timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout == b"small\n"
    assert time.monotonic() - start < 10
    r = fs_call("read", m.mountpoint / "big.bin", limit=60)
    assert r.sha256 == _sha(big), errname(r)


# --- lazy connect ------------------------------------------------------------------------------

def test_delay_connect_mounts_before_the_server_is_up(vsftpd, mount_of):
    srv = vsftpd()
    srv.put("a.txt", b"hello\n")
    port = srv.port
    srv.stop()
    m = mount_of(srv, "delay_connect", f"timeout={TIMEOUT}", f"connect_timeout={TIMEOUT}")
    r = fs_call("listdir", m.mountpoint, limit=60)
    assert r.errno == errno.EIO, errname(r)
    srv.start()
    assert srv.port == port
    deadline = time.monotonic() + 20
    while True:
        r = fs_call("listdir", m.mountpoint)
        if r.errno is None or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert r.names == ["a.txt"], errname(r)
    assert os.path.getsize(m.mountpoint / "a.txt") == 6


# Rounds of: write w<k>.bin (seeded), then read r<k % 3>.bin whole; each step's outcome is kept.
_MIXED_WORK = """
    out = []
    for k in range(rounds):
        data = random.Random(1000 + k).randbytes(MIB + k)
        try:
            with open(f"{d}/w{k}.bin", "wb") as f:
                f.write(data)
            out.append(["w", k, "ok"])
        except OSError as e:
            out.append(["w", k, e.errno])
        try:
            with open(f"{d}/r{k % 3}.bin", "rb") as f:
                got = f.read()
            out.append(["r", k % 3, hashlib.sha256(got).hexdigest()])
        except OSError as e:
            out.append(["r", k % 3, e.errno])
        time.sleep(0.1)
    result = out
"""


def test_connection_resets_during_mixed_work_never_report_wrong_data(proxied):
    # Control and data connections are reset again and again while a program writes and
    # reads: an operation may fail (EIO), but one reported as done must have done it exactly,
    # and the mount must work again once the resets stop.
    files = {f"r{i}.bin": _payload(300 + i, 2 * MIB) for i in range(3)}
    srv, px, m = proxied(files, f"timeout={TIMEOUT}", f"connect_timeout={TIMEOUT}")
    work = pystart(_MIXED_WORK, d=str(m.mountpoint), rounds=16)
    for k in range(10):
        time.sleep(0.35)
        px.reset("data" if k % 2 else "control")
    outcome = work.finish(timeout=240).result
    assert len(outcome) == 32
    for kind, k, res in outcome:
        if kind == "w" and res == "ok":
            assert (srv.root_dir / f"w{k}.bin").read_bytes() == \
                random.Random(1000 + k).randbytes(MIB + k), f"w{k}.bin reported written"
        elif kind == "r" and isinstance(res, str):
            assert res == _sha(files[f"r{k}.bin"]), f"r{k}.bin reported read"
        else:
            assert res in (errno.EIO, errno.ETIMEDOUT), (kind, k, res)
    # after the resets: everything works again (at the latest when a back-off started by the
    # last reset has passed)
    want = [["w", 100, "ok"], ["r", 1, _sha(files["r1.bin"])]]
    deadline = time.monotonic() + 15
    while True:
        after = pycall(_MIXED_WORK.replace("range(rounds)", "range(100, 101)"),
                       d=str(m.mountpoint), rounds=1)
        if after.result == want or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert after.result == want


# --- streaming uploads cut by the network ------------------------------------------------------

_STREAM_WRITER = """
    stage = "open"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    rnd = random.Random(seed)
    stage = "write"
    for i in range(chunks):
        os.write(fd, rnd.randbytes(MIB))
    stage = "close"
    os.close(fd)
"""


@pytest.mark.parametrize("with_control", [False, True], ids=["data", "data+control"])
@pytest.mark.parametrize("atomic", [False, True], ids=["plain", "atomic"])
def test_streaming_upload_cut_by_resets_goes_on_byte_exact(proxied, atomic, with_control):
    # A reset cuts the upload three times; each time it goes on from what the server holds,
    # and close() succeeds with the server's file exact.
    opts = [f"timeout={TIMEOUT}", f"connect_timeout={TIMEOUT}"] + (
        ["atomic_upload"] if atomic else [])
    srv, px, m = proxied({}, *opts)
    px.cut_upload(5 * MIB, 9 * MIB, 2 * MIB, with_control=with_control)
    r = pycall(_STREAM_WRITER, path=str(m.mountpoint / "big.bin"), seed=21, chunks=32,
               timeout=180)
    assert r.errno is None, f"{r.error} at {r.stage}\n" + m.log_text()[-3000:]
    assert px.cuts_done == 3
    assert (srv.root_dir / "big.bin").read_bytes() == _payload_chunks(21, 32)
    assert m.log_text().count("upload cut by a network fault") == 3
    assert not [p for p in srv.root_dir.iterdir() if p.name.startswith(".ftpsfs-tmp-")]


def _payload_chunks(seed, chunks):
    rnd = random.Random(seed)
    return b"".join(rnd.randbytes(MIB) for _ in range(chunks))
