"""Outages: the server goes away (every process of it killed) and comes back on the same port
while programs work on the mount.

By default a mount rides an outage out ("hard", bounded): an operation that finds the server
unreachable waits while the pool reconnects with back-off and carries on when the server
answers again; past the operation deadline (-o op_timeout, 4 x timeout) it fails with
ETIMEDOUT or EIO, and the log names the outage ("server unreachable"). An interrupt still ends a
waiting operation at once. -o soft keeps the old way: fail at once while the server is down.
The log says once that the server became unreachable and once that it is back ("server
reachable again after ..."); the statistics show server_state=up|down and count `outages`.
A command whose reply was lost with its control connection (DELE, RMD, MKD, RNFR/RNTO) is
checked against the server after the reconnect: work that was done is no error, and is not
done twice. A spooled change that cannot be uploaded within op_timeout stays in the spool.

The jobs (reading files, cp -r, rsync -a, dbench, reading through a flapping link) run in
child processes with hard time limits and report progress; the server is stopped once a job
is about a quarter through (observed, not guessed with a sleep), stays down OUTAGE seconds and
is started again. The job must finish without a single error, with exact data, and must have
needed the server while it was down (it was still running when the server came back, and the
mount counted an outage). Timings are asserted only as generous bounds: "did not hang",
"waited".
"""

import errno
import hashlib
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fakeserver import DEFAULT  # noqa: E402
from mount import Mount, default_binary, is_fuse_mounted  # noqa: E402
from fscall import errname, fs_call  # noqa: E402
from tcpproxy import PROXY_HOST, Proxy  # noqa: E402
from writehelpers import (TOOL_ENV, mount_stats, pycall, pystart, snapshot,  # noqa: E402
                          wait_for)

OUTAGE = 5          # seconds the server stays down in the job tests
FILES = 240         # files of a job
FILE_SIZE = 4096
JOB_LIMIT = 240     # a job that takes longer than this (outage included) hangs
# Every lookup, listing and open needs the server: a job cannot coast on the caches.
FRESH = ("attr_timeout=0", "dir_timeout=0", "negative_timeout=0")
BOTH_SERVERS = pytest.mark.parametrize("kind", ["vsftpd", "proftpd"])
WAITING_ERRNOS = (errno.ETIMEDOUT, errno.EIO)


def _sha(data):
    return hashlib.sha256(data).hexdigest()


def _content(i):
    return random.Random(f"outage-{i}").randbytes(FILE_SIZE)


# --- fixtures ----------------------------------------------------------------------------------

@pytest.fixture
def mount_of(ftp_server, certs, test_user, tmp_path):
    """Factory: mount_of(server, *options, host=None) -> started Mount of the server's root;
    `host` replaces 127.0.0.1 in the URL (the proxy). Depends on ftp_server so that teardown
    unmounts before the servers stop."""
    mounts = []

    def make(server, *options, host=None):
        url = server.url("/")
        if host:
            url = url.replace("127.0.0.1", host)
        opts = list(options)
        if server.name == "vsftpd":
            opts.append("ignore_dir_times")  # vsftpd cannot set directory times (rsync -a)
        m = Mount(default_binary(), url, tmp_path / f"mnt{len(mounts)}", test_user.password,
                  options=opts, cafile=certs.ca_file)
        mounts.append(m)
        return m.start()

    yield make
    for m in reversed(mounts):
        m.stop()


@pytest.fixture
def jobs(mount_of, tmp_path):
    """Factory: jobs(argv) -> a started Job; every job still running at teardown is killed
    (before the mounts go)."""
    started = []

    def make(argv, cwd="/"):
        job = Job(argv, tmp_path / f"job{len(started)}.out", cwd=cwd)
        started.append(job)
        return job

    yield make
    for job in started:
        job.kill()


# --- helpers -----------------------------------------------------------------------------------

class Job:
    """A program run on the mount in its own session; its output (stdout and stderr) goes to
    a file."""

    def __init__(self, argv, out_path, cwd="/"):
        self.argv = [str(a) for a in argv]
        self.out_path = out_path
        with open(out_path, "wb") as out:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, cwd=cwd, env=TOOL_ENV,
                                         start_new_session=True)

    def running(self):
        return self.proc.poll() is None

    def output(self):
        return self.out_path.read_text(errors="replace")

    def finish(self, m=None, timeout=JOB_LIMIT):
        """The exit status; fails the test if the job takes longer than `timeout` seconds."""
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"{self.argv[:3]}: no end after {timeout} s (hang)\n"
                        f"{self.output()[-2000:]}{log_tail(m)}", pytrace=False)
        self.kill()  # what it left running in its session (rsync's helpers)
        return rc

    def kill(self):
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass  # stuck in the file system: the mount's teardown ends it


def log_tail(m, lines=40):
    """The last warnings/errors of a mount's log (for failure messages)."""
    if m is None:
        return ""
    pick = re.compile(r"ftpsfs (error|warning|info):|server (un)?reachable")
    hits = [line for line in m.log_text().splitlines() if pick.search(line)]
    return f"\nftpsfs log {m.log_path}, last warnings/errors:\n" + "\n".join(hits[-lines:])



def wait_for_progress(job, progress, target, m, timeout=60):
    """Wait until progress() >= target while the job runs; fails the test if the job ends or
    does not get there in time. Returns the progress seen."""
    deadline = time.monotonic() + timeout
    while True:
        done = progress()
        if done >= target:
            return done
        if not job.running():
            pytest.fail(f"the job ended (exit {job.proc.returncode}) after {done} files, "
                        f"before the outage:\n{job.output()[-2000:]}{log_tail(m)}",
                        pytrace=False)
        if time.monotonic() > deadline:
            pytest.fail(f"the job did only {done} files in {timeout} s{log_tail(m)}",
                        pytrace=False)
        time.sleep(0.01)


def outage_during(job, srv, progress, m, target=FILES // 4, seconds=OUTAGE):
    """Once the job has done `target` files: stop the server, keep it down `seconds`, start it
    again (same port). Fails the test if the job ended while the server was down. Returns the
    progress (when the server was stopped, when it was started again)."""
    wait_for_progress(job, progress, target, m)
    srv.stop()
    at_stop = progress()
    time.sleep(seconds)
    at_start = progress()
    still_running = job.running()
    srv.start()
    assert still_running, (f"the job ended while the server was down (exit "
                           f"{job.proc.returncode}, {at_start} files done):\n"
                           f"{job.output()[-2000:]}{log_tail(m)}")
    return at_stop, at_start


def assert_outage_ridden_out(m, outages=None):
    """The mount saw the server go and come back: its log says both, the statistics count the
    outage and say the server is up."""
    log = m.log_text()
    assert "server unreachable" in log, log_tail(m)
    assert "server reachable again after" in log, log_tail(m)
    s = mount_stats(m.mountpoint)
    assert s.get("server_state") == "up", s
    if outages is None:
        assert s.get("outages", 0) >= 1, s
    else:
        assert s.get("outages") == outages, s


def make_tree(base, count=FILES, dirs=4):
    """`count` files of FILE_SIZE random bytes in `dirs` directories below `base`."""
    for i in range(count):
        p = base / f"d{i % dirs}" / f"f{i:03d}.bin"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(_content(i))
    return base


def count_files(base, hidden=False):
    """Regular files below `base` (names starting with "." only if `hidden`)."""
    n = 0
    for _, _, names in os.walk(base):
        n += sum(1 for name in names if hidden or not name.startswith("."))
    return n


# Reads files f000.bin ... of directory d one by one, `pause` seconds apart; one line per file
# to `out` (flushed at once, the test watches the count): "NAME SHA256" or "NAME error ERRNO".
READER = textwrap.dedent("""
    import hashlib, os, sys, time
    d, out, count, pause = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    with open(out, "a", buffering=1) as log:
        for i in range(count):
            name = f"f{i:03d}.bin"
            try:
                with open(os.path.join(d, name), "rb") as f:
                    line = hashlib.sha256(f.read()).hexdigest()
            except OSError as e:
                line = f"error {e.errno} {e.strerror}"
            log.write(f"{name} {line}\\n")
            time.sleep(pause)
""")


def start_reader(jobs, d, out, count=FILES, pause=0.01):
    return jobs([sys.executable, "-c", READER, d, out, count, pause])


def lines_of(path):
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def reader_results(out):
    """{name: sha256 or "error ..."} from a READER's output file."""
    return dict(line.split(" ", 1) for line in out.read_text().splitlines())


def put_flat(srv, count=FILES, sub="r"):
    for i in range(count):
        srv.put(f"{sub}/f{i:03d}.bin", _content(i))


def expected_flat(count=FILES):
    return {f"f{i:03d}.bin": _sha(_content(i)) for i in range(count)}


# --- jobs through an outage ---------------------------------------------------------------------

@BOTH_SERVERS
def test_reading_files_rides_out_an_outage(ftp_server, mount_of, jobs, tmp_path, kind):
    srv = ftp_server(kind)
    put_flat(srv)
    m = mount_of(srv, *FRESH)
    out = tmp_path / "read.out"
    job = start_reader(jobs, m.mountpoint / "r", out)
    at_stop, at_start = outage_during(job, srv, lambda: lines_of(out), m)
    rc = job.finish(m)
    assert rc == 0, job.output()[-2000:]
    got = reader_results(out)
    errors = {n: r for n, r in got.items() if r.startswith("error")}
    assert not errors, f"{len(errors)} reads failed, e.g. {list(errors.items())[:5]}" + \
        log_tail(m)
    assert got == expected_flat()
    # It waited: no file could be read while the server was down (one may have been on its
    # way already).
    assert at_start - at_stop <= 1, (at_stop, at_start)
    assert_outage_ridden_out(m)


@BOTH_SERVERS
def test_cp_r_onto_the_mount_rides_out_an_outage(ftp_server, mount_of, jobs, tmp_path, kind):
    srv = ftp_server(kind)
    src = make_tree(tmp_path / "src")
    m = mount_of(srv, *FRESH)
    job = jobs(["cp", "-r", src, m.mountpoint / "copy"])
    outage_during(job, srv, lambda: count_files(srv.root_dir / "copy"), m)
    rc = job.finish(m)
    assert rc == 0, job.output()[-2000:] + log_tail(m)
    assert job.output() == ""
    # Every file exact, nothing more (no temporary or half file left behind).
    assert (snapshot(srv.root_dir / "copy", modes=False, mtimes=False)
            == snapshot(src, modes=False, mtimes=False))
    assert_outage_ridden_out(m)


@BOTH_SERVERS
def test_rsync_onto_the_mount_rides_out_an_outage(ftp_server, mount_of, jobs, tmp_path, kind):
    if shutil.which("rsync") is None:
        pytest.skip("rsync is not installed (tests/deps.sh installs it)")
    srv = ftp_server(kind)
    src = make_tree(tmp_path / "src")
    m = mount_of(srv, *FRESH)
    job = jobs(["rsync", "-a", f"{src}/", f"{m.mountpoint}/dst/"])
    # rsync writes each file under a temporary name (.NAME.XXXXXX) and renames it when done.
    outage_during(job, srv, lambda: count_files(srv.root_dir / "dst"), m)
    rc = job.finish(m)
    assert rc == 0, job.output()[-2000:] + log_tail(m)
    # Content, modes and file times; no rsync temporary file left behind.
    assert snapshot(srv.root_dir / "dst") == snapshot(src)
    assert_outage_ridden_out(m)


def test_dbench_rides_out_an_outage(ftp_server, mount_of, jobs):
    from test_stress import DBENCH, DBENCH_ERROR_RE, DBENCH_LOADFILE, dbench_problems
    if not os.access(DBENCH, os.X_OK) or not os.path.exists(DBENCH_LOADFILE):
        pytest.fail(f"{DBENCH} or {DBENCH_LOADFILE} missing: run tests/deps.sh", pytrace=False)
    srv = ftp_server("vsftpd")
    m = mount_of(srv)
    seconds = 20
    job = jobs([DBENCH, "-t", seconds, "-c", DBENCH_LOADFILE, "-D", m.mountpoint, 2])
    # dbench prints a line a second: "... warmup N sec ..." and then "... execute N sec ...".
    executing = re.compile(r"execute\s+(\d+) sec")

    def seconds_run():
        found = executing.findall(job.output())
        return int(found[-1]) if found else 0

    outage_during(job, srv, seconds_run, m, target=5)
    rc = job.finish(m, timeout=2 * seconds + 180)
    res = subprocess.CompletedProcess(job.argv, rc, job.output(), "")
    problems = dbench_problems(res)
    left = [str(p.relative_to(srv.root_dir)) for p in srv.root_dir.rglob("*") if p.is_file()]
    if left:  # its cleanup deletes every file it made
        problems.append(f"{len(left)} files left on the server after its cleanup: {left[:10]}")
    errors = [line for line in res.stdout.splitlines() if DBENCH_ERROR_RE.search(line)]
    assert not problems, ("\n".join(problems[:30]) + "\ndbench's first error lines:\n"
                          + "\n".join(errors[:20]) + log_tail(m))
    assert_outage_ridden_out(m)


def test_reading_through_a_flapping_link_gets_exact_data(ftp_server, mount_of, jobs, tmp_path):
    # Random connections (control and data) are reset several times a second while a program
    # reads 300 files: every read succeeds with the file's bytes. (The caches stay on: through
    # the proxy every round trip is slow, and the resets are what this test is about.)
    srv = ftp_server("vsftpd")
    count = 300
    put_flat(srv, count)
    px = Proxy(srv.port, srv.pasv_range).start()
    try:
        m = mount_of(srv, "timeout=3", "connect_timeout=3", host=PROXY_HOST)
        out = tmp_path / "read.out"
        job = start_reader(jobs, m.mountpoint / "r", out, count=count, pause=0)
        stop, resets = threading.Event(), []

        def flap():
            rnd = random.Random(8)
            while not stop.wait(rnd.uniform(0.1, 0.35)):
                links = px.links("control") + px.links("data")
                if links:
                    link = rnd.choice(links)
                    link.close(reset=True)
                    resets.append(link.kind)

        flapper = threading.Thread(target=flap)
        flapper.start()
        start = time.monotonic()
        try:
            rc = job.finish(m, timeout=150)
        finally:
            stop.set()
            flapper.join()
        took = time.monotonic() - start
        assert rc == 0, job.output()[-2000:]
        got = reader_results(out)
        errors = {n: r for n, r in got.items() if r.startswith("error")}
        assert not errors, (f"{len(errors)} of {count} reads failed ({len(resets)} resets), "
                            f"e.g. {list(errors.items())[:5]}" + log_tail(m))
        assert got == expected_flat(count)
        assert len(resets) >= 5, resets  # the link did flap during the job
        print(f"{len(resets)} resets ({resets.count('control')} control) during the job "
              f"of {took:.1f} s")
    finally:
        px.stop()


# --- past op_timeout, soft mounts, interrupts ---------------------------------------------------

def _wait_until_readable(m, name, data, limit=25):
    """Read `name` again and again until it gives `data` (at most `limit` seconds); the last
    FsCall."""
    deadline = time.monotonic() + limit
    while True:
        r = fs_call("read", m.mountpoint / name, limit=60)
        if r.sha256 == _sha(data) or time.monotonic() > deadline:
            return r
        time.sleep(0.5)


def test_outage_longer_than_op_timeout_fails_the_operation_then_recovers(ftp_server,
                                                                           mount_of):
    srv = ftp_server("vsftpd")
    srv.put("a.txt", b"hello\n")
    srv.put("b.txt", b"bee\n")
    op_timeout = 6
    m = mount_of(srv, "timeout=2", "connect_timeout=2", f"op_timeout={op_timeout}", *FRESH)
    assert fs_call("listdir", m.mountpoint).names == ["a.txt", "b.txt"]
    srv.stop()
    r = fs_call("read", m.mountpoint / "a.txt", limit=60)
    assert r.errno in WAITING_ERRNOS, errname(r)
    # It waited for the server (op_timeout), and not much longer (a read may be asked twice).
    assert op_timeout * 0.8 <= r.elapsed < 20, r.elapsed
    assert "server unreachable" in m.log_text()
    s = mount_stats(m.mountpoint)
    assert s.get("server_state") == "down", s
    srv.start()
    start = time.monotonic()
    r = _wait_until_readable(m, "a.txt", b"hello\n")
    assert r.sha256 == _sha(b"hello\n"), errname(r) + log_tail(m)
    assert fs_call("read", m.mountpoint / "b.txt").sha256 == _sha(b"bee\n")
    print(f"readable again {time.monotonic() - start:.1f} s after the restart")
    assert_outage_ridden_out(m, outages=1)


def test_soft_mount_fails_at_once_while_the_server_is_down(ftp_server, mount_of):
    srv = ftp_server("vsftpd")
    srv.put("a.txt", b"hello\n")
    srv.put("d/b.txt", b"b\n")
    m = mount_of(srv, "soft", "timeout=3", "connect_timeout=3", *FRESH)
    assert fs_call("listdir", m.mountpoint).names == ["a.txt", "d"]
    srv.stop()
    for op, path in (("read", m.mountpoint / "a.txt"), ("listdir", m.mountpoint / "d")):
        r = fs_call(op, path, limit=60)
        assert r.errno in (errno.EIO, errno.ETIMEDOUT, errno.ECONNREFUSED), (op, errname(r))
        assert r.elapsed < 3, (op, r.elapsed)
    assert "server unreachable" in m.log_text()
    srv.start()
    r = _wait_until_readable(m, "a.txt", b"hello\n")
    assert r.sha256 == _sha(b"hello\n"), errname(r) + log_tail(m)
    assert fs_call("listdir", m.mountpoint / "d").names == ["b.txt"]


# Opens and reads `path`; prints "ok SHA256" or "error ERRNO".
READ_ONE = textwrap.dedent("""
    import hashlib, sys
    try:
        with open(sys.argv[1], "rb") as f:
            print("ok", hashlib.sha256(f.read()).hexdigest(), flush=True)
    except OSError as e:
        print("error", e.errno, flush=True)
""")


# What waits: a read (a lookup and an open first), and an unlink of a file whose lookup is
# cached (an interrupt may end only its wait for a connection, never cut DELE from its reply).
# Each first takes SIGINT back: a test run started in the background by a shell without job
# control inherits SIGINT ignored, and so would the waiter, which then never gets interrupted.
SIGINT_BACK = "import signal\nsignal.signal(signal.SIGINT, signal.default_int_handler)\n"
WAITERS = {"read": SIGINT_BACK + READ_ONE,
           "unlink": SIGINT_BACK + "import os, sys\nos.unlink(sys.argv[1])\n"}


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
@pytest.mark.parametrize("op", sorted(WAITERS))
def test_operation_waiting_for_the_server_is_interruptible(ftp_server, mount_of, op, sig):
    srv = ftp_server("vsftpd")
    srv.put("a.txt", b"hello\n")
    # op_timeout: the default, 120 s; the unlink's lookup must come from the cache.
    m = mount_of(srv, *(FRESH if op == "read" else ()))
    assert fs_call("listdir", m.mountpoint).names == ["a.txt"]
    assert fs_call("stat", m.mountpoint / "a.txt").size == 6
    srv.stop()
    child = subprocess.Popen([sys.executable, "-c", WAITERS[op], str(m.mountpoint / "a.txt")],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(2)
        assert child.poll() is None, (f"the {op} did not wait for the server: "
                                      f"{child.communicate()}" + log_tail(m))
        start = time.monotonic()
        child.send_signal(sig)
        try:
            child.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the {op} still waits 30 s after {sig.name}" + log_tail(m),
                        pytrace=False)
        took = time.monotonic() - start
        assert took < 5, f"{sig.name} ended the waiting {op} only after {took:.1f} s"
        assert child.returncode != 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=10)
    # The mount is alive and answers (its statistics) while the server is still down ...
    assert m.proc.poll() is None and is_fuse_mounted(m.mountpoint), log_tail(m)
    assert mount_stats(m.mountpoint).get("server_state") == "down"
    # ... and works again once the server is back.
    srv.start()
    r = fs_call("read", m.mountpoint / "a.txt", limit=60)
    assert r.sha256 == _sha(b"hello\n"), errname(r) + log_tail(m)


# --- statistics --------------------------------------------------------------------------------

def test_statistics_show_the_server_state_and_count_outages(ftp_server, mount_of):
    srv = ftp_server("vsftpd")
    srv.put("a.txt", b"hello\n")
    m = mount_of(srv, *FRESH)
    s = mount_stats(m.mountpoint)
    assert (s.get("server_state"), s.get("outages")) == ("up", 0), s
    srv.stop()
    reader = pystart("""
        with open(p, "rb") as f:
            result = hashlib.sha256(f.read()).hexdigest()
    """, p=m.mountpoint / "a.txt")
    try:
        deadline = time.monotonic() + 15
        while (s := mount_stats(m.mountpoint)).get("server_state") != "down":
            assert time.monotonic() < deadline, f"no server_state=down with the server down: {s}"
            time.sleep(0.2)
        assert s.get("outages") == 1, s
        time.sleep(1)
        srv.start()
        r = reader.finish(timeout=60)  # waited for the server, then read the file
        assert r.errno is None, r.error + log_tail(m)
        assert r.result == _sha(b"hello\n")
    finally:
        reader.kill()
    s = mount_stats(m.mountpoint)
    assert (s.get("server_state"), s.get("outages")) == ("up", 1), s
    log = m.log_text()
    assert log.count("server reachable again after") == 1, log_tail(m)
    # The warning is given once per outage, not once per waiting operation or retry.
    assert len(re.findall(r"warning: (\w+: )?server unreachable", log)) == 1, log_tail(m)


# --- writes ------------------------------------------------------------------------------------

# Changes a byte range of an existing file (a spooled change), tells the test (file
# `written`), waits for its go (file `go`), then closes.
SPOOLED_CHANGE = """
    stage = "open"
    fd = os.open(path, os.O_RDWR)
    stage = "write"
    os.pwrite(fd, patch.encode("latin-1"), offset)
    open(written, "w").close()
    stage = "wait"
    while not os.path.exists(go):
        time.sleep(0.05)
    stage = "close"
    t = time.monotonic()
    try:
        os.close(fd)
    finally:
        result = time.monotonic() - t
    stage = "done"
"""


def _spooled_change(m, tmp_path, name, patch, offset):
    written, go = tmp_path / "written", tmp_path / "go"
    child = pystart(SPOOLED_CHANGE, path=m.mountpoint / name, patch=patch.decode("latin-1"),
                    offset=offset, written=written, go=go)
    deadline = time.monotonic() + 60
    while not written.exists():
        if child.proc.poll() is not None or time.monotonic() > deadline:
            r = child.finish(timeout=10)
            pytest.fail(f"the change was not written: {r.error} at {r.stage}" + log_tail(m),
                        pytrace=False)
        time.sleep(0.05)
    return child, go


def test_spooled_change_is_uploaded_after_an_outage(ftp_server, mount_of, tmp_path):
    srv = ftp_server("vsftpd")
    old = random.Random(1).randbytes(300_000)
    srv.put("f.bin", old)
    m = mount_of(srv, *FRESH)
    patch = b"P" * 1000
    child, go = _spooled_change(m, tmp_path, "f.bin", patch, 100_000)
    try:
        srv.stop()
        go.touch()  # close() now needs the server
        time.sleep(OUTAGE)
        assert child.proc.poll() is None, "close() did not wait for the server"
        srv.start()
        r = child.finish(timeout=60)
    finally:
        child.kill()
    assert r.errno is None, f"{r.error} at {r.stage}" + log_tail(m)
    want = old[:100_000] + patch + old[101_000:]
    assert _sha((srv.root_dir / "f.bin").read_bytes()) == _sha(want)


def test_spooled_change_that_cannot_be_uploaded_stays_in_the_spool(ftp_server, mount_of,
                                                                   tmp_path):
    srv = ftp_server("vsftpd")
    old = random.Random(2).randbytes(200_000)
    srv.put("f.bin", old)
    spool = tmp_path / "spool"
    op_timeout = 6
    m = mount_of(srv, "timeout=2", "connect_timeout=2", f"op_timeout={op_timeout}",
                 f"spool_dir={spool}", *FRESH)
    patch = b"Q" * 500
    child, go = _spooled_change(m, tmp_path, "f.bin", patch, 5000)
    try:
        srv.stop()
        go.touch()
        r = child.finish(timeout=90)
    finally:
        child.kill()
    assert r.errno in WAITING_ERRNOS, f"close(): {r.errname} at {r.stage}"
    assert r.stage == "close"
    want = old[:5000] + patch + old[5500:]

    def kept():
        return [p for p in spool.rglob("*")
                if p.is_file() and _sha(p.read_bytes()) == _sha(want)]

    # The file may be given up only at its release, which comes after close() returned.
    found = wait_for(kept, timeout=op_timeout + 20, interval=0.2)
    assert found, (f"the changed content is not in the spool: "
                   f"{[(str(p), p.stat().st_size) for p in spool.rglob('*')]}" + log_tail(m))
    assert str(found[0]) in m.log_text(), "the log does not name the kept spool file" + \
        log_tail(m)
    srv.start()
    assert (srv.root_dir / "f.bin").read_bytes() == old  # the server's copy is untouched
    # close() waited for the server up to op_timeout (not just -o timeout) before giving up.
    assert op_timeout * 0.8 <= r.result < 60, (f"close() gave up after {r.result:.1f} s"
                                              + log_tail(m))


# No test that close() waiting for a down server is interruptible: the kernel sends FLUSH as a
# forced request (no FUSE_INTERRUPT, however the process is signalled), so close() waits until
# the server is back or op_timeout passes (test_spooled_change_that_cannot_be_uploaded_...).


# --- replies lost with the connection ----------------------------------------------------------

def lose_first_reply(srv, verb):
    """The first `verb` is carried out but its reply is lost: the control connection closes
    instead. Returns the list of the arguments that met this fate (one)."""
    lost = []

    def hook(session, arg):
        if lost:
            return DEFAULT
        lost.append(arg)
        session.apply_then_drop(verb, arg)

    srv.on(verb, hook)
    return lost


def test_unlink_whose_reply_was_lost_is_done_once_without_error(fake_server, fake_mount):
    srv = fake_server(files={"/a.txt": b"a\n", "/keep.txt": b"k\n"})
    lost = lose_first_reply(srv, "DELE")
    m = fake_mount(srv)
    r = pycall("os.unlink(p)", timeout=60, p=m.mountpoint / "a.txt")
    assert r.errno is None, r.error + log_tail(m)
    assert len(lost) == 1
    assert sorted(srv.files) == ["/keep.txt"]
    assert len(srv.commands("DELE")) <= 2, srv.commands("DELE")
    assert fs_call("listdir", m.mountpoint).names == ["keep.txt"]


def test_rmdir_whose_reply_was_lost_is_done_once_without_error(fake_server, fake_mount):
    srv = fake_server(files={"/keep.txt": b"k\n"}, dirs=["/d"])
    lost = lose_first_reply(srv, "RMD")
    m = fake_mount(srv)
    r = pycall("os.rmdir(p)", timeout=60, p=m.mountpoint / "d")
    assert r.errno is None, r.error + log_tail(m)
    assert len(lost) == 1
    assert "/d" not in srv.dirs
    assert len(srv.commands("RMD")) <= 2, srv.commands("RMD")
    assert fs_call("listdir", m.mountpoint).names == ["keep.txt"]


def test_mkdir_whose_reply_was_lost_is_done_once_without_error(fake_server, fake_mount):
    srv = fake_server(files={"/keep.txt": b"k\n"})
    lost = lose_first_reply(srv, "MKD")
    m = fake_mount(srv)
    r = pycall("os.mkdir(p)", timeout=60, p=m.mountpoint / "new")
    assert r.errno is None, r.error + log_tail(m)
    assert len(lost) == 1
    assert "/new" in srv.dirs
    assert len(srv.commands("MKD")) <= 2, srv.commands("MKD")
    assert fs_call("listdir", m.mountpoint).names == ["keep.txt", "new"]
    assert fs_call("listdir", m.mountpoint / "new").names == []


def test_rename_whose_reply_was_lost_is_done_once_without_error(fake_server, fake_mount):
    srv = fake_server(files={"/a.txt": b"moved\n", "/keep.txt": b"k\n"})
    lost = lose_first_reply(srv, "RNTO")
    m = fake_mount(srv)
    r = pycall("os.rename(a, b)", timeout=60, a=m.mountpoint / "a.txt",
               b=m.mountpoint / "b.txt")
    assert r.errno is None, r.error + log_tail(m)
    assert len(lost) == 1
    assert srv.files == {"/b.txt": b"moved\n", "/keep.txt": b"k\n"}
    assert len(srv.commands("RNTO")) <= 2, srv.commands("RNTO")
    assert fs_call("listdir", m.mountpoint).names == ["b.txt", "keep.txt"]
    assert fs_call("read", m.mountpoint / "b.txt").sha256 == _sha(b"moved\n")


def test_rename_over_a_file_whose_reply_was_lost_is_done_once(fake_server, fake_mount):
    # The target existed and was replaced: after the lost reply only the target is left,
    # with the source's content. The check after the reconnect must see the rename done (the
    # source gone, the target there) and report success, not ENOENT.
    srv = fake_server(files={"/a.txt": b"new\n", "/b.txt": b"old\n"})
    lost = lose_first_reply(srv, "RNTO")
    m = fake_mount(srv)
    r = pycall("os.rename(a, b)", timeout=60, a=m.mountpoint / "a.txt",
               b=m.mountpoint / "b.txt")
    assert r.errno is None, r.error + log_tail(m)
    assert len(lost) == 1
    assert srv.files == {"/b.txt": b"new\n"}
    assert fs_call("read", m.mountpoint / "b.txt").sha256 == _sha(b"new\n")
