"""Stress through real mounts: our randomized exerciser (tests/tools/fsx.py) and dbench, on vsftpd
(require_ssl_reuse=YES) and ProFTPD (session reuse required; under concurrent transfers it
sometimes refuses EPSV with "425 EPSV: Address already in use"), alone and in parallel.

What the tests hold ftpsfs to: every read returns what the exerciser's model of the file says,
and after every close the server holds exactly the model's bytes (fsx.py checks both); dbench
finishes without a single failed call and leaves no file on the server after its cleanup.

The sizes here are bounded for CI (each test well under a minute on an idle machine);
tests/stress.sh runs the same tests longer, through these variables:
  FTPSFS_STRESS_FSX_OPS         operations of a single exerciser run (default 3000)
  FTPSFS_STRESS_PARALLEL        exercisers at once on one mount, one file each (default 6)
  FTPSFS_STRESS_PARALLEL_OPS    operations of each of them (default 1000)
  FTPSFS_STRESS_DBENCH_SECONDS  dbench's run time, -t (default 30)
  FTPSFS_STRESS_SEED            base of the exercisers' seeds (default: random; a failure
                                says how to replay it)
"""

import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from mount import REPO_ROOT, Mount, default_binary  # noqa: E402
from workspace import _cell_id  # noqa: E402
from writehelpers import TOOL_ENV, wait_for  # noqa: E402

FSX = REPO_ROOT / "tests" / "tools" / "fsx.py"
DBENCH = "/usr/bin/dbench"
DBENCH_LOADFILE = "/usr/share/dbench/client.txt"  # Debian's dbench package


def _env_int(name, default):
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


FSX_OPS = _env_int("FTPSFS_STRESS_FSX_OPS", 3000)
PARALLEL = _env_int("FTPSFS_STRESS_PARALLEL", 6)
PARALLEL_OPS = _env_int("FTPSFS_STRESS_PARALLEL_OPS", 1000)
DBENCH_SECONDS = _env_int("FTPSFS_STRESS_DBENCH_SECONDS", 30)
BASE_SEED = _env_int("FTPSFS_STRESS_SEED", random.SystemRandom().randrange(1, 1 << 30))

# An exerciser operation that takes longer than this is a hang (fsx.py reports it, exit 3).
FSX_OP_TIMEOUT = 60

STRESS_SERVERS = [("vsftpd", "1.3"), ("proftpd", "1.3")]
on_stress_servers = pytest.mark.parametrize("w", STRESS_SERVERS, indirect=True, ids=_cell_id)
on_vsftpd = pytest.mark.parametrize("w", [("vsftpd", "1.3")], indirect=True, ids=_cell_id)

# Shown on an unprivileged user's files (allow_other mounts).
NOBODY = 65534


def seed_for(*parts):
    """A seed of its own for each exerciser run, derived from BASE_SEED."""
    return (BASE_SEED + zlib.crc32("/".join(map(str, parts)).encode())) % (1 << 31)


def log_excerpt(m, lines=40):
    """The end of what a mount logged beyond debug chatter: its warnings and errors and the
    server's 4xx/5xx replies (dbench probes missing names: 550s are normal)."""
    if m is None:
        return ""
    pick = re.compile(r"ftpsfs (error|warning|info):|: < [45]\d\d ")
    hits = [l for l in m.log_text().splitlines() if pick.search(l)]
    return (f"\nftpsfs log {m.log_path}, last {min(lines, len(hits))} warnings/errors/4xx/5xx:\n"
            + "\n".join(hits[-lines:]))


def _as_user(uid):
    """Popen arguments that run a child as `uid` (its own group, no supplementary groups)."""
    return {} if uid is None else {"user": uid, "group": uid, "extra_groups": []}


# --- the exerciser ----------------------------------------------------------------------------

class Fsx:
    """One fsx.py process on files `names` of a mount (mnt), checked against sdir."""

    def __init__(self, mnt, sdir, names, seed, ops, *args, uid=None):
        self.seed, self.ops = seed, ops
        self.cmd = [sys.executable, str(FSX), "-N", str(ops), "--seed", str(seed),
                    "--op-timeout", str(FSX_OP_TIMEOUT), *args]
        self.cmd += [str(Path(mnt) / n) for n in names]
        for n in names:
            self.cmd += ["--server", str(Path(sdir) / n)]
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, cwd="/", env=TOOL_ENV, **_as_user(uid))
        self.out = self.err = None

    def finish(self, timeout):
        """Wait for the end; returns the exit status (None: no end within `timeout`)."""
        try:
            self.out, self.err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.out, self.err = self.proc.communicate()
            self.err += f"\n(no end after {timeout} s: killed)"
            return None
        return self.proc.returncode

    def describe(self):
        return (f"$ {' '.join(self.cmd)}\nexit {self.proc.returncode}\n"
                f"{self.out.strip()}\n{self.err.strip()}")


def fsx_timeout(ops):
    """Seconds a run of `ops` operations may take in all (a hang is caught sooner by
    --op-timeout): generous for a loaded machine and the sanitizer build."""
    return 120 + ops // 2


def run_fsx(w, runs, mnt=None, uid=None):
    """Run fsx.py processes at once on workspace w's mount: `runs` is a list of
    (names, seed, ops, args). Fails the test, with every failing run's report, the mount's log
    excerpt and how to replay, unless all pass."""
    mnt = mnt or w.mnt
    procs = [Fsx(mnt, w.sdir, names, seed, ops, *args, uid=uid)
             for names, seed, ops, args in runs]
    for p in procs:
        p.finish(fsx_timeout(p.ops))
    bad = [p for p in procs if p.proc.returncode != 0]
    if bad:
        pytest.fail(f"{len(bad)} of {len(procs)} exerciser runs failed "
                    f"(FTPSFS_STRESS_SEED={BASE_SEED} replays this test):\n\n"
                    + "\n\n".join(p.describe() for p in bad) + log_excerpt(w.m), pytrace=False)
    return procs


@on_stress_servers
@pytest.mark.parametrize("mmap", [True, False], ids=["mmap", "no-mmap"])
def test_fsx_single_run_matches_model_and_server(w, mmap):
    w.mount()
    run_fsx(w, [(["f"], seed_for(w.kind, "single", mmap), FSX_OPS,
                 [] if mmap else ["--no-mmap"])])


@on_stress_servers
def test_fsx_parallel_runs_on_separate_files(w):
    # Several processes, each with its files open, reopened, mapped and uploaded at once:
    # more transfers than the pool's connections, parked and taken back, and (ProFTPD)
    # refused EPSVs under concurrent transfers.
    w.mount()
    run_fsx(w, [([f"p{i}"], seed_for(w.kind, "parallel", i), PARALLEL_OPS, [])
                for i in range(PARALLEL)])


@on_stress_servers
def test_fsx_several_files_in_one_process(w):
    # Three files open at once in one process, operations interleaved between them.
    w.mount()
    run_fsx(w, [(["a", "b", "c"], seed_for(w.kind, "three"), FSX_OPS, [])])


@pytest.fixture
def public_mount(w, tmp_path):
    """Factory: public_mount(*options) -> mount point of w's directory that every user can
    reach (pytest's own tmp dir is 0700), mounted by root with allow_other, files shown as
    owned by nobody. Unmounted before w's teardown removes the directory."""
    made = []

    def make(*options):
        w.user.chown_tree(w.sdir)
        top = Path(tempfile.mkdtemp(prefix="ftpsfs-stress-mnt-"))
        top.chmod(0o755)
        m = Mount(default_binary(), w.server.url(f"/{w.name}/"), top / "mnt",
                  w.user.password, options=["allow_other", f"uid={NOBODY}", f"gid={NOBODY}",
                                            *options],
                  cafile=w.server.certs.ca_file, log_path=tmp_path / f"public{len(made)}.log")
        made.append((m, top))
        w.m, w.mnt = m, m.mountpoint  # failure messages quote this mount's log
        return m.start().mountpoint

    yield make
    for m, top in made:
        m.stop()
    for m, top in made:
        subprocess.run(["rm", "-rf", "--one-file-system", str(top)], check=False)


@on_vsftpd
def test_fsx_parallel_as_unprivileged_user_on_allow_other_mount(w, public_mount):
    mnt = public_mount()
    run_fsx(w, [([f"u{i}"], seed_for(w.kind, "nobody", i), PARALLEL_OPS // 2, [])
                for i in range(2)], mnt=mnt, uid=NOBODY)


@on_vsftpd
def test_fsx_reports_a_corrupted_server_file(w):
    # The exerciser's own check must be able to fail: it stops after its first close, the
    # server's copy gets one byte changed behind the mount's back, and the check that follows
    # must say so.
    mnt = w.mount()
    p = Fsx(mnt, w.sdir, ["f"], 1, 200, "--ops-kinds", "write,reopen", "--open-modes", "rw",
            "--pause-after-close", "1")
    try:
        assert wait_for(lambda: _stopped(p.proc.pid), timeout=60), "fsx.py never paused"
        server = w.sdir / "f"
        data = bytearray(server.read_bytes())
        assert data, "the first close left an empty file: pick another seed"
        at = len(data) // 2
        data[at] ^= 0xFF
        server.write_bytes(bytes(data))
    except BaseException:
        p.proc.kill()
        p.proc.communicate()
        raise
    os.kill(p.proc.pid, signal.SIGCONT)
    assert p.finish(120) == 1, p.describe()
    # Whichever check comes first sees it: the read back through the mount (if the mount
    # reads the server's copy again) or the comparison with the server's copy.
    assert "FAILED (seed 1)" in p.err, p.describe()
    assert re.search(r"(server's copy|read back through the mount) \(after the close", p.err), \
        p.describe()
    assert f"first difference at 0x{at:x}" in p.err, p.describe()
    assert "replay: " in p.err and "--seed 1" in p.err, p.describe()


def test_fsx_compares_the_server_copy_itself(tmp_path):
    # No mount: the "mount" file is local and the "server" file a hard link to it, until the
    # pause replaces the link by a copy with one byte changed. The read back of the file
    # passes, so only the comparison with the server's copy can report it.
    (tmp_path / "m").mkdir()
    (tmp_path / "s").mkdir()
    f, server = tmp_path / "m" / "f", tmp_path / "s" / "f"
    f.write_bytes(b"")
    os.link(f, server)
    p = Fsx(f.parent, server.parent, ["f"], 1, 200, "--ops-kinds", "write,reopen",
            "--open-modes", "rw", "--pause-after-close", "1")
    if not wait_for(lambda: _stopped(p.proc.pid), timeout=30):
        p.proc.kill()
        p.proc.communicate()
        pytest.fail("fsx.py never paused")
    data = bytearray(f.read_bytes())
    data[len(data) // 2] ^= 0xFF
    (tmp_path / "s" / "new").write_bytes(bytes(data))
    os.replace(tmp_path / "s" / "new", server)
    os.kill(p.proc.pid, signal.SIGCONT)
    assert p.finish(60) == 1, p.describe()
    assert "server's copy (after the close of op #" in p.err, p.describe()
    assert f"first difference at 0x{len(data) // 2:x}" in p.err, p.describe()


def _stopped(pid):
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rpartition(")")[2].split()[0] == "T"


# --- dbench -----------------------------------------------------------------------------------

# What dbench 4.0 prints when a call fails or a client dies ("[3] open ... failed for handle
# 16385 (No such file or directory)", "(4) ERROR: handle 16385 was not found", "[5] unlink ...
# failed (...) - expected ...", "Child failed with status 1", ...).
DBENCH_ERROR_RE = re.compile(r"^\[\d+\] |ERROR|[Ff]ailed|FAILED|Unknown operation|Badly formed|"
                             r"file table full|error opening|kidding")
# Not about the file system: System V semaphores exhausted on the machine (dbench then starts
# its clients without the barrier).
DBENCH_BENIGN_RE = re.compile(r"failed to (create|use) (the )?barrier semaphore")


def dbench_problems(res):
    """Why a dbench run counts as failed: its error lines, a non-zero exit, no result line."""
    out = res.stdout + res.stderr
    problems = sorted({line.strip() for line in out.splitlines()
                       if DBENCH_ERROR_RE.search(line) and not DBENCH_BENIGN_RE.search(line)})
    if res.returncode is None:
        problems.append("no end within its time limit (a hang): killed")
    elif res.returncode != 0:
        problems.append(f"exit status {res.returncode}")
    if "Throughput" not in out:
        problems.append("no Throughput line: dbench did not finish its run")
    return problems


def run_dbench(mnt, clients, seconds, uid=None):
    """dbench with `clients` clients for `seconds` in `mnt`: a CompletedProcess whose
    returncode is None if it did not end in time (then it and its clients were killed)."""
    if not os.access(DBENCH, os.X_OK) or not os.path.exists(DBENCH_LOADFILE):
        pytest.fail(f"{DBENCH} or {DBENCH_LOADFILE} missing: run tests/deps.sh", pytrace=False)
    cmd = [DBENCH, "-t", str(seconds), "-c", DBENCH_LOADFILE, "-D", str(mnt), str(clients)]
    limit = 2 * seconds + 120  # its cleanup deletes everything it made: allow for that
    with tempfile.TemporaryFile() as out:
        # Its own session, and output to a file rather than a pipe: when a client fails,
        # dbench 4.0 exits at once, but its other clients, no longer told when to stop, go
        # on through the loadfile. They are killed with the session as soon as dbench ends.
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd="/",
                                env=TOOL_ENV, start_new_session=True, **_as_user(uid))
        try:
            rc = proc.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            rc = None
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        out.seek(0)
        text = out.read().decode(errors="replace")
    if rc is None:
        text += f"\n(no end after {limit} s: dbench and its clients killed)"
    return subprocess.CompletedProcess(cmd, rc, text, "")


def expect_dbench_clean(w, res, clients):
    problems = dbench_problems(res)
    left = sorted(str(p.relative_to(w.sdir)) for p in w.sdir.rglob("*") if p.is_file())
    if left:  # dbench's cleanup deletes every file it made
        problems.append(f"{len(left)} files left on the server after dbench's cleanup: "
                        f"{left[:10]}")
    if problems:
        out = res.stdout + res.stderr
        errors = [l for l in out.splitlines() if DBENCH_ERROR_RE.search(l)]
        pytest.fail(f"dbench with {clients} clients on {w.kind}:\n  " + "\n  ".join(problems[:30])
                    + "\ndbench's first error lines:\n" + "\n".join(errors[:20])
                    + log_excerpt(w.m), pytrace=False)


@on_stress_servers
@pytest.mark.parametrize("clients", [2, 4], ids=["2clients", "4clients"])
def test_dbench_runs_without_errors(w, clients):
    mnt = w.mount()
    res = run_dbench(mnt, clients, DBENCH_SECONDS)
    expect_dbench_clean(w, res, clients)
    print(next((l for l in res.stdout.splitlines() if l.startswith("Throughput")), ""))


@on_vsftpd
def test_dbench_as_unprivileged_user_on_allow_other_mount(w, public_mount):
    mnt = public_mount()
    res = run_dbench(mnt, 2, max(DBENCH_SECONDS // 2, 5), uid=NOBODY)
    expect_dbench_clean(w, res, 2)


@on_vsftpd
def test_dbench_check_fails_when_dbench_reports_errors(w):
    # On a read-only mount every create fails: the check must see it.
    mnt = w.mount("ro")
    res = run_dbench(mnt, 2, 3)
    problems = dbench_problems(res)
    assert any("failed for handle" in p for p in problems), (problems, res.stdout)


# --- found by these runs ----------------------------------------------------------------------

def test_vsftpd_refusing_a_login_is_not_blamed_on_a_client_certificate(ftp_server, mounted):
    # vsftpd that cannot enter the user's directory answers PASS with "500 OOPS: cannot
    # change directory:..." in plain text on the TLS connection (seen when a test server's
    # root was gone). It asked for a client certificate during the handshake, as it always
    # does by default (ssl_request_cert=YES, optional), and then accepted the connection
    # without one (FEAT, USER got replies): the failure must not be blamed on a certificate
    # (main blamed it until 766e9a3).
    srv = ftp_server("vsftpd", extra={"local_root": "/nonexistent-ftpsfs-test"})
    with pytest.raises(RuntimeError) as failed:
        mounted(srv)
    error = [l for l in str(failed.value).splitlines() if "ftpsfs error:" in l]
    assert error, str(failed.value)
    assert "client certificate" not in error[-1], error[-1]
