#!/usr/bin/python3
"""ftpsfs benchmark: ftpsfs vs curl vs rclone mount on loopback vsftpd (stdlib only).

Not a test: it prints absolute numbers and ratios measured in one run. See bench/README.md.

    /usr/bin/python3 bench/bench.py [--quick] [--runs N] [--size-mib M] [--ftpsfs PATH]
                                    [--json FILE] [--keep]
"""

import argparse
import contextlib
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "integration"))
from mount import Mount, is_fuse_mounted  # noqa: E402
from servers import Certs, TestUser, Vsftpd, _bindable  # noqa: E402

MiB = 1 << 20
N_SMALL, SMALL_SIZE, N_META = 500, 4096, 1000
SMALL = [f"f{i:03d}" for i in range(N_SMALL)]   # curl glob: f[000-499]
META = [f"f{i:04d}" for i in range(N_META)]     # curl glob: f[0000-0999]
# curl 7.88 tuned for many files on one connection (untuned, 500 small files took 1-2 min):
# with EPSV it often stalls 1 s before the data connection (PASV with the control connection's
# address does not), and before each RETR it sends SIZE, whose reply comes ~200 ms late.
CURL_BASE = ["--disable-epsv", "--ftp-skip-pasv-ip"]
CURL_GET = ["--ignore-content-length", "-o", "/dev/null"]
QUIET_LOGS = {"log_ftp_protocol": "NO", "debug_ssl": "NO"}  # logging off: it's a benchmark

# (key, label, unit); MiB/s: higher is better, everything else: lower is better
ROWS = [
    ("download", "sequential download {size}", "MiB/s"),
    ("upload", "sequential upload {size}", "MiB/s"),
    ("small_up", f"upload {N_SMALL} x 4 KiB", "ms"),
    ("small_ls", f"list {N_SMALL} files", "ms"),
    ("small_read", f"read {N_SMALL} x 4 KiB back", "ms"),
    ("stat_cold", f"stat {N_META} files, cold", "ms"),
    ("stat_warm", f"stat {N_META} files, warm", "ms"),
    ("rss_download", "peak RSS: download", "MiB"),
    ("rss_upload", "peak RSS: upload", "MiB"),
    ("rss_small", "peak RSS: small files", "MiB"),
    ("rss_meta", "peak RSS: stat", "MiB"),
    ("rss_max", "peak RSS: whole run", "MiB"),
]


LEGEND = """\
MiB/s: higher is better; ms, MiB: lower is better (a ratio > 1 is ftpsfs faster for MiB/s,
slower or bigger for the rest). Times: best of the runs, wall clock.
- Mounts: a fresh one for every timed step (cold caches); mounting is not timed. Each curl
  call includes its own login (~50-80 ms on vsftpd).
- curl: {curl}, downloads with --ignore-content-length (tuned; see
  CURL_BASE in bench.py). Many files = one curl process, one control connection: upload
  -T 'f[000-{n}]', list = LIST, read = URL glob f[000-{n}], stat = -I (MDTM+SIZE per file).
- Mounts: upload = cp (big) / tar -x -m --no-same-owner --no-same-permissions (no mtime,
  chmod, chown: like curl), list = ls -lR, read = cat dir/*, stat = os.stat() of each path
  (cold: first after mounting; warm: the same again).
- RSS: VmHWM of each mount process, the largest over that step's mounts."""


class BenchUser(TestUser):
    """An account of our own: vsftpd chdirs into the user's home at login, and the test
    suites running meanwhile keep pointing ftpsfstest's home at their (short-lived) roots."""
    name = "ftpsfsbench"
    password = "Pw-ftpsfs-b3nch!"


def pasv_range(taken, size=256):
    """A passive range of our own in 10000-19999: below the range the test harness uses
    (20000-32000) and big enough that rapid reconnects don't hit TIME_WAIT 4-tuples (with
    16 ports, curl saw 1 s SYN retransmits)."""
    for low in range(10000, 20000 - size, size):
        if low not in taken and all(_bindable(p) for p in range(low, low + size)):
            taken.add(low)
            return {"pasv_min_port": low, "pasv_max_port": low + size - 1}
    raise RuntimeError("no free passive port range in 10000-19999")


class CmdError(RuntimeError):
    pass


def run(argv, quiet=False, **kw):
    """Run a command, stdout to /dev/null; its wall-clock seconds. Raises CmdError if it
    fails, or (quiet=True) if it printed anything on stderr."""
    t = time.perf_counter()
    p = subprocess.run([str(a) for a in argv], stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True, **kw)
    dt = time.perf_counter() - t
    if p.returncode or (quiet and p.stderr):
        lines = [x.strip() for x in p.stderr.splitlines() if x.strip()]
        last = " | ".join(dict.fromkeys(lines[-2:]))  # the last two, without repeats
        raise CmdError(f"{Path(str(argv[0])).name} exit {p.returncode}, {len(lines)} error "
                       f"line(s), last: {last}")
    return dt


def vm_hwm_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


class Bench:
    def __init__(self, args):
        self.args = args
        self.size = args.size_mib * MiB
        self.work = Path(tempfile.mkdtemp(prefix="ftpsfs-bench-"))
        self.work.chmod(0o755)  # the servers chdir into root/ as the test user
        self.stack = contextlib.ExitStack()
        self.servers = {}       # "A"/"B" -> Vsftpd
        self.cols = []          # (client, server label)
        self.times = {}         # row -> col -> [seconds]
        self.rss = {}           # row -> col -> KiB
        self.notes = []
        self.curl_tls12 = False  # curl uploads switched to --tls-max 1.2
        self.tls12_rows = set()   # rows with a curl run on TLS 1.2
        self.rclone_flags = []
        self.pasv_taken = set()
        self.counter = itertools.count()
        self.started = time.monotonic()

    # --- setup --------------------------------------------------------------------------------

    def setup(self):
        self.certs = Certs(self.work / "certs")
        self.user = BenchUser()
        self.root = self.work / "root"
        self.root.mkdir(mode=0o755)
        rnd = os.urandom(8 * MiB)
        with open(self.root / "big", "wb") as f:
            for off in range(0, self.size, len(rnd)):
                f.write(rnd[:min(len(rnd), self.size - off)])
        (self.root / "small").mkdir()
        (self.root / "meta").mkdir()
        for i, n in enumerate(SMALL):
            (self.root / "small" / n).write_bytes(rnd[i * SMALL_SIZE:(i + 1) * SMALL_SIZE])
        for n in META:
            (self.root / "meta" / n).write_bytes(b"x" * 100)
        self.user.chown_tree(self.root)
        self.tar = self.work / "small.tar"
        with tarfile.open(self.tar, "w") as t:
            for n in SMALL:
                t.add(self.root / "small" / n, arcname=n)
        run(["cat", self.root / "big"])  # source/served file in the page cache for everyone
        (self.work / "netrc").write_text(
            f"machine 127.0.0.1 login {self.user.name} password {self.user.password}\n")
        self.servers["A"] = self.start_server("A")
        self.cols = [("curl", "A"), ("ftpsfs", "A")]
        self.setup_rclone()

    def start_server(self, label, reuse="YES", tls_max=None):
        workdir = self.work / f"vsftpd-{label}{next(self.counter)}"
        srv = Vsftpd(self.root, self.certs, self.user, workdir=workdir, tls_max=tls_max,
                     extra={**QUIET_LOGS, **pasv_range(self.pasv_taken),
                            "require_ssl_reuse": reuse})
        srv.desc = f"vsftpd, TLS {tls_max or '1.3'}, require_ssl_reuse={reuse}"
        self.stack.callback(srv.stop)
        return srv.start()

    def rclone_env(self, srv):
        obscured = subprocess.run(["rclone", "obscure", "-"], input=self.user.password,
                                  capture_output=True, text=True, check=True).stdout.strip()
        return dict(os.environ, RCLONE_CONFIG=str(self.work / "rclone.conf"),
                    RCLONE_CONFIG_BENCH_TYPE="ftp", RCLONE_CONFIG_BENCH_HOST="127.0.0.1",
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
            for cmd in (["lsf", "bench:"], ["cat", "bench:small/f000"],
                        *[["copyto", probe, "bench:probe.bin"]] * 3):
                run(["rclone", *cmd, *quick_fail], env=self.rclone_env(srv), timeout=60)
                if cmd[0] == "copyto" and (self.root / "probe.bin").read_bytes() != \
                        probe.read_bytes():
                    return "uploaded file differs"
        except (CmdError, OSError, subprocess.TimeoutExpired) as e:
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

    # --- clients ------------------------------------------------------------------------------

    def curl(self, srv, path, *extra, cwd=None, tls12=False):
        # -sS: only errors on stderr. curl goes on after a failed file of a glob (exit 0 if
        # the last one worked), so any stderr output counts as a failure.
        return run(["curl", "-sS", "--ssl-reqd", "--cacert", self.certs.ca_file,
                    "--netrc-file", self.work / "netrc", *CURL_BASE,
                    *(["--tls-max", "1.2"] if tls12 else []), *extra,
                    f"ftp://127.0.0.1:{srv.port}/{path}"], quiet=True, cwd=cwd)

    def curl_upload(self, row, upload):
        """upload(tls12) -> seconds, raising on any failure. If curl fails on TLS 1.3 (SERVERS.md:
        vsftpd refuses some of its TLS 1.3 data connections), retry and go on with TLS 1.2."""
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
    def mounted(self, col, rss_row):
        client, label = col
        srv = self.servers[label]
        mnt = self.work / f"mnt-{client}{label}-{next(self.counter)}"
        log = self.work / f"{client}{label}.log"
        stop = lambda: None  # noqa: E731
        try:
            if client == "ftpsfs":
                m = Mount(self.args.ftpsfs, srv.url("/"), mnt, self.user.password,
                          debug=False, cafile=self.certs.ca_file, log_path=log)
                stop = m.stop
                m.start()
                pid = m.proc.pid
            else:
                mnt.mkdir()
                with open(log, "ab") as out:
                    proc = subprocess.Popen(["rclone", "mount", "bench:", mnt,
                                             "--vfs-cache-mode", "off", *self.rclone_flags],
                                            env=self.rclone_env(srv), stdin=subprocess.DEVNULL,
                                            stdout=out, stderr=subprocess.STDOUT,
                                            start_new_session=True)
                pid, stop = proc.pid, lambda: stop_rclone(proc, mnt)
                deadline = time.monotonic() + 20
                while not is_fuse_mounted(mnt):
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"rclone mount failed, see {log}")
                    time.sleep(0.05)
            yield mnt
            kib = vm_hwm_kib(pid)
            for row in (rss_row, "rss_max"):
                cur = self.rss.setdefault(row, {})
                cur[col] = max(cur.get(col, 0), kib)
        finally:
            stop()

    # --- measurements: each returns {row: seconds} for one run of one column -----------------

    def m_download(self, col, i):
        if col[0] == "curl":
            return {"download": self.curl(self.servers[col[1]], "big", *CURL_GET)}
        with self.mounted(col, "rss_download") as mnt:
            t = run(["cat", mnt / "big"])
            run(["cmp", mnt / "big", self.root / "big"])  # untimed: were those the bytes?
            return {"download": t}

    def check_big(self, dest):
        try:
            size = dest.stat().st_size
        finally:
            dest.unlink(missing_ok=True)
        if size != self.size:
            raise RuntimeError(f"uploaded {size} bytes, not {self.size}")

    def m_upload(self, col, i):
        dest = self.root / f"up-{col[0]}{col[1]}-{i}"
        if col[0] == "curl":
            def upload(tls12):
                t = self.curl(self.servers[col[1]], dest.name, "-T", self.root / "big",
                              tls12=tls12)
                self.check_big(dest)
                return t
            return {"upload": self.curl_upload("upload", upload)}
        with self.mounted(col, "rss_upload") as mnt:
            t = run(["cp", self.root / "big", mnt / dest.name])
        self.check_big(dest)
        return {"upload": t}

    def new_dir(self, col):
        d = self.root / f"small-{col[0]}{col[1]}-{next(self.counter)}"
        d.mkdir()
        os.chown(d, self.user.uid, self.user.gid)
        return d

    def check_small(self, d):
        got = sorted(p.name for p in d.iterdir())
        if got != SMALL or any((d / n).stat().st_size != SMALL_SIZE for n in got):
            raise RuntimeError(f"small-file upload incomplete: {len(got)} files in {d.name}")

    def m_small(self, col, i):
        srv = self.servers[col[1]]
        out = {}
        if col[0] == "curl":
            def upload(tls12):
                d = self.new_dir(col)
                t = self.curl(srv, d.name + "/", "-T", f"f[000-{N_SMALL - 1}]",
                              cwd=self.root / "small", tls12=tls12)
                self.check_small(d)
                return t
            out["small_up"] = self.curl_upload("small_up", upload)
            out["small_ls"] = self.curl(srv, "small/")
            out["small_read"] = self.curl(srv, f"small/f[000-{N_SMALL - 1}]", *CURL_GET)
            return out
        # -m, --no-same-*: no mtime/chmod/chown per file, like curl (vsftpd can't set
        # directory times anyway). List and read use fresh mounts: cold caches.
        d = self.new_dir(col)
        with self.mounted(col, "rss_small") as mnt:
            out["small_up"] = run(["tar", "-x", "-m", "--no-same-owner",
                                   "--no-same-permissions", "-f", self.tar, "-C", mnt / d.name])
        self.check_small(d)
        with self.mounted(col, "rss_small") as mnt:
            out["small_ls"] = run(["ls", "-lR", mnt / "small"])
        with self.mounted(col, "rss_small") as mnt:
            out["small_read"] = run(["sh", "-c", 'cat "$1"/*', "sh", mnt / "small"])
        return out

    def m_meta(self, col, i):
        if col[0] == "curl":  # SIZE + MDTM per file on one connection
            return {"stat_cold": self.curl(self.servers[col[1]],
                                           f"meta/f[0000-{N_META - 1}]", "-I")}
        with self.mounted(col, "rss_meta") as mnt:
            paths = [mnt / "meta" / n for n in META]
            out = {}
            for row in ("stat_cold", "stat_warm"):
                t = time.perf_counter()
                for p in paths:
                    os.stat(p)
                out[row] = time.perf_counter() - t
            return out

    def measure(self, name, fn):
        """Best of N, the columns interleaved within each run (fairer under varying load)."""
        print(f"# {name} ({time.monotonic() - self.started:.0f} s)", file=sys.stderr,
              flush=True)
        failed = set()
        for i in range(self.args.runs):
            for col in self.cols:
                if col in failed:
                    continue
                try:
                    out = fn(col, i)
                except Exception as e:  # noqa: BLE001 - report, keep measuring the others
                    failed.add(col)
                    self.notes.append(f"FAILED {name} with {col[0]}[{col[1]}]: {e}")
                    continue
                for row, secs in out.items():
                    self.times.setdefault(row, {}).setdefault(col, []).append(secs)

    # --- report -------------------------------------------------------------------------------

    def values(self):
        vals = {}
        for key, _, unit in ROWS:
            if unit == "MiB":
                vals[key] = {c: k / 1024 for c, k in self.rss.get(key, {}).items()}
            elif unit == "MiB/s":
                vals[key] = {c: self.size / min(t) / MiB for c, t in
                             self.times.get(key, {}).items()}
            else:
                vals[key] = {c: min(t) * 1000 for c, t in self.times.get(key, {}).items()}
        return vals

    def ratios(self, v):
        rclone = next((c for c in self.cols if c[0] == "rclone"), None)
        def r(a, b):
            return v[a] / v[b] if a in v and b in v and v[b] else None
        return (r(("ftpsfs", "A"), ("curl", "A")),
                r(("ftpsfs", rclone[1]), rclone) if rclone else None)

    def report(self):
        vals = self.values()
        size = f"{self.args.size_mib} MiB"
        heads = [f"{c}[{s}]" for c, s in self.cols] + ["ftpsfs/curl", "ftpsfs/rclone"]
        print()
        print(f"ftpsfs benchmark: {self.args.ftpsfs}, best of {self.args.runs}, loopback, "
              f"{os.cpu_count()} CPUs")
        print(f"  server A: {self.servers['A'].desc}  (curl, ftpsfs"
              + (", rclone)" if ("rclone", "A") in self.cols else ")"))
        if "B" in self.servers:
            print(f"  server B: {self.servers['B'].desc}  (rclone, and ftpsfs again: "
                  "ftpsfs/rclone compares B with B)")
        print(f"  {version('curl')}; "
              + " ".join([version("rclone"), "mount --vfs-cache-mode off", *self.rclone_flags]))
        print()
        print(f"{'measurement':34} {'unit':>5} " + " ".join(f"{h:>13}" for h in heads))
        for key, label, unit in ROWS:
            v = vals[key]
            cells = [fmt(v.get(c), 1) + ("*" if c[0] == "curl" and key in self.tls12_rows
                                         else "") for c in self.cols]
            cells += [fmt(x, 2) for x in self.ratios(v)]
            print(f"{label.format(size=size):34} {unit:>5} "
                  + " ".join(f"{x:>13}" for x in cells))
        print()
        print(LEGEND.format(n=N_SMALL - 1, curl=" ".join(CURL_BASE)))
        for n in self.notes:
            print(f"NOTE: {n}")
        return vals

    def write_json(self, path, vals):
        col = "{}[{}]".format
        out = {"ftpsfs": str(self.args.ftpsfs), "runs": self.args.runs,
               "size_mib": self.args.size_mib, "curl_tls_1_2_rows": sorted(self.tls12_rows),
               "servers": {k: srv.desc for k, srv in self.servers.items()},
               "rclone_flags": self.rclone_flags,
               "notes": self.notes, "results": {}}
        for key, label, unit in ROWS:
            rc, rr = self.ratios(vals[key])
            out["results"][key] = {
                "label": label.format(size=f"{self.args.size_mib} MiB"), "unit": unit,
                "values": {col(*c): x for c, x in vals[key].items()},
                "seconds": {col(*c): t for c, t in self.times.get(key, {}).items()},
                "ftpsfs/curl": rc, "ftpsfs/rclone": rr}
        Path(path).write_text(json.dumps(out, indent=2) + "\n")


def stop_rclone(proc, mnt):
    subprocess.run(["fusermount3", "-u", "-z", str(mnt)], stderr=subprocess.DEVNULL)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def version(tool):
    p = subprocess.run([tool, "--version"], capture_output=True, text=True)
    return p.stdout.split("\n")[0].split(" (")[0] if p.returncode == 0 else f"{tool}: n/a"


def fmt(x, digits):
    return "n/a" if x is None else f"{x:.{digits}f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="64 MiB, 1 run (for development)")
    ap.add_argument("--runs", type=int, help="best of N (3; --quick: 1)")
    ap.add_argument("--size-mib", type=int, help="large file size (512; --quick: 64)")
    ap.add_argument("--ftpsfs", type=Path, default=REPO / "build" / "ftpsfs")
    ap.add_argument("--json", type=Path, help="also write the numbers here")
    ap.add_argument("--keep", action="store_true", help="keep the work dir (logs)")
    args = ap.parse_args()
    args.runs = args.runs or (1 if args.quick else 3)
    args.size_mib = args.size_mib or (64 if args.quick else 512)
    args.ftpsfs = args.ftpsfs.resolve()
    if os.geteuid() != 0:
        sys.exit("bench.py must run as root (servers, test user, FUSE)")
    if not os.access(args.ftpsfs, os.X_OK):
        sys.exit(f"no ftpsfs binary at {args.ftpsfs} (build it or pass --ftpsfs)")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally blocks

    b = Bench(args)
    try:
        with b.stack:
            b.setup()
            b.measure("sequential download", b.m_download)
            b.measure("sequential upload", b.m_upload)
            b.measure("small files", b.m_small)
            b.measure("metadata", b.m_meta)
    finally:
        if args.keep:
            print(f"work dir kept: {b.work}", file=sys.stderr)
        else:
            shutil.rmtree(b.work, ignore_errors=True)
    vals = b.report()
    print(f"(total {time.monotonic() - b.started:.0f} s)")
    if args.json:
        b.write_json(args.json, vals)


if __name__ == "__main__":
    main()
