"""Parallel ranged reads of big files (src/fs/fs_pread.c, -o parallel_reads=N) against real
servers (vsftpd with require_ssl_reuse=YES, ProFTPD, Pure-FTPd).  Ending a range (ABOR, NOOP,
SIZE, MDTM in one flight) left every connection usable on all three; it cost 6 ms a range on
vsftpd, 13 on ProFTPD and Pure-FTPd on loopback (parallel_range_end_ms / parallel_ranges,
2026-12-06, loaded 2-core machine).

A file read in order beyond 256 KiB (64 MiB or more) or 8 MiB (smaller) is fetched in ranges
(4, 8, then 16 MiB, smaller again towards the end), each REST+RETR on its own connection,
and handed to the reader in order.
What these tests hold it to:
- the bytes read are exactly the file's (sha256), and the statistics show that ranges were
  used (parallel_ranges) - or, with parallel_reads=0 or a server that allows two connections,
  that one stream was (no ranges, or parallel_fallbacks);
- random access stays exact while ranges are in flight (a seek returns to one stream);
- a file replaced on the server while it is read (a new version renamed over it, as an upload
  with a temporary name does) is never served as a mix: the reader gets a prefix of the old
  version and then EIO (parallel_stale), or the whole old version - never a byte of the new one;
- a local write while ranges are fetched drops them: what is read afterwards includes the write;
- a range whose data connection is cut is fetched again on another connection (a bounded number
  of times, then the reader goes on with one stream), and none of the cut fetch's bytes are
  served (a scripted fake server cuts them: real servers don't on demand).
The oracle is the content the test put on the server.
"""

import hashlib
import os
import random
import sys
from pathlib import Path

import threading
import time

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fakeserver import DEFAULT  # noqa: E402

from writehelpers import mount_stats, pycall, pystart, wait_for, write_file  # noqa: E402

MIB = 1 << 20
BIG = 64 * MIB
KINDS = ["vsftpd", "proftpd", "pureftpd"]


def sha(data):
    return hashlib.sha256(data).hexdigest()


def payload(size, seed):
    return random.Random(seed).randbytes(size)


# Read `path` to its end in reads of `chunk`: size and sha256, or the errno.
READ_ALL = """
    h = hashlib.sha256()
    n = 0
    with open(path, "rb", buffering=0) as f:
        while True:
            b = f.read(chunk)
            if not b:
                break
            h.update(b)
            n += len(b)
    result = {"size": n, "sha256": h.hexdigest()}
"""

# Read `first` bytes of `path`, say so (file `ready`), wait for file `go`, read on to the end or
# an error.  Result: how much was read, its sha256, the errno at the end (None at EOF).
READ_PAUSED = """
    got = bytearray()
    err = None
    with open(path, "rb", buffering=0) as f:
        while len(got) < first:
            got += f.read(min(MIB, first - len(got)))
        open(ready, "w").close()
        deadline = time.time() + 60
        while not os.path.exists(go) and time.time() < deadline:
            time.sleep(0.02)
        try:
            while True:
                b = f.read(MIB)
                if not b:
                    break
                got += b
        except OSError as e:
            err = e.errno
    result = {"size": len(got), "sha256": hashlib.sha256(got).hexdigest(), "err": err}
"""


def read_all(path, chunk=MIB, timeout=180):
    r = pycall(READ_ALL, timeout=timeout, path=path, chunk=chunk)
    assert r.errno is None, r.error
    return r.result


def start_paused_read(path, first, tmp_path):
    ready, go = tmp_path / "ready", tmp_path / "go"
    child = pystart(READ_PAUSED, path=path, first=first, ready=ready, go=go, MIB=MIB)
    assert wait_for(lambda: ready.exists(), 120), "the reader never got to its pause"
    return child, go


def put_big(srv, name="big.bin", size=BIG, seed=1):
    data = payload(size, seed)
    srv.put(name, data)
    return data


@pytest.mark.parametrize("kind", KINDS)
def test_big_file_read_in_parallel_ranges_is_exact(ftp_server, mounted, kind):
    srv = ftp_server(kind)
    data = put_big(srv)
    m = mounted(srv, options=["parallel_reads=4"])
    r = read_all(m.mountpoint / "big.bin")
    assert r == {"size": len(data), "sha256": sha(data)}
    s = mount_stats(m.mountpoint)
    # All but the first 256 KiB (read by the one stream before the ranges began) in ranges:
    # 4, 8 MiB, then 16 MiB ones.
    assert s["parallel_ranges"] >= 5
    assert s["parallel_bytes"] >= BIG - MIB
    assert s["parallel_fallbacks"] == 0 and s["parallel_stale"] == 0
    # Ending each range (ABOR) left every connection usable on vsftpd. ProFTPD's mod_tls and
    # Pure-FTPd now and then drop the control connection when a range's data connection is
    # closed early (seen once each in many runs, on a loaded machine): the read stays exact
    # (above) because the range is fetched again, so one such loss is allowed there.
    assert s["connections_lost"] <= (0 if kind == "vsftpd" else 1), s


def test_next_range_opens_while_one_ends_and_stays_exact(ftp_server, mounted):
    """When a range has about as many bytes left as opening one costs, the next range opens on
    one more connection (parallel_overlaps), so its bytes flow as the first one ends: the
    file stays exact, no connection is lost, and the streams never exceed max_conns."""
    srv = ftp_server("vsftpd")
    data = put_big(srv, size=2 * BIG, seed=3)
    # An overlap needs all the streams running as a range ends; on a loaded machine one read
    # may lose a stream to a busy pool at each such moment: up to three reads, fresh mounts.
    for attempt in range(3):
        m = mounted(srv, options=["parallel_reads=4", "max_conns=5"])
        r = read_all(m.mountpoint / "big.bin")
        assert r == {"size": len(data), "sha256": sha(data)}
        s = mount_stats(m.mountpoint)
        assert s["parallel_fallbacks"] == 0 and s["parallel_stale"] == 0
        assert s["connections_lost"] == 0, s
        assert s["logins"] <= 5, s
        if s["parallel_overlaps"] >= 1:
            break
        m.stop()
    assert s["parallel_overlaps"] >= 1, s


def test_open_of_a_big_file_logs_in_the_ranges_connections_ahead(ftp_server, mounted):
    """Opening a file big enough for ranges (64 MiB) logs in the connections the ranges would
    take, in the background, so that they do not wait for logins when they begin; a small
    file's open does not."""
    srv = ftp_server("vsftpd")
    put_big(srv)
    srv.put("small.bin", b"x" * MIB)
    m = mounted(srv, options=["parallel_reads=4", "max_conns=5"])
    with open(m.mountpoint / "small.bin", "rb") as f:
        assert f.read(4096) == b"x" * 4096
    time.sleep(0.5)
    # The mount's connection, a spare, maybe one for a listing at the same time - not the pool
    # (5) that a big file's open logs in.
    small = mount_stats(m.mountpoint)["logins"]
    assert small < 5, mount_stats(m.mountpoint)
    with open(m.mountpoint / "big.bin", "rb") as f:
        f.read(4096)  # the head only: no ranges
    logins = wait_for(lambda: mount_stats(m.mountpoint)["logins"] >= 5 and
                      mount_stats(m.mountpoint)["logins"], timeout=20)
    assert logins == 5, mount_stats(m.mountpoint)  # max_conns, never more
    s = mount_stats(m.mountpoint)
    assert s["parallel_ranges"] == 0 and s["connections_lost"] == 0


def test_parallel_reads_off_uses_one_stream(ftp_server, mounted):
    srv = ftp_server("vsftpd")
    data = put_big(srv)
    m = mounted(srv, options=["parallel_reads=0"])
    r = read_all(m.mountpoint / "big.bin")
    assert r == {"size": len(data), "sha256": sha(data)}
    s = mount_stats(m.mountpoint)
    assert s["parallel_ranges"] == 0
    # The mount's root listing and the one RETR.
    assert s["data_connections"] <= 3, s


def test_file_smaller_than_the_threshold_uses_one_stream(ftp_server, mounted):
    srv = ftp_server("vsftpd")
    data = put_big(srv, size=36 * MIB)  # 8 MiB in order, but less than two ranges left
    m = mounted(srv, options=["parallel_reads=4"])
    r = read_all(m.mountpoint / "big.bin")
    assert r == {"size": len(data), "sha256": sha(data)}
    assert mount_stats(m.mountpoint)["parallel_ranges"] == 0


# Read 20 MiB in order (ranges under way), then jump around: back into what was read, into
# the ranges' window, beyond it; then on in order to the end.
RANDOM_ACCESS = """
    rnd = random.Random(seed)
    out = []
    fd = os.open(path, os.O_RDONLY)
    pos = 0
    while pos < 20 * MIB:
        b = os.pread(fd, MIB, pos)
        out.append([pos, hashlib.sha256(b).hexdigest(), len(b)])
        pos += len(b)
    for _ in range(40):
        off = rnd.randrange(0, size - 4096)
        n = rnd.choice([4096, 65536, 300000, MIB])
        b = os.pread(fd, n, off)
        out.append([off, hashlib.sha256(b).hexdigest(), len(b)])
    pos = 40 * MIB
    while True:
        b = os.pread(fd, MIB, pos)
        if not b:
            break
        out.append([pos, hashlib.sha256(b).hexdigest(), len(b)])
        pos += len(b)
    os.close(fd)
    result = out
"""


@pytest.mark.parametrize("kind", KINDS)
def test_random_access_while_ranges_are_fetched_is_exact(ftp_server, mounted, kind):
    srv = ftp_server(kind)
    data = put_big(srv, seed=2)
    m = mounted(srv, options=["parallel_reads=4"])
    r = pycall(RANDOM_ACCESS, timeout=180, path=m.mountpoint / "big.bin", size=len(data),
               seed=3, MIB=MIB)
    assert r.errno is None, r.error
    for off, digest, n in r.result:
        want = data[off:off + n]
        assert n == len(want) and digest == sha(want), f"wrong bytes at {off} (+{n})"
    s = mount_stats(m.mountpoint)
    assert s["parallel_ranges"] > 0
    assert s["parallel_fallbacks"] >= 1  # the seeks went back to one stream
    assert s["parallel_stale"] == 0


def replace_on_server(srv, name, data, mtime_shift):
    """Put `data` under a temporary name and rename it over `name` (atomic on the server's
    disk), with its mtime moved by `mtime_shift` seconds."""
    tmp = srv.put(name + ".new", data)
    st = os.stat(srv.root_dir / name)
    os.utime(tmp, (st.st_atime, st.st_mtime + mtime_shift))
    os.rename(tmp, srv.root_dir / name)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("change", ["bigger", "same-size"])
def test_file_replaced_on_server_mid_read_never_mixes(ftp_server, mounted, tmp_path, kind,
                                                      change):
    srv = ftp_server(kind)
    # Longer than the ranges fetched ahead of the pause (up to 5 x 16 MiB after the first
    # 12 MiB): later ones see the change.
    old = put_big(srv, size=160 * MIB, seed=4)
    new = payload(len(old) + (MIB if change == "bigger" else 0), 5)
    # Short cache times: the new version is seen soon by a new open.
    m = mounted(srv, options=["parallel_reads=4", "attr_timeout=1", "dir_timeout=1"])
    child, go = start_paused_read(m.mountpoint / "big.bin", 16 * MIB, tmp_path)
    # The same size needs another time (MDTM, to the second) to be told apart.
    replace_on_server(srv, "big.bin", new, 0 if change == "bigger" else 100)
    go.touch()
    r = child.finish(180)
    assert r.errno is None, r.error
    got = r.result
    # Never a byte of the new version: a prefix of the old one (at least what was read before
    # the pause), then EIO.
    assert got["sha256"] == sha(old[:got["size"]]), "bytes of another version were served"
    assert got["size"] >= 16 * MIB
    assert got["err"] == 5, f"no EIO but {got['err']} after {got['size']} bytes"  # EIO
    assert mount_stats(m.mountpoint)["parallel_stale"] >= 1
    # Files opened afterwards read the new version whole.
    r = wait_for(lambda: (x := read_all(m.mountpoint / "big.bin"))["sha256"] == sha(new) and x,
                 60, interval=1)
    assert r, "the new version was never read"


@pytest.mark.parametrize("kind", KINDS)
def test_local_write_while_ranges_are_fetched_is_read_back(ftp_server, mounted, tmp_path,
                                                           kind):
    srv = ftp_server(kind)
    data = put_big(srv, seed=6)
    m = mounted(srv, options=["parallel_reads=4"])
    path = m.mountpoint / "big.bin"
    child, go = start_paused_read(path, 16 * MIB, tmp_path)
    # In parallel mode: the first ranges (from 256 KiB) were served already.
    assert mount_stats(m.mountpoint)["parallel_ranges"] > 0
    patch = b"W" * MIB
    w = pycall("fd = os.open(path, os.O_WRONLY)\nos.pwrite(fd, b'W' * n, off)\nos.close(fd)",
               timeout=180, path=path, n=len(patch), off=40 * MIB)
    assert w.errno is None, w.error
    go.touch()
    r = child.finish(180)
    assert r.errno is None, r.error
    want = data[:40 * MIB] + patch + data[41 * MIB:]
    assert r.result["err"] is None, os.strerror(r.result["err"])
    assert r.result["sha256"] == sha(want) and r.result["size"] == len(want)
    assert (srv.root_dir / "big.bin").read_bytes() == want
    s = mount_stats(m.mountpoint)
    assert s["parallel_fallbacks"] >= 1  # the ranges were dropped for the write
    assert s["parallel_stale"] == 0


def test_server_connection_limit_falls_back_to_one_stream(ftp_server, mounted):
    srv = ftp_server("vsftpd", extra={"max_per_ip": 2})
    data = put_big(srv, seed=7)
    m = mounted(srv, options=["parallel_reads=4"])
    r = read_all(m.mountpoint / "big.bin")
    assert r == {"size": len(data), "sha256": sha(data)}
    s = mount_stats(m.mountpoint)
    assert s["parallel_fallbacks"] >= 1
    assert "pool shrunk" in m.log_text()


# Read several files at once, each whole: {name: sha256}.
READ_CONCURRENTLY = """
    import threading
    out, errs = {}, []
    def one(name):
        try:
            h = hashlib.sha256()
            with open(os.path.join(d, name), "rb", buffering=0) as f:
                while b := f.read(MIB):
                    h.update(b)
            out[name] = h.hexdigest()
        except OSError as e:
            errs.append(f"{name}: {e}")
    threads = [threading.Thread(target=one, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errs:
        raise OSError(5, "; ".join(errs))
    result = out
"""


def test_big_files_read_at_once_share_the_connections(ftp_server, mounted):
    """Three big files read at the same time with fewer connections than they would take
    (max_conns=4: 3 for transfers): ranges wait for connections or files read with one stream,
    and every file is exact."""
    srv = ftp_server("vsftpd")
    files = {f"b{i}.bin": put_big(srv, f"b{i}.bin", seed=10 + i) for i in range(3)}
    m = mounted(srv, options=["parallel_reads=4", "max_conns=4"])
    r = pycall(READ_CONCURRENTLY, timeout=300, d=m.mountpoint, names=sorted(files), MIB=MIB)
    assert r.errno is None, r.error
    assert r.result == {name: sha(data) for name, data in files.items()}
    s = mount_stats(m.mountpoint)
    assert s["parallel_ranges"] > 0 and s["parallel_stale"] == 0
    assert s["connections_lost"] == 0


def cut_ranges(data, times):
    """A RETR hook for the fake server: the first `times` ranged RETRs (REST past the first
    4 MiB) at one offset send 1 MiB of wrong bytes (the file's first MiB: served, they would
    show in the sha256), then cut the data connection without a TLS close and answer 426.
    Returns (hook, {offset: RETRs cut there})."""
    lock, cut = threading.Lock(), {}

    def hook(session, arg):
        rest = session.rest
        with lock:
            victim = next(iter(cut), rest)
            mine = rest > 4 * MIB and rest == victim and cut.get(rest, 0) < times
            if mine:
                cut[rest] = cut.get(rest, 0) + 1
        if not mine:
            return DEFAULT
        session.take_rest()
        session.transfer(data[:MIB], clean=False,
                         final=(426, "Connection closed; transfer aborted."))
        return None

    return hook, cut


def test_cut_range_is_fetched_again_and_never_mixed(fake_server, fake_mount):
    data = payload(BIG, 21)
    srv = fake_server(files={"/big.bin": data})
    hook, cut = cut_ranges(data, 1)
    srv.on("RETR", hook)
    m = fake_mount(srv, "parallel_reads=4")
    r = read_all(m.mountpoint / "big.bin")
    assert r == {"size": len(data), "sha256": sha(data)}
    assert sum(cut.values()) == 1
    s = mount_stats(m.mountpoint)
    assert s["parallel_retries"] == 1
    assert s["parallel_fallbacks"] == 0 and s["parallel_stale"] == 0
    assert s["parallel_ranges"] >= 5


def test_range_cut_every_time_falls_back_to_one_stream_exactly(fake_server, fake_mount):
    """Cut three times at one offset: the range is fetched again twice (PR_RANGE_RETRIES),
    then the reader goes on with its one stream from there (the fourth RETR at that offset
    is served) - and the bytes are exact."""
    data = payload(BIG, 22)
    srv = fake_server(files={"/big.bin": data})
    hook, cut = cut_ranges(data, 3)
    srv.on("RETR", hook)
    m = fake_mount(srv, "parallel_reads=4")
    r = read_all(m.mountpoint / "big.bin")
    assert r == {"size": len(data), "sha256": sha(data)}
    assert list(cut.values()) == [3]
    s = mount_stats(m.mountpoint)
    assert s["parallel_retries"] == 2
    assert s["parallel_fallbacks"] == 1 and s["parallel_stale"] == 0


@pytest.mark.parametrize("kind", KINDS)
def test_file_replaced_between_listing_and_read_is_one_version(ftp_server, mounted, kind):
    """The mount listed the file (size and time cached), then the server got a new version of
    the same size (another MDTM) before the read: what is read is one version whole - the new
    one, as the server has only that (the ranges hold every range to the size and time the
    first one saw) - or the read fails with EIO; never a mix."""
    srv = ftp_server(kind)
    old = put_big(srv, seed=31)
    new = payload(len(old), 32)
    m = mounted(srv, options=["parallel_reads=4"])
    assert os.stat(m.mountpoint / "big.bin").st_size == len(old)  # listed and cached
    replace_on_server(srv, "big.bin", new, 100)
    r = pycall(READ_ALL, timeout=180, path=m.mountpoint / "big.bin", chunk=MIB)
    if r.errno is None:
        assert r.result == {"size": len(new), "sha256": sha(new)}, "not the new version whole"
    else:
        assert r.errno == 5, r.error  # EIO
    s = mount_stats(m.mountpoint)
    assert s["parallel_ranges"] > 0 or s["parallel_fallbacks"] > 0
