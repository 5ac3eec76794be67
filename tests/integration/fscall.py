"""Filesystem calls made from a child process with a hard time limit, so that a
hang fails the test instead of blocking the run (shared by the fault tests)."""

import errno
import json
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass

import pytest

HARD_LIMIT = 60  # a filesystem call that takes longer than this is a hang

_CHILD = textwrap.dedent("""
    import hashlib, json, os, sys
    op, path = sys.argv[1], sys.argv[2]
    out = {}
    try:
        if op == "listdir":
            out["names"] = sorted(os.listdir(path))
        elif op == "stat":
            out["size"] = os.stat(path).st_size
        elif op == "read":
            with open(path, "rb") as f:
                data = f.read()
            out = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        else:  # "readchunks": what arrived before an error counts too
            h, size = hashlib.sha256(), 0
            fd = os.open(path, os.O_RDONLY)
            try:
                while True:
                    out = {"size": size, "sha256": h.hexdigest()}
                    chunk = os.read(fd, 16384)
                    if not chunk:
                        break
                    h.update(chunk)
                    size += len(chunk)
            finally:
                os.close(fd)
    except OSError as e:
        out["errno"] = e.errno
    print(json.dumps(out))
""")


@dataclass
class FsCall:
    """The outcome of one filesystem call made by a child process."""
    elapsed: float
    errno: int = None
    names: list = None
    size: int = None
    sha256: str = None


def fs_call(op, path, limit=HARD_LIMIT):
    """Run `op` on `path` in a child process; fail the test if it takes longer than `limit`
    seconds. op: "read" (the whole file with one read()), "readchunks" (os.read() in 16 KiB
    chunks until the end or an error; size and sha256 cover what came before an error),
    "listdir" or "stat" (size only)."""
    start = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, op, str(path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        out = None
    if out is None:
        proc.kill()
        try:
            proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            pass  # unkillable: report the hang all the same
        pytest.fail(f"{op} {path}: no result after {limit}s (hang)")
    assert proc.returncode == 0, err
    return FsCall(elapsed=time.monotonic() - start, **json.loads(out))


def errname(result):
    e = result.errno
    return "success" if e is None else errno.errorcode.get(e, str(e))




def assert_random_reads_match(mounted, reference, count, seed=7):
    """`count` reads at random offsets (some past the end) and of random
    sizes from the mounted file give exactly the reference file's bytes."""
    import random

    size = reference.stat().st_size
    rnd = random.Random(seed)
    with open(mounted, "rb") as f, open(reference, "rb") as ref:
        for _ in range(count):
            off = rnd.randrange(0, size + 10)
            n = rnd.choice([1, 17, 4096, 65537, 300000, 2 * 1024 * 1024])
            f.seek(off)
            ref.seek(off)
            assert f.read(n) == ref.read(n), (off, n)
