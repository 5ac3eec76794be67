"""Helpers for the write tests (test_write.py), stdlib only.

Everything that touches the mount runs in a child process with a hard time limit (run() for
tools, pycall()/pystart() for Python snippets), so a hung filesystem call fails the test instead
of blocking the whole run. The oracle side (the server's own directory, local reference copies)
is read directly.
"""

import errno
import hashlib
import json
import os
import random
import stat
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

MIB = 1024 * 1024
TOOL_TIMEOUT = 120  # seconds; any single tool run on the mount that takes longer is a hang

# Tools run with a fixed time zone and locale: `touch -d`, tar and unzip interpret local time.
TOOL_ENV = dict(os.environ, TZ="UTC", LC_ALL="C")


# --- running tools ------------------------------------------------------------------------------

def run(cmd, timeout=TOOL_TIMEOUT, check=True, log=None, **kw):
    """subprocess.run(cmd) with text output, TZ=UTC, LC_ALL=C and a hard time limit.

    check=True fails the test on a non-zero exit, quoting the command's stderr and, when `log`
    (a callable returning text, e.g. Mount.log_text) is given, the tail of that log."""
    kw.setdefault("env", TOOL_ENV)
    try:
        res = subprocess.run([str(c) for c in cmd], capture_output=True, text=True,
                             errors="replace", timeout=timeout, **kw)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{cmd}: no result after {timeout}s (hang)\n{_log_tail(log)}")
    if check and res.returncode != 0:
        pytest.fail(f"{cmd} exited with {res.returncode}\nstdout:\n{res.stdout[-3000:]}\n"
                    f"stderr:\n{res.stderr[-3000:]}\n{_log_tail(log)}")
    return res


def _log_tail(log, lines=30):
    if log is None:
        return ""
    return "ftpsfs log (tail):\n" + "\n".join(log().splitlines()[-lines:])


# --- Python snippets in a child process ---------------------------------------------------------

# The child exec()s the snippet with the JSON parameters as variables (plus os, hashlib, random,
# time, MIB). The snippet may set `stage` (the step it is in) and `result` (any JSON value). An
# OSError ends it; its errno and the stage it happened in are reported, like its duration.
_CHILD = textwrap.dedent("""
    import errno, hashlib, json, os, random, sys, time
    ns = dict(json.loads(sys.argv[2]), os=os, hashlib=hashlib, random=random, time=time,
              MIB=1024 * 1024, stage=None, result=None)
    out = {"t_start": time.monotonic()}
    try:
        exec(sys.argv[1], ns)
    except OSError as e:
        out.update(errno=e.errno, error=f"{type(e).__name__}: {e}")
    out.update(t_end=time.monotonic(), stage=ns["stage"], result=ns["result"])
    print(json.dumps(out))
""")


@dataclass
class Outcome:
    """What a Python snippet run by pycall()/pystart() did."""
    t_start: float  # time.monotonic() in the child (CLOCK_MONOTONIC: comparable across processes)
    t_end: float
    stage: object = None
    result: object = None
    errno: int = None
    error: str = None

    @property
    def errname(self):
        return "success" if self.errno is None else errno.errorcode.get(self.errno,
                                                                        str(self.errno))

    @property
    def elapsed(self):
        return self.t_end - self.t_start


class Child:
    """A running snippet (see pystart)."""

    def __init__(self, code, params):
        self.code = code
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _CHILD, textwrap.dedent(code), json.dumps(params)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=TOOL_ENV)

    def finish(self, timeout=TOOL_TIMEOUT):
        """Wait for the snippet; fails the test if it takes longer than `timeout` seconds."""
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            try:
                self.proc.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                pass  # unkillable: report the hang all the same
            pytest.fail(f"snippet got no result after {timeout}s (hang):\n{self.code}")
        if self.proc.returncode != 0 or not out.strip():
            pytest.fail(f"snippet crashed (exit {self.proc.returncode}):\n{err}")
        return Outcome(**json.loads(out.strip().splitlines()[-1]))

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate(timeout=10)


def pystart(code, **params):
    """Start `code` (Python source, see _CHILD) in a child process with `params` as variables
    (JSON values; Paths are passed as strings). Returns a Child; call .finish()."""
    params = {k: str(v) if isinstance(v, Path) else v for k, v in params.items()}
    return Child(code, params)


def pycall(code, timeout=TOOL_TIMEOUT, **params):
    """Run `code` in a child process and return its Outcome (see pystart)."""
    return pystart(code, **params).finish(timeout)


# Snippets shared by several tests.

WRITE_FILE = """
    # Write `data` (latin-1 text) or the bytes of local file `source` to `path`, chunk by
    # chunk, with open flags `mode` ("wb", "ab", "r+b"); fsync first if `fsync`.
    payload = data.encode("latin-1") if data is not None else open(source, "rb").read()
    flags = {"wb": os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
             "ab": os.O_WRONLY | os.O_CREAT | os.O_APPEND,
             "r+b": os.O_RDWR}[mode]
    stage = "open"
    fd = os.open(path, flags, 0o644)
    stage = "write"
    view = memoryview(payload)
    while view:
        view = view[os.write(fd, view[:chunk]):]
    if fsync:
        stage = "fsync"
        os.fsync(fd)
    stage = "close"
    os.close(fd)
    stage = "done"
"""


def write_file(path, data=None, source=None, mode="wb", chunk=MIB, fsync=False,
               timeout=TOOL_TIMEOUT):
    """Write bytes to `path` in a child process: `data` (bytes) or the content of the local file
    `source`. Returns the Outcome (errno and stage on failure)."""
    assert (data is None) != (source is None)
    if data is not None and len(data) > 16 * 1024:
        # The parameters travel in argv (at most 128 KiB per argument): big data via a file.
        with tempfile.NamedTemporaryFile(prefix="ftpsfs-write-") as tmp:
            tmp.write(data)
            tmp.flush()
            return write_file(path, source=tmp.name, mode=mode, chunk=chunk, fsync=fsync,
                              timeout=timeout)
    return pycall(WRITE_FILE, timeout=timeout, path=path,
                  data=None if data is None else data.decode("latin-1"),
                  source=None if source is None else str(source),
                  mode=mode, chunk=chunk, fsync=fsync)


READ_FILE = """
    stage = "read"
    with open(path, "rb") as f:
        content = f.read()
    result = {"size": len(content), "sha256": hashlib.sha256(content).hexdigest(),
              "head": content[:200].decode("latin-1")}
"""


def read_file(path, timeout=TOOL_TIMEOUT):
    """Read `path` whole in a child process: Outcome with result {size, sha256, head}."""
    return pycall(READ_FILE, timeout=timeout, path=path)


# --- content ------------------------------------------------------------------------------------

def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            block = f.read(4 * MIB)
            if not block:
                return h.hexdigest()
            h.update(block)


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def random_bytes(size, seed):
    return random.Random(seed).randbytes(size)


# An old, second-exact time base for trees (2022-01-02 03:04:05 UTC).
TREE_MTIME = 1641092645

# relative path -> (size, mode); the content is random, seeded by the path.
TREE_FILES = {
    "top.txt": (120, 0o644),
    "empty": (0, 0o644),
    "one": (1, 0o644),
    "four_k": (4096, 0o644),
    "odd size": (70001, 0o644),
    "mib_plus_3": (MIB + 3, 0o644),
    "sub/a.txt": (300, 0o644),
    "sub/run.sh": (40, 0o755),
    "sub/private": (500, 0o600),
    "sub/deeper/x.bin": (200000, 0o644),
    "sub/deeper/y": (10, 0o644),
    "closed/only-owner": (64, 0o640),
}
TREE_DIRS = {"sub": 0o755, "sub/deeper": 0o755, "closed": 0o700, "empty-dir": 0o755}


def make_tree(base, seed=0):
    """A small local tree at `base` (files of sizes 0 .. 1 MiB+3, modes 0600..0755, an empty
    directory, a mode-0700 directory, a name with a space), with distinct second-exact mtimes
    on files and directories. Only files and directories: no symlinks, devices or hard links.
    Returns `base`."""
    base = Path(base)
    base.mkdir(parents=True, exist_ok=True)
    for rel in TREE_DIRS:
        (base / rel).mkdir(parents=True, exist_ok=True)
    for i, (rel, (size, mode)) in enumerate(sorted(TREE_FILES.items())):
        p = base / rel
        p.write_bytes(random_bytes(size, f"{seed}/{rel}"))
        p.chmod(mode)
        t = TREE_MTIME + i * 3607
        os.utime(p, (t, t))
    # Directories last (writing files into them changed their mtimes), deepest first.
    for i, (rel, mode) in enumerate(sorted(TREE_DIRS.items(), reverse=True)):
        (base / rel).chmod(mode)
        t = TREE_MTIME - (i + 1) * 86400
        os.utime(base / rel, (t, t))
    return base


def make_small_files(base, count=30):
    """`count` small text files in three directories below `base` (for git)."""
    base = Path(base)
    for i in range(count):
        p = base / f"dir{i % 3}" / f"file{i:02d}.txt"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("".join(f"line {j} of file {i}\n" for j in range(i % 7 + 1)))
    return base


def snapshot(base, modes=True, mtimes=True, dir_mtimes=False):
    """{relative path: attributes} of everything below `base` (not `base` itself): type; for
    files size and sha256; mode (octal string) if `modes`; whole-second mtime for files if
    `mtimes` and for directories if `dir_mtimes`. Compare two with ==."""
    base = Path(base)
    out = {}
    for dirpath, dirnames, filenames in os.walk(base):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = os.lstat(p)
            if stat.S_ISDIR(st.st_mode):
                entry = {"type": "dir"}
                if dir_mtimes:
                    entry["mtime"] = int(st.st_mtime)
            elif stat.S_ISREG(st.st_mode):
                entry = {"type": "file", "size": st.st_size, "sha256": sha256_file(p)}
                if mtimes:
                    entry["mtime"] = int(st.st_mtime)
            else:
                entry = {"type": "other", "mode": oct(st.st_mode)}
            if modes:
                entry["perm"] = oct(stat.S_IMODE(st.st_mode))
            out[str(p.relative_to(base))] = entry
    return out


# --- memory -------------------------------------------------------------------------------------

def vm_rss(pid):
    """Resident set size of process `pid` in bytes (all its threads), or None if it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


class RssSampler:
    """Samples VmRSS of `pid` every `interval` seconds in a thread while used as a context
    manager; .baseline is the RSS at entry, .peak the highest sample, .samples the count."""

    def __init__(self, pid, interval=0.05):
        self.pid = pid
        self.interval = interval
        self.baseline = None
        self.peak = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self):
        while not self._stop.is_set():
            rss = vm_rss(self.pid)
            if rss is not None:
                self.peak = max(self.peak, rss)
                self.samples += 1
            self._stop.wait(self.interval)

    def __enter__(self):
        self.baseline = vm_rss(self.pid)
        self.peak = self.baseline or 0
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=5)


def wait_for(predicate, timeout, interval=0.05):
    """Poll `predicate` until it is true or `timeout` seconds passed; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


# Files `seeds` ({name: seed}) under `d`, all open at once and written in turns of `chunk`
# bytes: file n gets random.Random(seed).randbytes(size + seed).
INTERLEAVED_WRITERS = """
    fds = {n: os.open(os.path.join(d, n), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
           for n in seeds}
    data = {n: random.Random(seed).randbytes(size + seed) for n, seed in seeds.items()}
    stage = "write"
    for off in range(0, size + max(seeds.values()), chunk):
        for n in seeds:
            part = data[n][off:off + chunk]
            if part:
                os.write(fds[n], part)
    stage = "close"
    for fd in fds.values():
        os.close(fd)
    stage = "done"
"""


def mount_stats(mnt):
    """The mount's statistics (user.ftpsfs.stats) as {name: value} (int where a number), read
    by a child process with os.getxattr: no stat of the mount point first, nothing that may
    need the server, and a hang fails the test."""
    r = pycall("result = os.getxattr(p, 'user.ftpsfs.stats').decode()", timeout=30, p=mnt)
    assert r.errno is None, f"reading the statistics: {r.error}"
    out = {}
    for line in r.result.splitlines():
        key, _, value = line.partition("=")
        out[key] = int(value) if value.isdigit() else value
    return out
