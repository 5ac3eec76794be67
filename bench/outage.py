#!/usr/bin/python3
"""Outage benchmark: what a server restart costs a job on an ftpsfs mount (stdlib only).

Not a test: it prints, per server, job and outage, how many files failed, whether every byte
is exact, how long the job took and what the mount logged, and never fails on a number.

    /usr/bin/python3 bench/outage.py [--servers vsftpd,proftpd] [--outages 5,40]
                                     [--files N] [--delay-ms MS] [--ftpsfs PATH] [--keep]

Each cell: a fresh mount through bench/delayproxy.py (every connection gets a round trip of
2 x --delay-ms, so the job lasts), a job over --files files of 4 KiB, and 4 s into the job every
process of the server (the listener and every session) killed; the server starts again on the
same ports after the outage. Jobs: `read` (each file opened, read whole and compared with what
was written) and `cp -r` of a local tree onto the mount (compared with the server's disk
afterwards). Two more rows: an outage longer than op_timeout (the read job with op_timeout=10,
server away 25 s: files must fail with an error, and within op_timeout + timeout, never with
wrong data), and the 5 s outage on a `soft` mount (fails fast, by design). See bench/README.md.
"""

import argparse
import contextlib
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "integration"))
sys.path.insert(0, str(Path(__file__).parent))
from bench import PROXY_HOST, Proxy, pasv_range  # noqa: E402
from mount import Mount  # noqa: E402
from servers import Certs, Proftpd, TestUser, Vsftpd  # noqa: E402

SIZE = 4096
KILL_AFTER = 4.0     # seconds into the job
JOB_LIMIT = 600      # a job still running after this is stopped and reported
TIMEOUT = 30         # ftpsfs -o timeout (the default)

# The read job: one file after another, each opened, read whole and compared; one JSON line
# per file on stdout ({"i", "ok" or "errno", "secs"}): the benchmark counts as it goes.
READ_JOB = r"""
import hashlib, json, os, sys, time
d, want = sys.argv[1], json.load(open(sys.argv[2]))
for i, name in enumerate(sorted(want)):
    t = time.monotonic()
    try:
        with open(os.path.join(d, name), "rb") as f:
            ok = hashlib.sha256(f.read()).hexdigest() == want[name]
        rec = {"i": i, "ok": ok}
    except OSError as e:
        rec = {"i": i, "errno": e.errno}
    rec["secs"] = round(time.monotonic() - t, 3)
    print(json.dumps(rec), flush=True)
"""


class OutageUser(TestUser):
    """An account of our own (see bench.py's BenchUser): its home stays "/"."""
    name = "ftpsfsoutage"
    password = "Pw-ftpsfs-0utage!"

    def set_home(self, path):
        super().set_home("/")


def sha(data):
    return hashlib.sha256(data).hexdigest()


class Run:
    def __init__(self, args):
        self.args = args
        self.work = Path(tempfile.mkdtemp(prefix="ftpsfs-outage-"))
        self.work.chmod(0o755)
        self.stack = contextlib.ExitStack()
        self.rows = []
        self.n = 0

    def setup(self):
        self.certs = Certs(self.work / "certs")
        self.user = OutageUser()
        self.files = {f"f{i:04d}": random.Random(i).randbytes(SIZE)
                      for i in range(self.args.files)}
        self.want = self.work / "want.json"
        self.want.write_text(json.dumps({n: sha(d) for n, d in self.files.items()}))
        self.local = self.work / "local" / "tree"
        self.local.mkdir(parents=True)
        for name, data in self.files.items():
            (self.local / name).write_bytes(data)

    def server(self, kind, root):
        taken = set()
        rng = pasv_range(taken)
        workdir = self.work / f"{kind}-{self.n}"
        if kind == "vsftpd":
            srv = Vsftpd(root, self.certs, self.user, workdir=workdir,
                         extra={"log_ftp_protocol": "NO", "debug_ssl": "NO", **rng})
        else:
            srv = Proftpd(root, self.certs, self.user, workdir=workdir,
                          extra_lines=[f"PassivePorts {rng['pasv_min_port']} "
                                       f"{rng['pasv_max_port']}"])
        srv.start()
        self.stack.callback(srv.stop)
        ports = [str(srv.port), f"{rng['pasv_min_port']}-{rng['pasv_max_port']}"]
        log = open(self.work / f"proxy-{self.n}.log", "ab")
        self.stack.callback(log.close)
        proxy = Proxy(ports, self.args.delay_ms, log)
        self.stack.callback(proxy.stop)
        return srv, proxy

    def root(self, with_files):
        root = self.work / f"root{self.n}"
        root.mkdir(mode=0o755)
        if with_files:
            for name, data in self.files.items():
                (root / name).write_bytes(data)
        self.user.chown_tree(root)
        return root

    def cell(self, kind, job, outage, options=(), label=None):
        self.n += 1
        root = self.root(job == "read")
        srv, proxy = self.server(kind, root)
        mnt = self.work / f"mnt{self.n}"
        m = Mount(self.args.ftpsfs, srv.url("/").replace("127.0.0.1", PROXY_HOST), mnt,
                  self.user.password, options=list(options), debug=False,
                  cafile=self.certs.ca_file)
        m.start()
        try:
            row = self.run_job(srv, m, job, outage, root)
        finally:
            m.stop()
            srv.stop()
            proxy.stop()
        row.update(server=kind, job=job, outage=outage, label=label or "default")
        log = m.log_text()
        row["logged_down"] = "server unreachable" in log
        row["logged_back"] = next((line.split("ftpsfs info: ")[-1] for line in log.splitlines()
                                   if "server reachable again" in line), "")
        self.rows.append(row)
        print(fmt_row(row), flush=True)

    def run_job(self, srv, m, job, outage, root):
        out = open(self.work / f"job{self.n}.out", "w+")
        if job == "read":
            argv = [sys.executable, "-c", READ_JOB, str(m.mountpoint), str(self.want)]
        else:
            argv = ["cp", "-r", str(self.local), str(m.mountpoint / "tree")]
        t0 = time.monotonic()
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)
        time.sleep(KILL_AFTER)
        running_at_kill = proc.poll() is None
        srv.stop()
        time.sleep(outage)
        srv.start()
        try:
            proc.wait(timeout=max(1, JOB_LIMIT - (time.monotonic() - t0)))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
        secs = time.monotonic() - t0
        out.seek(0)
        text = out.read()
        row = {"secs": round(secs, 1), "running_at_kill": running_at_kill}
        if job == "read":
            recs = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
            failed = [r for r in recs if "errno" in r]
            row["files_failed"] = len(failed) + (len(self.files) - len(recs))
            row["wrong_data"] = sum(1 for r in recs if r.get("ok") is False)
            row["slowest_error_s"] = max((r["secs"] for r in failed), default=None)
        else:
            got = root / "tree"
            bad = [n for n, d in self.files.items()
                   if not (got / n).is_file() or (got / n).read_bytes() != d]
            row["files_failed"] = len(bad)
            row["error_lines"] = sum(1 for line in text.splitlines() if line.startswith("cp:"))
            # A file that cp reported as failed may still be there whole: only a file cp
            # thought fine but is not counts as wrong.
            row["wrong_data"] = max(0, len(bad) - row["error_lines"])
        return row

    def main(self):
        try:
            self.setup()
            for kind in self.args.servers:
                for outage in self.args.outages:
                    for job in ("read", "cp"):
                        self.cell(kind, job, outage)
            kind = self.args.servers[0]
            self.cell(kind, "read", 25, ("op_timeout=10",), "op_timeout=10")
            self.cell(kind, "read", 5, ("soft",), "soft")
        finally:
            self.stack.close()
            if self.args.keep:
                print(f"kept: {self.work}")
            else:
                shutil.rmtree(self.work, ignore_errors=True)
        if self.args.json:
            Path(self.args.json).write_text(json.dumps(self.rows, indent=1))


def fmt_row(r):
    extra = (f"slowest error {r['slowest_error_s']} s" if r.get("slowest_error_s") is not None
             else f"cp error lines {r['error_lines']}" if "error_lines" in r else "")
    return (f"{r['server']:8} {r['job']:5} outage {r['outage']:>3} s {r['label']:14} "
            f"failed {r['files_failed']:>4}  wrong {r['wrong_data']}  job {r['secs']:>6} s  "
            f"{'(job over before the kill!) ' if not r['running_at_kill'] else ''}{extra}  "
            f"{r['logged_back']}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--servers", default="vsftpd,proftpd")
    ap.add_argument("--outages", default="5,40")
    ap.add_argument("--files", type=int, default=300)
    ap.add_argument("--delay-ms", type=int, default=10)
    ap.add_argument("--ftpsfs", default=str(REPO / "build" / "ftpsfs"))
    ap.add_argument("--json")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    args.servers = args.servers.split(",")
    args.outages = [int(x) for x in args.outages.split(",")]
    if os.geteuid() != 0:
        sys.exit("run as root (the servers run as a test account)")
    print(f"ftpsfs outage benchmark: {args.files} x 4 KiB files, round trip "
          f"{2 * args.delay_ms} ms, server killed {KILL_AFTER:.0f} s into each job",
          flush=True)
    Run(args).main()


if __name__ == "__main__":
    main()
