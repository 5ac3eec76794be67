#!/usr/bin/python3
"""ftpsfs benchmark: ftpsfs vs curl vs rclone mount on loopback vsftpd (stdlib only).

Not a test: it prints medians, ratios, round trips and the issue's targets, measured in one
run with the clients interleaved, and never fails on a number. See bench/README.md.

    /usr/bin/python3 bench/bench.py [--quick] [--runs N] [--only W,...] [--ftpsfs PATH]
                                    [--json FILE] [--keep] [--delay-ms MS] [--step-limit S]
                                    [--size-mib M] [--cap-mbit R] [--list]
"""

import argparse
import contextlib
import itertools
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "integration"))
from mount import Mount, is_fuse_mounted  # noqa: E402
from servers import Certs, TestUser, Vsftpd, _bindable  # noqa: E402

MiB = 1 << 20
SMALL_SIZE = 4096
PROXY_HOST = "127.0.0.2"   # bench/delayproxy.py listens here; the test certificate names it
DIRECT_HOST = "127.0.0.1"
# curl 7.88 tuned for many files on one connection (untuned, 500 small files took 1-2 min):
# with EPSV it often stalls 1 s before the data connection (PASV with the control connection's
# address does not), and before each RETR it sends SIZE, whose reply comes ~200 ms late.
# --ftp-skip-pasv-ip also keeps curl's data connections on the proxy's address.
CURL_BASE = ["--disable-epsv", "--ftp-skip-pasv-ip"]
CURL_GET = ["--ignore-content-length", "-o", "/dev/null"]
# Logging off: it's a benchmark. force_dot_files: rclone's plain LIST must see dot files, or
# rsync's temporary files (.name.XXXXXX) vanish after upload ("object not found").
SERVER_OPTS = {"log_ftp_protocol": "NO", "debug_ssl": "NO", "force_dot_files": "YES"}
STATS_XATTR = "user.ftpsfs.stats"

# Sizes: (full, --quick)
SIZES = {
    "big_mib": (1024, 64),        # sequential write/read
    "tree_dirs": (100, 10),       # the tree: dirs x 100 files (find, ls -lR)
    "tree_files": (100, 100),
    "small": (1000, 300),         # cat, cp -r (4 KiB files)
    "huge": (100_000, 10_000),    # one big directory
    "huge4": (400_000, 40_000),   # bigger ones: memory (workload "huge-mem")
    "huge10": (1_000_000, 100_000),
    "meta": (1000, 300),          # stat of many files of one directory
    "rsync": (200, 100),          # rsync -a tree (10 dirs)
    "rtt_small": (100, 20),       # cat, cp -r, rsync -a at 20 ms RTT
    "rtt_read_mib": (256, 32),    # sequential read at 20 ms RTT
    "capped_mib": (256, 64),      # read at 20 ms RTT, each connection capped (big-capped)
    "rand_reads": (2000, 300),    # random 4 KiB reads: at most this many ...
    "rand_secs": (5, 2),          # ... or this many seconds
    "curl_files": (200, 100),     # curl's share of cat and cp -r (files/s: a rate)
    "curl_ranges": (10, 3),       # curl's random reads (one process, --next; 1-2 s each)
}


class Row:
    """One printed line. unit: s, ms, MiB/s, files/s, IOPS, MiB, files. target: None,
    ("rclone"|"curl", op, x) on the ratio ftpsfs/other, or ("abs", op, x) on every ftpsfs
    value (("wb", op, x): on the write-back column's); rt_target the same on the round-trip
    count, or ("item", op, x) on the synchronous ftpsfs columns' count per item. items:
    operations in the row (for round trips per item)."""

    def __init__(self, key, label, unit, target=None, rt_target=None, items=1):
        self.key, self.label, self.unit = key, label, unit
        self.target, self.rt_target, self.items = target, rt_target, items


def default_target(unit):
    """The issue's blanket loopback target: every workload at least as fast as rclone."""
    return ("rclone", ">=", 1.0) if unit in ("MiB/s", "files/s", "IOPS") else \
        ("rclone", "<=", 1.0)


class BenchUser(TestUser):
    """An account of our own: vsftpd chdirs into the user's home at login, and the test
    suites running meanwhile keep pointing ftpsfstest's home at their (short-lived) roots.
    Its home stays "/": vsftpd only needs it to exist (it then enters and chroots into
    local_root, each server's own root). Pointed at a run's root, a second benchmark run
    would break the first one's logins ("500 OOPS: cannot change directory") by deleting it."""
    name = "ftpsfsbench"
    password = "Pw-ftpsfs-b3nch!"

    def set_home(self, path):
        super().set_home("/")


def pasv_range(taken, size=256):
    """A passive range of our own in 10000-19999: below the range the test harness uses
    (20000-32000) and big enough that rapid reconnects don't hit TIME_WAIT 4-tuples (with
    16 ports, curl saw 1 s SYN retransmits). Free on 127.0.0.1 and on the proxy's address."""
    for low in range(10000, 20000 - size, size):
        if low not in taken and all(_bindable(p) and _bindable_on(PROXY_HOST, p)
                                    for p in range(low, low + size)):
            taken.add(low)
            return {"pasv_min_port": low, "pasv_max_port": low + size - 1}
    raise RuntimeError("no free passive port range in 10000-19999")


def _bindable_on(host, port):
    with socket.socket() as s:
        try:
            s.bind((host, port))
            return True
        except OSError:
            return False


class CmdError(RuntimeError):
    pass


class Result:
    def __init__(self, secs, out, err, rc):
        self.secs, self.out, self.err, self.rc = secs, out, err, rc


class Over(float):
    """A step stopped at the step limit: the value is a bound (shown as >N). skipped: not run
    again because an earlier run of it was stopped (nothing to count)."""
    skipped = False


def skipped_over(limit):
    v = Over(limit)
    v.skipped = True
    return v


class StepTimeout(RuntimeError):
    pass


def run(argv, quiet=False, capture=False, ok_codes=(0,), timeout=None, **kw):
    """Run a command; a Result with its wall-clock seconds (stdout kept only with capture).
    Raises CmdError if it fails, or (quiet=True) if it printed anything on stderr;
    StepTimeout after `timeout` seconds (its whole process group is killed)."""
    t = time.perf_counter()
    p = subprocess.Popen([str(a) for a in argv],
                         stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True, start_new_session=True, **kw)
    try:
        out, err = p.communicate(timeout=timeout)
    except BaseException as e:  # the timeout, or Ctrl-C: no child is left behind
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        if isinstance(e, subprocess.TimeoutExpired):
            raise StepTimeout(f"{Path(str(argv[0])).name} not done after {timeout:g} s") \
                from None
        raise
    dt = time.perf_counter() - t
    if p.returncode not in ok_codes or (quiet and err):
        lines = [x.strip() for x in err.splitlines() if x.strip()]
        last = " | ".join(dict.fromkeys(lines[-2:]))  # the last two, without repeats
        raise CmdError(f"{Path(str(argv[0])).name} exit {p.returncode}, {len(lines)} error "
                       f"line(s), last: {last}")
    return Result(dt, out, err, p.returncode)


def proc_status(pid):
    """{"VmRSS": KiB, "VmHWM": KiB} of a process."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key = line.split(":")[0]
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(line.split()[1])
    return out


def wait_until(pred, timeout, what):
    """Poll pred() until true; raise after timeout seconds (an asynchronous upload that never
    lands is a failure, one that lands late is measured with its delay)."""
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not done {timeout} s after the command returned")
        time.sleep(0.01)


def own_round_trips(mnt):
    """round_trips=N from ftpsfs's statistics xattr, None where the binary has none."""
    try:
        text = os.getxattr(mnt, STATS_XATTR).decode(errors="replace")
    except OSError:
        return None
    m = re.search(r"^round_trips=(\d+)", text, re.M)
    return int(m.group(1)) if m else None


class Proxy:
    """bench/delayproxy.py in its own process; stats() reads its counters."""

    def __init__(self, ports, delay_ms, log):
        self.rate_mbit = 0.0
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("delayproxy.py")),
             "--delay-ms", str(delay_ms), *ports],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True,
            start_new_session=True)
        if self.proc.stdout.readline().strip() != "ready":
            self.stop()
            raise RuntimeError(f"delay proxy did not start (see {log.name})")
        self.delay_ms = delay_ms

    def ask(self, cmd):
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def stats(self):
        return self.ask("stats")

    def set_delay(self, ms):
        self.ask(f"delay {ms}")
        self.delay_ms = ms

    def set_rate(self, mbit):
        """Cap each connection accepted from now on at `mbit` Mbit/s per direction (0: no
        cap)."""
        self.ask(f"rate {mbit}")
        self.rate_mbit = mbit

    def quiesce(self, idle=0.25, timeout=5.0):
        """Wait until nothing has crossed the proxy for `idle` seconds (at most `timeout`)."""
        deadline = time.monotonic() + timeout
        while True:
            s = self.stats()
            if s["idle_s"] >= idle or time.monotonic() > deadline:
                return s
            time.sleep(max(0.01, idle - s["idle_s"]))

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()      # EOF: it exits
                self.proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


class Mnt:
    def __init__(self, path, pid, col):
        self.path, self.pid, self.col = path, pid, col


class Bench:
    def __init__(self, args):
        self.args = args
        q = 1 if args.quick else 0
        self.n = {k: v[q] for k, v in SIZES.items()}
        if args.size_mib:
            self.n["big_mib"] = args.size_mib
        self.size = self.n["big_mib"] * MiB
        self.work = Path(tempfile.mkdtemp(prefix="ftpsfs-bench-"))
        self.work.chmod(0o755)  # the servers chdir into root/ as the test user
        self.stack = contextlib.ExitStack()
        self.servers = {}       # "A"/"B" -> Vsftpd
        self.cols = []          # (client, server label)
        self.samples = {}       # row key -> col -> [value]
        self.rts = {}           # row key -> col -> [proxy round trips]
        self.own = {}           # row key -> col -> [ftpsfs's own round trips]
        self.conns = {}         # row key -> col -> [TCP connections through the proxy]
        self.peak = {}          # col -> KiB (largest VmHWM of any mount)
        self.notes = []
        self.curl_tls12 = None   # curl uploads use --tls-max 1.2 (None: not probed yet)
        self.tls12_rows = set()   # rows with a curl run on TLS 1.2
        self.rclone_flags = []
        self.pasv_taken = set()
        self.proxy = None
        self.made = set()       # data sets created
        self.over = set()       # (row, col) that hit the step limit
        self.counter = itertools.count()
        self.started = time.monotonic()

    # --- setup --------------------------------------------------------------------------------

    def setup(self):
        self.certs = Certs(self.work / "certs")
        self.user = BenchUser()
        self.root = self.work / "root"
        self.root.mkdir(mode=0o755)
        self.local = self.work / "local"       # sources of uploads (not served)
        self.local.mkdir()
        (self.root / "probe-read").write_bytes(os.urandom(SMALL_SIZE))
        self.user.chown_tree(self.root)
        (self.work / "netrc").write_text("".join(
            f"machine {h} login {self.user.name} password {self.user.password}\n"
            for h in (DIRECT_HOST, PROXY_HOST)))
        self.servers["A"] = self.start_server("A")
        # ftpsfs+wb: ftpsfs with -o writeback, only in the workloads that write (Workload.wb).
        self.cols = [("curl", "A"), ("ftpsfs", "A"), ("ftpsfs+wb", "A")]
        self.setup_rclone()

    def start_server(self, label, reuse="YES", tls_max=None):
        workdir = self.work / f"vsftpd-{label}{next(self.counter)}"
        srv = Vsftpd(self.root, self.certs, self.user, workdir=workdir, tls_max=tls_max,
                     extra={**SERVER_OPTS, **pasv_range(self.pasv_taken),
                            "require_ssl_reuse": reuse})
        srv.desc = f"vsftpd, TLS {tls_max or '1.3'}, require_ssl_reuse={reuse}"
        self.stack.callback(srv.stop)
        return srv.start()

    def need(self, *names):
        """Create the data sets a workload uses, once, straight on disk in the server root
        (or in local/ for upload sources)."""
        for name in names:
            if name not in self.made:
                getattr(self, f"make_{name}")()
                self.made.add(name)

    def _files(self, d, names, size, data=None):
        d.mkdir(parents=True, exist_ok=True)
        data = data or os.urandom(max(size, 1) * 64)
        for i, n in enumerate(names):
            off = (i * 997) % (len(data) - size) if len(data) > size else 0
            with open(d / n, "wb") as f:
                f.write(data[off:off + size])

    def make_big(self):
        rnd = os.urandom(8 * MiB)
        with open(self.root / "big", "wb") as f:
            for off in range(0, self.size, len(rnd)):
                f.write(rnd[:min(len(rnd), self.size - off)])
        os.chown(self.root / "big", self.user.uid, self.user.gid)
        run(["cat", self.root / "big"])  # source/served file in the page cache for everyone

    def make_capped(self):
        """The file of big-capped: exactly the size read (lftp pget reads a whole file)."""
        size = self.n["capped_mib"] * MiB
        rnd = os.urandom(8 * MiB)
        with open(self.root / "capped", "wb") as f:
            for off in range(0, size, len(rnd)):
                f.write(rnd[:min(len(rnd), size - off)])
        os.chown(self.root / "capped", self.user.uid, self.user.gid)
        run(["cat", self.root / "capped"])  # in the page cache

    def make_tree(self):
        t = self.root / "tree"
        for d in range(self.n["tree_dirs"]):
            self._files(t / f"d{d:03d}", [f"f{i:03d}" for i in range(self.n["tree_files"])], 64)
        self.user.chown_tree(t)

    def make_deep(self):
        # l1/l2/l3/file, each level with 20 other files (a listing is never trivially empty)
        d = self.root
        for level in ("l1", "l2", "l3"):
            d = d / level
            self._files(d, [f"other{i:02d}" for i in range(20)], 100)
        (d / "file").write_bytes(b"x" * 100)
        self.user.chown_tree(self.root / "l1")

    def make_small(self):
        self.small_names = [f"f{i:04d}" for i in range(self.n["small"])]
        self._files(self.root / "small", self.small_names, SMALL_SIZE)
        self.user.chown_tree(self.root / "small")

    def make_small100(self):
        self.small100_names = [f"f{i:04d}" for i in range(self.n["rtt_small"])]
        self._files(self.root / "small100", self.small100_names, SMALL_SIZE)
        self.user.chown_tree(self.root / "small100")

    def make_meta(self):
        self.meta_names = [f"f{i:04d}" for i in range(self.n["meta"])]
        self._files(self.root / "meta", self.meta_names, 100)
        self.user.chown_tree(self.root / "meta")

    def make_huge(self, name="huge"):
        d = self.root / name
        d.mkdir()
        for i in range(self.n[name]):
            os.close(os.open(d / f"file-{i:07d}", os.O_WRONLY | os.O_CREAT, 0o644))
        os.chown(d, self.user.uid, self.user.gid)

    def make_huge4(self):
        self.make_huge("huge4")

    def make_huge10(self):
        self.make_huge("huge10")

    def make_src(self):
        self.src_names = [f"f{i:04d}" for i in range(self.n["small"])]
        self._files(self.local / "src", self.src_names, SMALL_SIZE)

    def make_src100(self):
        self.src100_names = [f"f{i:04d}" for i in range(self.n["rtt_small"])]
        self._files(self.local / "src100", self.src100_names, SMALL_SIZE)

    def make_rsync(self, n=None, name="rsync"):
        n, src = n or self.n["rsync"], self.local / name
        rnd = os.urandom(64 * 1024)
        files = {}
        for i in range(n):
            rel = f"d{i % 10:02d}/file{i:04d}"
            size = 1024 + (i * 1499) % (15 * 1024)
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            (src / rel).write_bytes(rnd[i:i + size])
            files[rel] = size
        past = time.time() - 86400  # an older mtime than the copies' upload time
        for p in src.rglob("*"):
            os.utime(p, (past, past))
        setattr(self, f"{name.replace('-', '_')}_files", files)

    def make_rsync_rtt(self):
        self.make_rsync(self.n["rtt_small"], "rsync-rtt")

    # --- rclone -------------------------------------------------------------------------------

    def rclone_env(self, srv, host=DIRECT_HOST):
        obscured = subprocess.run(["rclone", "obscure", "-"], input=self.user.password,
                                  capture_output=True, text=True, check=True).stdout.strip()
        return dict(os.environ, RCLONE_CONFIG=str(self.work / "rclone.conf"),
                    RCLONE_CONFIG_BENCH_TYPE="ftp", RCLONE_CONFIG_BENCH_HOST=host,
                    RCLONE_CONFIG_BENCH_PORT=str(srv.port),
                    RCLONE_CONFIG_BENCH_USER=self.user.name, RCLONE_CONFIG_BENCH_PASS=obscured,
                    RCLONE_CONFIG_BENCH_EXPLICIT_TLS="true",
                    SSL_CERT_FILE=str(self.certs.ca_file))  # Go's trust store: our test CA

    def rclone_probe(self, srv, flags):
        """None if rclone can list, read and write on srv, else the reason."""
        quick_fail = ["--retries", "1", "--low-level-retries", "1", "--contimeout", "5s",
                      "--timeout", "10s", *flags]
        probe = self.work / "probe.bin"
        probe.write_bytes(os.urandom(4 * MiB))
        try:
            # uploads 3 times: on TLS 1.3 they fail now and then (426 from vsftpd)
            for cmd in (["lsf", "bench:"], ["cat", "bench:probe-read"],
                        *[["copyto", probe, "bench:probe.bin"]] * 3):
                run(["rclone", *cmd, *quick_fail], env=self.rclone_env(srv), timeout=60)
                if cmd[0] == "copyto" and (self.root / "probe.bin").read_bytes() != \
                        probe.read_bytes():
                    return "uploaded file differs"
        except (CmdError, OSError, StepTimeout) as e:
            return str(e)
        finally:
            (self.root / "probe.bin").unlink(missing_ok=True)
        return None

    def setup_rclone(self):
        """Find a server rclone 1.60 works with (list, read, write): A itself, else the first
        of these started as server B. ftpsfs is measured again on B so that ftpsfs/rclone
        compares like with like."""
        if not shutil.which("rclone"):
            self.notes.append("rclone: n/a (not installed: apt-get install rclone)")
            return
        why = self.rclone_probe(self.servers["A"], [])
        if why is None:
            self.cols.append(("rclone", "A"))
            return
        self.notes.append(f"rclone fails on A ({self.servers['A'].desc}): {why}")
        # Last resort: no TLS session cache = a full handshake per data connection.
        no_cache = ["--ftp-tls-cache-size", "0"]
        for reuse, tls_max, flags in (("NO", None, []), ("YES", "1.2", []), ("NO", "1.2", []),
                                      ("NO", None, no_cache)):
            srv = self.start_server("B", reuse, tls_max)
            why = self.rclone_probe(srv, flags)
            if why is None:
                self.servers["B"], self.rclone_flags = srv, flags
                self.cols += [("rclone", "B"), ("ftpsfs", "B")]
                return
            self.notes.append(f"rclone fails on {' '.join([srv.desc, *flags])}: {why}")
            srv.stop()
        self.notes.append("rclone: n/a, no server configuration worked")

    # --- the delay proxy ----------------------------------------------------------------------

    def start_proxy(self):
        """One delay proxy for every server: its control port and its whole passive range.
        Before the delay is switched on, a curl download through it (0 ms) and direct shows
        what the proxy itself can carry."""
        if self.proxy:
            return
        ports = []
        for srv in self.servers.values():
            ports += [str(srv.port), f"{srv.extra['pasv_min_port']}-{srv.extra['pasv_max_port']}"]
        log = open(self.work / "proxy.log", "ab")
        self.stack.callback(log.close)
        self.proxy = Proxy(ports, 0, log)
        self.stack.callback(self.proxy.stop)
        self.need("big")
        mib = min(self.n["big_mib"], 256)
        rates = {}
        try:
            for host in (DIRECT_HOST, PROXY_HOST, DIRECT_HOST, PROXY_HOST):
                r = self.curl(self.servers["A"], "big", "-r", f"0-{mib * MiB - 1}",
                              *CURL_GET, host=host, timeout=120)
                rates[host] = max(rates.get(host, 0), mib / r.secs)
            self.notes.append(f"delay proxy alone (0 ms delay): curl reads {mib} MiB at "
                              f"{rates[PROXY_HOST]:.0f} MiB/s through it, "
                              f"{rates[DIRECT_HOST]:.0f} MiB/s direct (best of 2, login "
                              "included)")
        except (CmdError, StepTimeout) as e:
            self.notes.append(f"delay proxy alone (0 ms delay): curl failed: {e}")
        self.proxy.set_delay(self.args.delay_ms)

    # --- clients ------------------------------------------------------------------------------

    def curl(self, srv, path, *extra, cwd=None, tls12=False, host=DIRECT_HOST, capture=False,
             timeout=None):
        # -sS: only errors on stderr. curl goes on after a failed file of a glob (exit 0 if
        # the last one worked), so any stderr output counts as a failure.
        return run(["curl", "-sS", *self.curl_opts(tls12), *extra,
                    f"ftp://{host}:{srv.port}/{path}"], quiet=True, cwd=cwd, capture=capture,
                   timeout=timeout or self.args.step_limit)

    def curl_opts(self, tls12=False):
        return ["--ssl-reqd", "--cacert", self.certs.ca_file, "--netrc-file",
                self.work / "netrc", *CURL_BASE, *(["--tls-max", "1.2"] if tls12 else [])]

    def curl_upload(self, row, upload):
        """upload(tls12) -> seconds, raising on any failure. If curl fails on TLS 1.3 (SERVERS.md:
        vsftpd refuses some of its TLS 1.3 data connections), retry and go on with TLS 1.2.
        A first probe (20 files) usually finds out before a whole timed step is lost to it."""
        if self.curl_tls12 is None:
            self.curl_tls12 = False
            d = self.new_dir(("curl", "probe"), "probe")
            (self.local / "probe").mkdir(exist_ok=True)
            self._files(self.local / "probe", [f"f{i:02d}" for i in range(20)], SMALL_SIZE)
            try:
                self.curl(self.servers["A"], d.name + "/", "-T", "f[00-19]",
                          cwd=self.local / "probe")
            except CmdError as e:
                self.curl_tls12 = True
                self.notes.append(f"curl uploads on TLS 1.3 fail ({e}): curl uploads use "
                                  "--tls-max 1.2 (marked *)")
        try:
            if self.curl_tls12:
                self.tls12_rows.add(row)
            return upload(self.curl_tls12)
        except (CmdError, RuntimeError) as e:
            if self.curl_tls12:
                raise
            self.curl_tls12 = True
            self.notes.append(f"curl upload failed on TLS 1.3 ({e}); curl uploads from "
                              "then on use --tls-max 1.2 (marked *)")
            self.tls12_rows.add(row)
            return upload(True)

    @contextlib.contextmanager
    def mounted(self, col, proxied=False):
        """A fresh mount (cold caches) of col's client on col's server, direct or through the
        delay proxy. Records the process's peak RSS when it ends. Column "ftpsfs-pr0" is
        ftpsfs with -o parallel_reads=0 (one stream per file), "ftpsfs+wb" with -o writeback."""
        client, label = col
        options = ["parallel_reads=0"] if client == "ftpsfs-pr0" else []
        client = "ftpsfs" if client == "ftpsfs-pr0" else client
        srv = self.servers[label]
        host = PROXY_HOST if proxied else DIRECT_HOST
        mnt = self.work / f"mnt-{client}{label}-{next(self.counter)}"
        log = self.work / f"{client}{label}.log"
        stop = lambda: None  # noqa: E731
        try:
            if client.startswith("ftpsfs"):
                opts = ["writeback", f"spool_dir={mnt}.spool"] if client == "ftpsfs+wb" else []
                m = Mount(self.args.ftpsfs, f"ftp://{self.user.name}@{host}:{srv.port}/", mnt,
                          self.user.password, debug=False, cafile=self.certs.ca_file,
                          log_path=log, options=options + opts)
                stop = m.stop
                m.start()
                pid = m.proc.pid
            else:
                mnt.mkdir()
                with open(log, "ab") as out:
                    proc = subprocess.Popen(["rclone", "mount", "bench:", mnt,
                                             "--vfs-cache-mode", "off", *self.rclone_flags],
                                            env=self.rclone_env(srv, host),
                                            stdin=subprocess.DEVNULL, stdout=out,
                                            stderr=subprocess.STDOUT, start_new_session=True)
                pid, stop = proc.pid, lambda: stop_rclone(proc, mnt)
                deadline = time.monotonic() + 20
                while not is_fuse_mounted(mnt):
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"rclone mount failed, see {log}")
                    time.sleep(0.05)
            yield Mnt(mnt, pid, col)
            kib = proc_status(pid).get("VmHWM", 0)
            self.peak[col] = max(self.peak.get(col, 0), kib)
        finally:
            stop()

    def rtt_op(self, fn, mnt=None):
        """Run fn() (it returns seconds) between two quiet moments of the proxy; returns
        (seconds, proxy round trips, ftpsfs's own round trips or None, TCP connections)."""
        path = mnt.path if mnt is not None and mnt.col[0].startswith("ftpsfs") else None
        s0 = self.proxy.quiesce()
        own0 = own_round_trips(path) if path else None
        secs = fn()
        if getattr(secs, "skipped", False):
            return secs
        s1 = self.proxy.quiesce()
        own1 = own_round_trips(path) if path else None
        own = own1 - own0 if own0 is not None and own1 is not None else None
        return (secs, s1["round_trips"] - s0["round_trips"], own,
                s1["connects"] - s0["connects"])

    # --- workloads: each returns {row key: value} or {row key: (value, rt, own)} -------------
    # Values: seconds for time rows, the rate for rate rows, MiB, file counts.

    def col_srv(self, col):
        return self.servers[col[1]]

    def w_find(self, col, i, proxied=False, lsR=False):
        self.need("tree")
        key = ("rtt_" if proxied else "") + ("lsR" if lsR else "find")
        if col[0] == "curl":  # LIST of the tree and of each of its directories, one process
            srv, host = self.col_srv(col), PROXY_HOST if proxied else DIRECT_HOST
            n = self.n["tree_dirs"] - 1
            fn = lambda: self.timed(key, col, ["curl", "-sS", *self.curl_opts(),  # noqa: E731
                                    f"ftp://{host}:{srv.port}/tree/",
                                    f"ftp://{host}:{srv.port}/tree/d[000-{n:03d}]/"],
                                    quiet=True)
            return {key: self.rtt_op(fn) if proxied else fn()}
        cmd = ["ls", "-lR"] if lsR else ["find"]
        with self.mounted(col, proxied) as m:
            fn = lambda: self.timed(key, col, [*cmd, m.path / "tree"])  # noqa: E731
            return {key: self.rtt_op(fn, m) if proxied else fn()}

    def w_lsR(self, col, i, proxied=False):
        return self.w_find(col, i, proxied, lsR=True)

    def w_stat3(self, col, i, proxied=False):
        self.need("deep")
        key = "rtt_stat3" if proxied else "stat3"
        if col[0] == "curl":  # MDTM + SIZE (curl -I), login included
            srv, host = self.col_srv(col), PROXY_HOST if proxied else DIRECT_HOST
            fn = lambda: self.curl(srv, "l1/l2/l3/file", "-I", host=host).secs  # noqa: E731
            return {key: self.rtt_op(fn) if proxied else fn()}
        with self.mounted(col, proxied) as m:
            def fn():
                t = time.perf_counter()
                os.stat(m.path / "l1" / "l2" / "l3" / "file")
                return time.perf_counter() - t
            return {key: self.rtt_op(fn, m) if proxied else fn()}

    def w_stat(self, col, i, proxied=False):
        self.need("meta")
        pre = "rtt_" if proxied else ""
        if col[0] == "curl":  # SIZE + MDTM per file on one connection
            if proxied:
                return {}
            return {"stat_cold": self.curl(self.col_srv(col),
                                               f"meta/f[0000-{self.n['meta'] - 1:04d}]",
                                               "-I").secs}
        with self.mounted(col, proxied) as m:
            paths = [m.path / "meta" / n for n in self.meta_names]
            out = {}
            for row in (pre + "stat_cold", pre + "stat_warm"):
                def fn():
                    t = time.perf_counter()
                    for p in paths:
                        os.stat(p)
                    return time.perf_counter() - t
                out[row] = self.rtt_op(fn, m) if proxied else fn()
            return out

    def w_cat(self, col, i, proxied=False):
        """cat of every file of a directory (cold): files/s on loopback, seconds at 20 ms."""
        d = "small100" if proxied else "small"
        self.need(d)
        names = self.small100_names if proxied else self.small_names
        if col[0] == "curl":  # on loopback only the first curl_files (it is slow per file)
            srv, host = self.col_srv(col), PROXY_HOST if proxied else DIRECT_HOST
            names = names if proxied else names[:self.n["curl_files"]]
            fn = lambda: self.curl(srv, f"{d}/f[0000-{len(names) - 1:04d}]",  # noqa: E731
                                   *CURL_GET, host=host).secs
            return {"rtt_cat": self.rtt_op(fn)} if proxied else {"cat": len(names) / fn()}
        with self.mounted(col, proxied) as m:
            argv = ["sh", "-c", 'cat "$1"/*', "sh", m.path / d]
            if proxied:
                return {"rtt_cat": self.rtt_op(lambda: self.timed("rtt_cat", col, argv), m)}
            return {"cat": len(names) / run(argv, timeout=self.args.step_limit).secs}

    def w_ls(self, col, i, proxied=True):
        """ls -l of one directory of small files whose own lookup is done: listing one
        directory (curl: LIST, login included)."""
        self.need("small100")
        if col[0] == "curl":
            srv = self.col_srv(col)
            return {"rtt_ls": self.rtt_op(
                lambda: self.curl(srv, "small100/", host=PROXY_HOST).secs)}
        with self.mounted(col, True) as m:
            os.stat(m.path / "small100")
            return {"rtt_ls": self.rtt_op(
                lambda: self.timed("rtt_ls", col, ["ls", "-l", m.path / "small100"]), m)}

    def w_read1(self, col, i, proxied=True):
        """Read one small file whose directory is listed already (curl: RETR, login
        included)."""
        self.need("small100")
        if col[0] == "curl":
            srv = self.col_srv(col)
            return {"rtt_read1": self.rtt_op(lambda: self.curl(
                srv, "small100/f0001", *CURL_GET, host=PROXY_HOST).secs)}
        with self.mounted(col, True) as m:
            p = m.path / "small100" / "f0001"
            os.stat(p)

            def fn():
                t = time.perf_counter()
                with open(p, "rb") as f:
                    if len(f.read()) != SMALL_SIZE:
                        raise RuntimeError("short read")
                return time.perf_counter() - t
            return {"rtt_read1": self.rtt_op(fn, m)}

    def w_write(self, col, i):
        self.need("big")
        dest = self.root / f"up-{col[0]}{col[1]}-{i}"
        landed = lambda: dest.exists() and dest.stat().st_size == self.size  # noqa: E731
        try:
            if col[0] == "curl":
                def upload(tls12):
                    t = self.curl(self.col_srv(col), dest.name, "-T", self.root / "big",
                                  tls12=tls12).secs
                    if not landed():
                        raise RuntimeError(f"uploaded {dest.stat().st_size} bytes")
                    return t
                secs = self.curl_upload("write", upload)
            else:
                with self.mounted(col) as m:
                    t = time.perf_counter()
                    r = run(["dd", f"if={self.root / 'big'}", f"of={m.path / dest.name}",
                             "bs=1M"], timeout=self.args.step_limit)
                    wait_until(landed, 60, "upload")
                    secs = time.perf_counter() - t
                    check_dd(r, self.size)
        finally:
            dest.unlink(missing_ok=True)
        return {"write": self.size / MiB / secs}

    def w_read(self, col, i, proxied=False):
        self.need("big")
        size = self.n["rtt_read_mib"] * MiB if proxied else self.size
        key = "rtt_read" if proxied else "read"
        with contextlib.ExitStack() as stack:
            if col[0] == "curl":
                srv, host = self.col_srv(col), PROXY_HOST if proxied else DIRECT_HOST
                rng = ["-r", f"0-{size - 1}"] if proxied else []
                m = None

                def fn():
                    r = self.curl(srv, "big", *rng, *CURL_GET, "-w", "%{size_download}",
                                  host=host, capture=True)
                    if int(r.out or 0) != size:
                        raise RuntimeError(f"curl read {r.out} bytes, not {size}")
                    return r.secs
            else:
                m = stack.enter_context(self.mounted(col, proxied))

                def fn():
                    r = run(["dd", f"if={m.path / 'big'}", "of=/dev/null", "bs=1M",
                             f"count={size // MiB}"], timeout=self.args.step_limit)
                    check_dd(r, size)
                    return r.secs
            if proxied:
                secs, *counts = self.rtt_op(fn, m)
                return {key: (size / MiB / secs, *counts)}
            return {key: size / MiB / fn()}

    def lftp_pget(self, srv, path, size, out):
        """lftp's `pget -n 4` of path (FTPS, data protected, through the proxy) into out."""
        if not shutil.which("lftp"):
            raise RuntimeError("lftp not installed (apt-get install lftp)")
        script = "; ".join([
            "set ftp:ssl-force true", "set ftp:ssl-protect-data true",
            f"set ssl:ca-file {self.certs.ca_file}", "set ftp:prefer-epsv true",
            "set net:max-retries 1", "set cmd:fail-exit true",
            f"open -u {self.user.name},{self.user.password} "
            f"ftp://{PROXY_HOST}:{srv.port}",
            f"pget -n 4 {path} -o {out}"])
        r = run(["lftp", "-c", script], quiet=True, timeout=self.args.step_limit)
        got = out.stat().st_size if out.exists() else 0
        out.unlink(missing_ok=True)
        if got != size:
            raise RuntimeError(f"lftp got {got} bytes, not {size}")
        return r.secs

    def w_capped(self, col, i):
        """big-capped: read the capped file at 20 ms, each connection capped at
        --cap-mbit (100) Mbit/s by the proxy."""
        self.need("capped")
        size = self.n["capped_mib"] * MiB
        key = "capped_read"
        self.proxy.set_rate(self.args.cap_mbit)
        try:
            with contextlib.ExitStack() as stack:
                m = None
                if col[0] == "curl":
                    srv = self.col_srv(col)

                    def fn():
                        r = self.curl(srv, "capped", *CURL_GET, "-w", "%{size_download}",
                                      host=PROXY_HOST, capture=True)
                        if int(r.out or 0) != size:
                            raise RuntimeError(f"curl read {r.out} bytes, not {size}")
                        return r.secs
                elif col[0] == "lftp":
                    fn = lambda: self.lftp_pget(self.col_srv(col), "capped",  # noqa: E731
                                                size, self.work / "lftp-capped")
                else:
                    m = stack.enter_context(self.mounted(col, True))

                    def fn():
                        r = run(["dd", f"if={m.path / 'capped'}", "of=/dev/null", "bs=1M"],
                                timeout=self.args.step_limit)
                        check_dd(r, size)
                        return r.secs
                secs, *counts = self.rtt_op(fn, m)
                out = {key: (size / MiB / secs, *counts)}
                if m is not None and col[0] == "ftpsfs":
                    out["capped_ranges"] = self.pread_ranges(m)
                return out
        finally:
            self.proxy.set_rate(0)

    def pread_ranges(self, m):
        """parallel_ranges of a mount's statistics (None if it has none)."""
        try:
            text = os.getxattr(m.path, STATS_XATTR).decode()
        except OSError:
            return None
        got = re.search(r"^parallel_ranges=(\d+)", text, re.M)
        return int(got.group(1)) if got else None

    def w_randread(self, col, i):
        self.need("big")
        rng = random.Random(4096 + i)
        blocks = self.size // 4096
        if col[0] == "curl":  # one process, one connection: --next per range (REST + RETR)
            srv, argv = self.col_srv(col), ["curl", "-sS"]
            n = self.n["curl_ranges"]
            for k in range(n):
                off = rng.randrange(blocks) * 4096
                argv += [*(["--next"] if k else []), *self.curl_opts(), "-r",
                         f"{off}-{off + 4095}", "-o", "/dev/null",
                         f"ftp://{DIRECT_HOST}:{srv.port}/big"]
            return {"randread": n / run(argv, quiet=True).secs}
        with self.mounted(col) as m:
            fd = os.open(m.path / "big", os.O_RDONLY)
            try:
                n, t0 = 0, time.perf_counter()
                deadline = t0 + self.n["rand_secs"]
                while n < self.n["rand_reads"] and time.perf_counter() < deadline:
                    if len(os.pread(fd, 4096, rng.randrange(blocks) * 4096)) != 4096:
                        raise RuntimeError("short read")
                    n += 1
                secs = time.perf_counter() - t0
            finally:
                os.close(fd)
        return {"randread": n / secs}

    def new_dir(self, col, what):
        d = self.root / f"{what}-{col[0]}{col[1]}-{next(self.counter)}"
        d.mkdir()
        os.chown(d, self.user.uid, self.user.gid)
        return d

    def all_landed(self, d, names):
        def check():
            try:
                return all((d / n).stat().st_size == SMALL_SIZE for n in names)
            except FileNotFoundError:
                return False
        return check

    def w_cpr(self, col, i, proxied=False):
        """cp -r of a local directory of 4 KiB files into the mount (curl: -T glob, one
        process). files/s on loopback, seconds at 20 ms RTT."""
        src = "src100" if proxied else "src"
        self.need(src)
        names = self.src100_names if proxied else self.src_names
        key = "rtt_cpr" if proxied else "cpr"
        host = PROXY_HOST if proxied else DIRECT_HOST
        if col[0] == "curl":  # on loopback only the first curl_files (it is slow per file)
            names = names if proxied else names[:self.n["curl_files"]]
            def upload(tls12):
                d = self.new_dir(col, "cp")

                def fn():
                    r = self.curl(self.col_srv(col), d.name + "/", "-T",
                                  f"f[0000-{len(names) - 1:04d}]", cwd=self.local / src,
                                  tls12=tls12, host=host)
                    wait_until(self.all_landed(d, names), 30, "curl upload")
                    return r.secs
                return self.rtt_op(fn) if proxied else fn()
            out = self.curl_upload(key, upload)
        else:
            d = self.root / f"cp-{col[0]}{col[1]}-{next(self.counter)}"
            returned = []
            with self.mounted(col, proxied) as m:
                def fn():
                    t = time.perf_counter()
                    run(["cp", "-r", self.local / src, m.path / d.name],
                        timeout=self.args.step_limit)
                    returned.append(time.perf_counter() - t)
                    wait_until(self.all_landed(d, names), 30, "cp -r")
                    return time.perf_counter() - t
                out = self.rtt_op(fn, m) if proxied else fn()
            if proxied and returned:  # until cp -r returned (write-back: before the uploads)
                return {key: out, key + "_ret": returned[0]}
        return {key: out if proxied else len(names) / out}

    def w_huge(self, col, i):
        """One directory of 100,000 files: cold ls -f and cold ls -l (fresh mounts), the
        daemon's RSS after ls -l; curl: one LIST (shown in both rows)."""
        self.need("huge")
        if col[0] == "curl":
            t = self.curl(self.col_srv(col), "huge/").secs
            return {"huge_lsf": t, "huge_lsl": t}
        out = {}
        with self.mounted(col) as m:
            out["huge_lsf"] = self.timed("huge_lsf", col, ["ls", "-f", m.path / "huge"])
        if ("huge_lsl", col) in self.over:  # stopped before: nothing new to learn
            return {**out, "huge_lsl": skipped_over(2 * self.args.step_limit)}
        with self.mounted(col) as m:
            start = proc_status(m.pid)["VmRSS"] / 1024
            # twice the step limit: rclone needed ~70 s here
            out["huge_lsl"] = t = self.timed("huge_lsl", col, ["ls", "-l", m.path / "huge"],
                                             limit=2 * self.args.step_limit)
            st = proc_status(m.pid)
            rss, hwm = st["VmRSS"] / 1024, st["VmHWM"] / 1024
            if isinstance(t, Over):  # ls -l was stopped: what the daemon held by then
                rss, hwm = Over(rss), Over(hwm)
            out["huge_rss"], out["huge_hwm"] = rss, hwm
            if not isinstance(t, Over):
                out["huge_forgot"] = self.rss_after_forget(m) - start
        return out

    def rss_after_forget(self, m):
        """VmRSS (MiB) of m's daemon 5 s after the kernel dropped its dentries and inodes (as
        root; the daemon sees the FORGETs)."""
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("2\n")
        time.sleep(5)
        return proc_status(m.pid)["VmRSS"] / 1024

    def w_huge_mem(self, col, i):
        """Directories of 400,000 and 1,000,000 files: cold ls -f (and ls -l of the big one),
        the daemon's peak RSS after each (fresh mounts); curl: one LIST."""
        names = ("huge4", "huge10")
        self.need(*names)
        if col[0] == "curl":
            return {f"{n}_lsf": self.curl(self.col_srv(col), f"{n}/",
                                          timeout=4 * self.args.step_limit).secs
                    for n in names}
        out = {}
        runs = [(n, "lsf", ["ls", "-f"]) for n in names] + [("huge10", "lsl", ["ls", "-l"])]
        for name, key, cmd in runs:
            row = f"{name}_{key}"
            if (row, col) in self.over:
                out[row] = skipped_over(4 * self.args.step_limit)
                continue
            with self.mounted(col) as m:
                t = self.timed(row, col, [*cmd, m.path / name], limit=4 * self.args.step_limit)
                hwm = proc_status(m.pid)["VmHWM"] / 1024
                out[row], out[f"{row}_hwm"] = t, Over(hwm) if isinstance(t, Over) else hwm
        return out

    def mount_then(self, col, first):
        """rtt_op of a mount through the proxy from its start until first(mount path)
        returns; the mount is stopped after."""
        res = {}

        def fn():
            t = time.perf_counter()
            res["ctx"] = ctx = self.mounted(col, True)
            first(ctx.__enter__().path)
            return time.perf_counter() - t
        try:
            return self.rtt_op(fn)
        finally:
            if "ctx" in res:
                res["ctx"].__exit__(None, None, None)

    def w_login(self, col, i):
        """Connect and log in: curl -I of the root (login, PWD, QUIT); a mount from start
        until a stat of its root returns (ftpsfs logs in while mounting, rclone at first use).
        Times include polling for the mount (50 ms steps)."""
        if col[0] == "curl":
            srv = self.col_srv(col)
            return {"rtt_login": self.rtt_op(
                lambda: self.curl(srv, "", "-I", host=PROXY_HOST).secs)}
        return {"rtt_login": self.mount_then(col, os.stat)}

    def w_mount_ls(self, col, i):
        """From start to the end of the first ls -l of a subdirectory: a mount's login and
        setup, then one listing (curl: LIST of the directory, login included)."""
        self.need("small100")
        if col[0] == "curl":
            srv = self.col_srv(col)
            return {"rtt_mountls": self.rtt_op(
                lambda: self.curl(srv, "small100/", host=PROXY_HOST).secs)}
        return {"rtt_mountls": self.mount_then(col, lambda p: run(
            ["ls", "-l", p / "small100"], timeout=self.args.step_limit))}

    def w_rtt_huge(self, col, i):
        self.need("huge")
        if col[0] == "curl":
            srv = self.col_srv(col)
            return {"rtt_huge": self.rtt_op(
                lambda: self.curl(srv, "huge/", host=PROXY_HOST).secs)}
        with self.mounted(col, True) as m:
            return {"rtt_huge": self.rtt_op(
                lambda: self.timed("rtt_huge", col, ["ls", "-f", m.path / "huge"]), m)}

    def w_rsync(self, col, i, proxied=False):
        """rsync -a of a tree into the mount, then again from a fresh mount: the second run
        should transfer nothing (it needs the server's exact mtimes)."""
        if col[0] == "curl":
            return {}
        src = "rsync-rtt" if proxied else "rsync"
        self.need(src.replace("-", "_"))
        files = getattr(self, f"{src.replace('-', '_')}_files")
        pre = "rtt_" if proxied else ""
        dest = f"rs-{col[0]}{col[1]}-{next(self.counter)}"
        out = {}

        def landed():
            try:
                return all((self.root / dest / rel).stat().st_size == size
                           for rel, size in files.items())
            except FileNotFoundError:
                return False
        for k in (1, 2):
            row = f"{pre}rsync{k}"
            if (row, col) in self.over:  # it hit the step limit before: not again
                out[row] = Over(self.args.step_limit)
                continue
            with self.mounted(col, proxied) as m:
                res = {}

                def fn():
                    # 23/24: some attributes not set / files vanished: noted, still measured
                    t = time.perf_counter()
                    try:
                        res["r"] = run(["rsync", "-a", "--stats", f"{self.local / src}/",
                                        f"{m.path / dest}/"], capture=True,
                                       ok_codes=(0, 23, 24), timeout=self.args.step_limit)
                    except StepTimeout:
                        return Over(self.args.step_limit)
                    wait_until(landed, 60, "rsync's upload")
                    return time.perf_counter() - t
                out[row] = self.rtt_op(fn, m) if proxied else fn()
            r = res.get("r")
            if r is None:  # stopped: a second run would start from a partial copy
                for rk in dict.fromkeys([row, f"{pre}rsync2"]):
                    self.over.add((rk, col))
                    self.note_once(f"{rk} with {col_name(col)}: stopped at the step limit "
                                   f"({self.args.step_limit:g} s)")
                out[f"{pre}rsync2"] = Over(self.args.step_limit)
                break
            if r.rc:  # the first error line, without the (per-run) paths
                err = re.sub(r'"[^"]*"', "...", r.err.strip().splitlines()[0])
                self.note_once(f"rsync exit {r.rc} with {col_name(col)}: {err}")
            got = re.search(r"Number of regular files transferred: ([\d,]+)", r.out)
            out[f"{row}_files"] = int(got.group(1).replace(",", "")) if got else None
        return out

    def timed(self, row, col, argv, limit=None, **kw):
        """Seconds of a command; at the step limit it is stopped and the value is
        Over(limit); later runs of the same row and column are not tried again."""
        limit = limit or self.args.step_limit
        if (row, col) in self.over:
            return skipped_over(limit)
        try:
            return run(argv, timeout=limit, **kw).secs
        except StepTimeout:
            self.over.add((row, col))
            self.notes.append(f"{row} with {col_name(col)}: stopped at the step limit "
                              f"({limit:g} s)")
            return Over(limit)

    def note_once(self, text):
        if text not in self.notes:
            self.notes.append(text)

    # --- running ------------------------------------------------------------------------------

    def measure(self, w):
        """Medians of N runs, the columns interleaved within each run (fairer under load)."""
        print(f"# {w.name} ({time.monotonic() - self.started:.0f} s)", file=sys.stderr,
              flush=True)
        if w.proxied:
            try:
                self.start_proxy()
            except (RuntimeError, OSError) as e:
                self.notes.append(f"FAILED {w.name}: no delay proxy: {e}")
                return
        failed = set()
        for i in range(self.args.runs):
            for col in self.cols + w.extra_cols:
                if col in failed or (col[0] == "curl" and not w.curl) or \
                        (col[0] == "ftpsfs+wb" and not w.wb):
                    continue
                try:
                    out = w.fn(self, col, i)
                except Exception as e:  # noqa: BLE001 - report, keep measuring the others
                    failed.add(col)
                    self.notes.append(f"FAILED {w.name} with {col_name(col)}: {e}")
                    continue
                for row, v in out.items():
                    if v is None:
                        continue
                    if isinstance(v, tuple):
                        v, rt, own, conns = v
                        if isinstance(v, Over):  # stopped: the counts are lower bounds
                            rt, conns = Over(rt), Over(conns)
                            own = None if own is None else Over(own)
                        self.rts.setdefault(row, {}).setdefault(col, []).append(rt)
                        self.conns.setdefault(row, {}).setdefault(col, []).append(conns)
                        if own is not None:
                            self.own.setdefault(row, {}).setdefault(col, []).append(own)
                    self.samples.setdefault(row, {}).setdefault(col, []).append(v)

    # --- report -------------------------------------------------------------------------------

    def median(self, store, key, col):
        v = store.get(key, {}).get(col)
        return statistics.median(v) if v else None

    def rclone_col(self):
        return next((c for c in self.cols if c[0] == "rclone"), None)

    def bound(self, store, key, col):
        """">" if a sample of this cell stopped at the step limit (the value is a lower
        bound), else ""."""
        return ">" if any(isinstance(v, Over) for v in store.get(key, {}).get(col, ())) else ""

    def ratios(self, key):
        """((ftpsfs/curl, flag), (ftpsfs/rclone, flag)) of the medians, rclone's on rclone's
        server; flag "<" or ">" when the ratio is a bound (a step limit), "?" if unknown."""
        rc = self.rclone_col()

        def r(a, b):
            x, y = self.median(self.samples, key, a), self.median(self.samples, key, b)
            if x is None or not y:
                return None, ""
            flag = self.bound(self.samples, key, a) + \
                self.bound(self.samples, key, b).replace(">", "<")
            return x / y, "?" if len(flag) > 1 else flag
        return (r(("ftpsfs", "A"), ("curl", "A")),
                r(("ftpsfs", rc[1]), rc) if rc else (None, ""))

    def check(self, target, key, store, ratios, items=1):
        """(target text, "yes"/"no"/"n/a"); an "item" target is on the value / items."""
        if target is None:
            return "", ""
        kind, op, x = target
        sym = {"<=": "≤", ">=": "≥", "==": "="}[op]
        cmp = {"<=": lambda a: a <= x, ">=": lambda a: a >= x, "==": lambda a: a == x}[op]
        def verdict(v, flag):  # flag: the true value is "<" or ">" than v, or "?"
            if flag == "?" or (flag and op == "=="):
                return "?"
            if not flag or (flag == "<") == (op == "<="):
                return "yes" if cmp(v) else ("?" if flag else "no")
            return "no" if not cmp(v) else "?"
        if kind in ("rclone", "curl"):
            text = f"{sym}{x:g}x {kind}"
            got, flag = ratios[0 if kind == "curl" else 1]
            return text, "n/a" if got is None else verdict(got, flag)
        text = f"{sym}{x:g}" + {"wb": " wb", "item": "/item"}.get(kind, "")
        per = items if kind == "item" else 1
        def ours(col):  # "wb": the write-back column; "item": the synchronous ones
            if kind == "wb":
                return col == "ftpsfs+wb"
            return col == "ftpsfs" if kind == "item" else col.startswith("ftpsfs")
        verdicts = [verdict(self.median(store, key, c) / per, self.bound(store, key, c))
                    for c in self.cols
                    if ours(c[0]) and self.median(store, key, c) is not None]
        if not verdicts:
            return text, "n/a"
        return text, "no" if "no" in verdicts else ("?" if "?" in verdicts else "yes")

    def report(self, workloads):
        out = []
        p = out.append
        p("")
        p(f"ftpsfs benchmark: {self.args.ftpsfs}")
        p(f"  {time.strftime('%Y-%m-%d %H:%M %Z')}, {os.cpu_count()} CPUs, median of "
          f"{self.args.runs} run(s){' (--quick)' if self.args.quick else ''}")
        p(f"  server A: {self.servers['A'].desc}  (curl, ftpsfs"
          + (", rclone)" if ("rclone", "A") in self.cols else ")"))
        if "B" in self.servers:
            p(f"  server B: {self.servers['B'].desc}  (rclone, and ftpsfs again: "
              "ftpsfs/rclone compares B with B)")
        p(f"  {version('curl')}; "
          + " ".join([version("rclone"), "mount --vfs-cache-mode off", *self.rclone_flags]))
        sections = [("loopback", "Loopback", False),
                    ("rtt", f"Through the delay proxy: {self.args.delay_ms:g} ms each way "
                            f"({2 * self.args.delay_ms:g} ms round trip)", True),
                    ("capped", f"Through the delay proxy ({2 * self.args.delay_ms:g} ms round "
                               f"trip), each connection capped at {self.args.cap_mbit:g} "
                               "Mbit/s per direction", True)]
        width = 40
        for sec, title, proxied in sections:
            ws = [w for w in workloads if w.section == sec]
            rows = [r for w in ws for r in w.rows if r.key in self.samples]
            if not rows:
                continue
            cols = self.cols + [c for w in ws for c in w.extra_cols
                                if any(c in self.samples.get(r.key, {}) for r in rows)]
            heads = [col_name(c) for c in cols]
            p("")
            p(title)
            p(f"{'workload':{width}} {'unit':>7} " + " ".join(f"{h:>10}" for h in heads)
              + f" {'f/curl':>7} {'f/rclone':>8} {'target':>12} {'met':>4}")
            for r in rows:
                cells = []
                for c in cols:
                    v = self.median(self.samples, r.key, c)
                    cell = self.bound(self.samples, r.key, c) + fmt_val(v, r.unit)
                    if c[0] == "curl" and r.key in self.tls12_rows:
                        cell += "*"
                    cells.append(cell)
                rat = self.ratios(r.key)
                tgt = r.target if r.target or proxied or r.unit in ("MiB", "files") \
                    else default_target(r.unit)
                ttext, met = self.check(tgt, r.key, self.samples, rat)
                rtext = ["?" if f == "?" else f + fmt(x, 2) for x, f in rat]
                p(f"{r.label:{width}} {r.unit:>7} " + " ".join(f"{x:>10}" for x in cells)
                  + f" {rtext[0]:>7} {rtext[1]:>8} {ttext:>12} {met:>4}")
            if proxied:
                rt_rows = [r for r in rows if r.key in self.rts]
                p("")
                p("Round trips per operation, counted by the proxy (ftpsfs's own count in "
                  "parentheses where it has one; per item after /)")
                p(f"{'workload':{width}} " + " ".join(f"{h:>14}" for h in heads)
                  + f" {'target':>8} {'met':>4}")
                for r in rt_rows:
                    cells = []
                    for c in cols:
                        v = self.median(self.rts, r.key, c)
                        own = self.median(self.own, r.key, c)
                        cell = "" if v is None else self.bound(self.rts, r.key, c) + f"{v:g}"
                        if own is not None:
                            cell += f" ({own:g})"
                        if v is not None and r.items > 1:
                            cell += f" /{v / r.items:.1f}"
                        cells.append(cell or "n/a")
                    ttext, met = self.check(r.rt_target, r.key, self.rts, (), r.items)
                    p(f"{r.label:{width}} " + " ".join(f"{x:>14}" for x in cells)
                      + f" {ttext:>8} {met:>4}")
            if sec == "capped":
                p("")
                p(self.capped_summary())
        rc = self.rclone_col()
        p("")
        p("peak RSS of any mount (VmHWM): " + ", ".join(
            f"{col_name(c)} {kib / 1024:.0f} MiB" for c, kib in self.peak.items()))
        p("")
        p(LEGEND.format(curl=" ".join(CURL_BASE),
                        rclone=col_name(rc) if rc else "rclone"))
        for n in self.notes:
            p(f"NOTE: {n}")
        print("\n".join(out))

    def capped_summary(self):
        """big-capped's own ratios: ftpsfs over one stream (target >= 3.5, issue 17) and over
        lftp pget -n 4."""
        f = self.median(self.samples, "capped_read", ("ftpsfs", "A"))
        one = self.median(self.samples, "capped_read", ("ftpsfs-pr0", "A"))
        lftp = self.median(self.samples, "capped_read", ("lftp", "A"))
        parts = []
        if f and one:
            parts.append(f"ftpsfs[A] / ftpsfs-pr0[A] (one stream) = {f / one:.2f} "
                         f"(target >= 3.5: {'yes' if f / one >= 3.5 else 'no'})")
        if f and lftp:
            parts.append(f"ftpsfs[A] / lftp pget -n 4 = {f / lftp:.2f}")
        return "; ".join(parts) or "big-capped: no ratio (a column is missing)"

    def write_json(self, path, workloads):
        out = {"ftpsfs": str(self.args.ftpsfs), "runs": self.args.runs,
               "quick": self.args.quick, "sizes": self.n, "delay_ms": self.args.delay_ms,
               "curl_tls_1_2_rows": sorted(self.tls12_rows),
               "servers": {k: srv.desc for k, srv in self.servers.items()},
               "rclone_flags": self.rclone_flags, "notes": self.notes,
               "peak_rss_kib": {col_name(c): k for c, k in self.peak.items()},
               "results": {}}
        for w in workloads:
            for r in w.rows:
                if r.key not in self.samples:
                    continue
                rat = self.ratios(r.key)
                out["results"][r.key] = {
                    "workload": w.name, "label": r.label, "unit": r.unit,
                    "median": {col_name(c): self.median(self.samples, r.key, c)
                               for c in self.samples[r.key]},
                    "samples": {col_name(c): v for c, v in self.samples[r.key].items()},
                    "round_trips": {col_name(c): v for c, v in self.rts.get(r.key, {}).items()},
                    "connections": {col_name(c): v
                                    for c, v in self.conns.get(r.key, {}).items()},
                    "ftpsfs_round_trips": {col_name(c): v
                                           for c, v in self.own.get(r.key, {}).items()},
                    "ftpsfs/curl": rat[0][0], "ftpsfs/rclone": rat[1][0],
                    "stopped_at_step_limit": sorted(col_name(c) for (k, c) in self.over
                                                    if k == r.key),
                    "target": r.target, "rt_target": r.rt_target}
        Path(path).write_text(json.dumps(out, indent=2) + "\n")


LEGEND = """\
Values are medians. Higher is better for MiB/s, files/s, IOPS; lower for s, ms, MiB and round
trips. Ratios are ftpsfs's median over the other's: f/curl = ftpsfs[A]/curl[A],
f/rclone = ftpsfs/{rclone} on the same server (for a time, < 1 is ftpsfs faster; for a rate,
> 1 is). "target" is the issue's (information, not a test); without a row target, loopback
rows carry the blanket "every workload >= 1.0x rclone"; absolute targets hold for every
ftpsfs column.
- Mounts: a fresh one for every timed step (cold caches); mounting is not timed. ftpsfs logs in
  while mounting, rclone at its first access (its cold steps include a login).
- curl: one process per step, its own login included (~50-80 ms on vsftpd, 6 round trips),
  {curl}; many files = one connection (URL globs).
- Through the proxy every client connects to 127.0.0.2 and the proxy delays each chunk by the
  one-way delay in each direction (data connections too). Round trip = 1 per TCP connect +
  1 each time the server sends after the client sent (or connected) on that connection, summed
  over all connections; see bench/README.md."""


class Workload:
    """extra_cols: columns of this workload only; section: the report's table ("loopback",
    "rtt", "capped"; by default from proxied); wb: also measured with -o writeback
    (column ftpsfs+wb)."""

    def __init__(self, name, fn, rows, proxied=False, curl=True, help="", wb=False,
                 extra_cols=(), section=None):
        self.name, self.fn, self.rows, self.proxied = name, fn, rows, proxied
        self.curl, self.help = curl, help
        self.wb = wb
        self.extra_cols = list(extra_cols)
        self.section = section or ("rtt" if proxied else "loopback")


def workloads(n):
    tree = n["tree_dirs"] * n["tree_files"]
    big = f"{n['big_mib'] // 1024} GiB" if n["big_mib"] >= 1024 else f"{n['big_mib']} MiB"
    huge = f"{n['huge']:,}"
    rs = n["rsync"]
    k = n["rtt_small"]
    W, R = Workload, Row
    return [
        W("find", Bench.w_find, [R("find", f"find, {tree:,}-file tree, cold", "s",
                                   ("rclone", "<=", 0.5))],
          help=f"find of a {n['tree_dirs']}x{n['tree_files']} tree (curl: LIST of each dir)"),
        W("stat3", Bench.w_stat3, [R("stat3", "stat 3 levels deep, cold", "ms",
                                     ("rclone", "<=", 0.5))],
          help="stat of l1/l2/l3/file on a fresh mount (curl: -I)"),
        W("cat", Bench.w_cat, [R("cat", f"cat {n['small']:,} x 4 KiB files, cold", "files/s",
                                 ("rclone", ">=", 1.5))],
          help="cat dir/* of 4 KiB files (curl: URL glob)"),
        W("write", Bench.w_write, [R("write", f"sequential write {big}", "MiB/s",
                                     ("curl", ">=", 0.9))],
          help="dd bs=1M into the mount, until the server has it all (curl: -T)"),
        W("read", Bench.w_read, [R("read", f"sequential read {big}", "MiB/s",
                                   ("curl", ">=", 0.9))],
          help="dd bs=1M out of the mount (curl: RETR)"),
        W("lsR", Bench.w_lsR, [R("lsR", f"ls -lR, {tree:,}-file tree, cold", "s")],
          help="ls -lR of the tree (curl: LIST of each dir)"),
        W("randread", Bench.w_randread, [R("randread", "random 4 KiB reads in big file",
                                           "IOPS")],
          help=f"pread at random 4 KiB blocks, {n['rand_reads']} or {n['rand_secs']} s "
               f"(curl: {n['curl_ranges']} ranges, one process)"),
        W("cpr", Bench.w_cpr, [R("cpr", f"cp -r {n['small']:,} x 4 KiB files", "files/s")],
          help="cp -r of a local directory into the mount, until all landed (curl: -T glob)",
          wb=True),
        W("stat", Bench.w_stat, [
            R("stat_cold", f"stat {n['meta']:,} files, cold", "ms"),
            R("stat_warm", f"stat {n['meta']:,} files, warm", "ms")],
          help="os.stat of every file of one directory, then again (curl: -I glob)"),
        W("huge", Bench.w_huge, [
            R("huge_lsf", f"ls -f, {huge}-file dir, cold", "s", ("curl", "<=", 1.5)),
            R("huge_lsl", f"ls -l, {huge}-file dir, cold", "s"),
            R("huge_rss", "  daemon VmRSS after that ls -l", "MiB", ("abs", "<=", 32)),
            R("huge_hwm", "  daemon VmHWM after that ls -l", "MiB"),
            R("huge_forgot", "  VmRSS growth 5 s after drop_caches", "MiB",
              ("abs", "<=", 16))],
          help="one directory of many files, created on disk (curl: one LIST, both rows)"),
        W("huge-mem", Bench.w_huge_mem, [
            R("huge4_lsf", f"ls -f, {n['huge4']:,}-file dir, cold", "s", ("curl", "<=", 2.0)),
            R("huge4_lsf_hwm", "  daemon VmHWM after that ls -f", "MiB", ("abs", "<=", 128)),
            R("huge10_lsf", f"ls -f, {n['huge10']:,}-file dir, cold", "s",
              ("curl", "<=", 2.0)),
            R("huge10_lsf_hwm", "  daemon VmHWM after that ls -f", "MiB", ("abs", "<=", 200)),
            R("huge10_lsl", f"ls -l, {n['huge10']:,}-file dir, cold", "s"),
            R("huge10_lsl_hwm", "  daemon VmHWM after that ls -l", "MiB", ("abs", "<=", 200))],
          help="directories of 400,000 and 1,000,000 files: peak RSS (curl: one LIST each)"),
        W("rsync", Bench.w_rsync, [
            R("rsync1", f"rsync -a {rs} files, 1st run", "s"),
            R("rsync1_files", "  files transferred, 1st run", "files"),
            R("rsync2", f"rsync -a {rs} files again, fresh mount", "s"),
            R("rsync2_files", "  files transferred, 2nd run", "files", ("abs", "==", 0))],
          curl=False, help="rsync -a --stats of a 10-dir tree, twice (fresh mounts)"),
        # --- through the delay proxy
        W("rtt-login", Bench.w_login, [
            R("rtt_login", "log in (mount; curl -I of /) + stat /", "ms")], proxied=True,
          help="mount (not cold: until a stat of its root returns) / curl -I ftp://host/"),
        W("rtt-mountls", Bench.w_mount_ls, [
            R("rtt_mountls", f"mount, then ls -l of a subdirectory ({k} files)", "ms",
              ("rclone", "<=", 0.6))], proxied=True,
          help="mount until the first ls -l of a subdirectory returns (curl: LIST, login "
               "included)"),
        W("rtt-find", lambda b, c, i: b.w_find(c, i, True), [
            R("rtt_find", f"find, {tree:,}-file tree, cold", "s", ("rclone", "<=", 0.4),
              items=n["tree_dirs"] + 1)], proxied=True),
        W("rtt-lsR", lambda b, c, i: b.w_lsR(c, i, True), [
            R("rtt_lsR", f"ls -lR, {tree:,}-file tree, cold", "s",
              items=n["tree_dirs"] + 1)], proxied=True),
        W("rtt-stat3", lambda b, c, i: b.w_stat3(c, i, True), [
            R("rtt_stat3", "stat 3 levels deep, cold", "ms", ("rclone", "<=", 0.6))],
          proxied=True),
        W("rtt-ls", Bench.w_ls, [
            R("rtt_ls", f"list one directory ({k} files, ls -l)", "ms",
              rt_target=("abs", "<=", 4))], proxied=True,
          help="ls -l of a directory whose lookup is done (curl: LIST)"),
        W("rtt-read1", Bench.w_read1, [
            R("rtt_read1", "read one small file (4 KiB)", "ms",
              rt_target=("abs", "<=", 3))], proxied=True,
          help="open+read+close of a 4 KiB file, its directory listed (curl: RETR)"),
        W("rtt-cat", lambda b, c, i: b.w_cat(c, i, True), [
            R("rtt_cat", f"cat {k} x 4 KiB files, cold", "s", ("rclone", "<=", 0.3),
              items=k)], proxied=True),
        W("rtt-stat", lambda b, c, i: b.w_stat(c, i, True), [
            R("rtt_stat_cold", f"stat {n['meta']:,} files, cold", "s"),
            R("rtt_stat_warm", f"stat {n['meta']:,} files, warm", "s")],
          proxied=True, curl=False),
        W("rtt-cpr", lambda b, c, i: b.w_cpr(c, i, True), [
            R("rtt_cpr", f"cp -r {k} x 4 KiB files, all on server", "s", items=k,
              rt_target=("item", "<=", 4)),
            R("rtt_cpr_ret", "  cp -r returned after", "s", ("wb", "<=", 1.0))],
          proxied=True, wb=True,
          help="cp -r into the mount: until all landed, and until cp returned (write-back "
               "target: returns in <= 1 s, all on the server <= 4 s later)"),
        W("rtt-rsync", lambda b, c, i: b.w_rsync(c, i, True), [
            R("rtt_rsync1", f"rsync -a {k} files, 1st run", "s", items=k,
              rt_target=("item", "<=", 6)),
            R("rtt_rsync1_files", "  files transferred, 1st run", "files"),
            R("rtt_rsync2", f"rsync -a {k} files again, fresh mount", "s", items=k),
            R("rtt_rsync2_files", "  files transferred, 2nd run", "files", ("abs", "==", 0))],
          proxied=True, curl=False),
        W("rtt-huge", Bench.w_rtt_huge, [
            R("rtt_huge", f"ls -f, {huge}-file dir, cold", "s")], proxied=True),
        W("rtt-read", lambda b, c, i: b.w_read(c, i, True), [
            R("rtt_read", f"sequential read {n['rtt_read_mib']} MiB", "MiB/s")],
          proxied=True),
        W("big-capped", Bench.w_capped, [
            R("capped_read", f"read {n['capped_mib']} MiB", "MiB/s"),
            R("capped_ranges", "  ftpsfs: parallel ranges fetched", "files")],
          proxied=True, section="capped", extra_cols=[("ftpsfs-pr0", "A"), ("lftp", "A")],
          help=f"dd of a {n['capped_mib']} MiB file at 20 ms, each connection capped by the "
               "proxy (--cap-mbit, 100); columns ftpsfs-pr0 (parallel_reads=0) and lftp "
               "(pget -n 4) too"),
    ]


def check_dd(r, size):
    m = re.search(r"^(\d+) bytes", r.err, re.M)
    if not m or int(m.group(1)) != size:
        raise RuntimeError(f"dd moved {m.group(1) if m else '?'} bytes, not {size}")


def col_name(col):
    return f"{col[0]}[{col[1]}]"


def stop_rclone(proc, mnt):
    subprocess.run(["fusermount3", "-u", "-z", str(mnt)], stderr=subprocess.DEVNULL)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def version(tool):
    if not shutil.which(tool):
        return f"{tool}: n/a (not installed)"
    p = subprocess.run([tool, "--version"], capture_output=True, text=True)
    return p.stdout.split("\n")[0].split(" (")[0] if p.returncode == 0 else f"{tool}: n/a"


def fmt(x, digits):
    return "n/a" if x is None else f"{x:.{digits}f}"


def fmt_val(v, unit):
    if v is None:
        return "n/a"
    if unit == "ms":
        v *= 1000
    if unit == "files":
        return f"{v:g}"
    return f"{v:.3g}" if abs(v) < 100 else f"{v:.0f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="1 run, smaller sizes (a few minutes; for development)")
    ap.add_argument("--runs", type=int, help="median of N (3; --quick: 1)")
    ap.add_argument("--size-mib", type=int, help="sequential file size (1024; --quick: 64)")
    ap.add_argument("--only", help="comma-separated workloads or groups (loopback, rtt); "
                                   "see --list")
    ap.add_argument("--list", action="store_true", help="list the workloads and exit")
    ap.add_argument("--delay-ms", type=float, default=10.0,
                    help="the proxy's one-way delay (10: a 20 ms round trip)")
    ap.add_argument("--cap-mbit", type=float, default=100.0,
                    help="big-capped: the proxy's rate cap per connection (100 Mbit/s)")
    ap.add_argument("--step-limit", type=float,
                    help="stop a step after this many seconds, shown as >N (60; --quick: 20)")
    ap.add_argument("--ftpsfs", type=Path, default=REPO / "build" / "ftpsfs")
    ap.add_argument("--json", type=Path, help="also write the numbers here")
    ap.add_argument("--keep", action="store_true", help="keep the work dir (logs)")
    args = ap.parse_args()
    args.runs = args.runs or (1 if args.quick else 3)
    args.step_limit = args.step_limit or (20 if args.quick else 60)
    args.ftpsfs = args.ftpsfs.resolve()
    sizes = {k: v[1 if args.quick else 0] for k, v in SIZES.items()}
    if args.size_mib:
        sizes["big_mib"] = args.size_mib
    all_w = workloads(sizes)
    if args.list:
        for w in all_w:
            print(f"{w.name:14} {'rtt ' if w.proxied else 'loopback'}  "
                  + (w.help or "; ".join(r.label for r in w.rows)))
        return
    chosen = all_w
    if args.only:
        want = {x.strip() for x in args.only.split(",") if x.strip()}
        names = {w.name for w in all_w}
        bad = want - names - {"loopback", "rtt"}
        if bad:
            sys.exit(f"unknown workload(s): {', '.join(sorted(bad))} (see --list)")
        chosen = [w for w in all_w if w.name in want or ("rtt" if w.proxied else "loopback")
                  in want]
    if os.geteuid() != 0:
        sys.exit("bench.py must run as root (servers, test user, FUSE)")
    if not os.access(args.ftpsfs, os.X_OK):
        sys.exit(f"no ftpsfs binary at {args.ftpsfs} (build it or pass --ftpsfs)")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally blocks

    b = Bench(args)
    try:
        with b.stack:
            b.setup()
            for w in chosen:
                b.measure(w)
    finally:
        if args.keep:
            print(f"work dir kept: {b.work}", file=sys.stderr)
        else:
            shutil.rmtree(b.work, ignore_errors=True)
    b.report(chosen)
    print(f"(total {time.monotonic() - b.started:.0f} s)")
    if args.json:
        b.write_json(args.json, chosen)


if __name__ == "__main__":
    main()
