#!/usr/bin/env python3
"""fsx.py - a randomized file exerciser for ftpsfs mounts (stdlib only).

In the spirit of xfstests' fsx, written for this project: random pwrite, pread, ftruncate,
writes and reads through a shared mmap (msync), fsync, stat/fstat size checks and close/reopen
(O_TRUNC, O_APPEND, write-only) on one or more files, each against an in-memory model of its
content. Every read is checked against the model; after every close (optionally) and at the end,
the file is read back through the mount and, given --server, the file the server holds is
compared byte for byte.

The operation sequence depends only on --seed and the options, so a failure replays exactly:
the seed is printed at the start and in the failure report, with the last operations and the
command line that replays it. A shorter -N replays a prefix of the same sequence (the way to
reduce a failure). Each operation's wall-clock time is logged to the millisecond, to be matched
with ftpsfs's -d log.

Exit status: 0 all checks passed; 1 a mismatch or an unexpected error (report on stderr);
2 bad usage; 3 an operation hung longer than --op-timeout.

Example (a mount of the server directory /srv/ftp/t at /mnt/t):
    fsx.py -N 2000 --seed 7 /mnt/t/f --server /srv/ftp/t/f
"""

import argparse
import collections
import errno
import mmap
import os
import random
import shlex
import signal
import sys
import threading
import time

PAGE = mmap.ALLOCATIONGRANULARITY

# Operation kinds and their default weights (relative frequency).
WEIGHTS = {
    "read": 20,
    "write": 24,
    "mapread": 8,
    "mapwrite": 8,
    "truncate": 8,
    "fsync": 4,
    "stat": 6,
    "reopen": 6,
}
MMAP_OPS = ("mapread", "mapwrite")

# Ways a file is reopened. Write-only handles take ftpsfs's streaming paths (STOR from the start
# after O_TRUNC, APPE for appends); O_RDWR ones its spool. Reads on a write-only handle use a
# second, read-only descriptor of the same file.
OPEN_MODES = {
    "rw": os.O_RDWR,
    "rw-trunc": os.O_RDWR | os.O_TRUNC,
    "rw-append": os.O_RDWR | os.O_APPEND,
    "wo": os.O_WRONLY,
    "wo-trunc": os.O_WRONLY | os.O_TRUNC,
    "wo-append": os.O_WRONLY | os.O_APPEND,
}


class Failure(Exception):
    """A check failed: the message says what, where and how."""


class Hang(Exception):
    pass


def stamp():
    t = time.time()
    return time.strftime("%H:%M:%S", time.localtime(t)) + f".{int(t * 1000) % 1000:03d}"


def hexline(data, limit=16):
    return " ".join(f"{b:02x}" for b in data[:limit]) + (" ..." if len(data) > limit else "")


class Target:
    """One exercised file: its path in the mount, the server's copy, the model, open fds."""

    def __init__(self, index, path, server):
        self.index = index
        self.path = path
        self.server = server
        self.model = bytearray()
        self.fd = None  # the main descriptor, opened with self.mode
        self.rfd = None  # read-only descriptor while the main one is write-only
        self.mode = None

    @property
    def name(self):
        return os.path.basename(self.path) if self.index is None else f"[{self.index}]"

    def readable(self):
        return not (OPEN_MODES[self.mode] & os.O_WRONLY)

    def appending(self):
        return bool(OPEN_MODES[self.mode] & os.O_APPEND)

    def read_fd(self):
        if self.readable():
            return self.fd
        if self.rfd is None:
            self.rfd = os.open(self.path, os.O_RDONLY)
        return self.rfd


class Exerciser:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        multi = len(args.files) > 1
        self.targets = [Target(i if multi else None, p, s)
                        for i, (p, s) in enumerate(zip(args.files, args.server))]
        kinds = [k for k in WEIGHTS if k in args.ops]
        self.kinds = kinds
        self.weights = [WEIGHTS[k] for k in kinds]
        self.modes = args.open_modes
        self.history = collections.deque(maxlen=args.keep)  # (opno, time, text)
        self.writes = {t.index: [] for t in self.targets}  # per file: (opno, off, len)
        self.opno = 0
        self.current = None  # text of the operation in progress (for a hang report)
        self.counts = collections.Counter()
        self.closes = 0  # reopens so far (for --pause-after-close)

    # --- data ------------------------------------------------------------------------------

    def data(self, opno, size):
        """The bytes operation `opno` writes: derived from seed and opno, so a report can tell
        which operation's bytes a file holds."""
        return random.Random(f"{self.args.seed}/{opno}").randbytes(size)

    def whose(self, t, offset, actual):
        """Which write put `actual` (bytes from `offset`) into file t, newest first."""
        probe = actual[:8]
        if probe == bytes(len(probe)):
            return "zeros (a hole, a truncation, or bytes never written)"
        for opno, off, length in reversed(self.writes[t.index]):
            if off <= offset < off + length:
                expect = self.data(opno, length)[offset - off:offset - off + len(probe)]
                if expect == probe[:len(expect)] and expect:
                    return f"the bytes of op #{opno} (a write of {length} at 0x{off:x})"
        return "bytes no operation wrote at that offset"

    # --- checks ----------------------------------------------------------------------------

    def compare(self, t, what, offset, expected, actual):
        if expected == actual:
            return
        lines = [f"{what} of {t.path}: {len(actual)} bytes at 0x{offset:x}, "
                 f"expected {len(expected)}"]
        n = min(len(expected), len(actual))
        first = next((i for i in range(n) if expected[i] != actual[i]), n)
        ndiff = sum(1 for i in range(n) if expected[i] != actual[i])
        where = offset + first
        lines.append(f"  first difference at 0x{where:x}; {ndiff} of {n} compared bytes "
                     f"differ" + (f"; length differs ({len(actual)} != {len(expected)})"
                                  if len(actual) != len(expected) else ""))
        lines.append(f"  expected at 0x{where:x}: {hexline(expected[first:])}")
        lines.append(f"  actual   at 0x{where:x}: {hexline(actual[first:])}")
        if first < len(actual):
            lines.append(f"  the actual bytes there are {self.whose(t, where, actual[first:])}")
        if first < len(expected):
            lines.append(f"  the expected bytes are {self.whose(t, where, expected[first:])}")
        if self.args.dump:
            base = os.path.join(self.args.dump, f"fsx-{self.args.seed}-{t.index or 0}")
            with open(base + ".expected", "wb") as f:
                f.write(t.model)
            with open(base + f".actual-from-0x{offset:x}", "wb") as f:
                f.write(actual)
            lines.append(f"  the model of the whole file and the bytes read are in "
                         f"{base}.expected and {base}.actual-from-0x{offset:x}")
        raise Failure("\n".join(lines))

    def check_size(self, t, what, size):
        if size != len(t.model):
            raise Failure(f"{what} of {t.path}: size {size}, expected {len(t.model)}")

    def check_whole(self, t, why):
        """The file read back through the mount, and the server's copy, equal the model."""
        with open(t.path, "rb") as f:
            got = f.read()
        self.compare(t, f"read back through the mount ({why})", 0, bytes(t.model), got)
        if t.server:
            try:
                with open(t.server, "rb") as f:
                    got = f.read()
            except FileNotFoundError:
                raise Failure(f"server file {t.server} does not exist ({why})") from None
            self.compare(t, f"server's copy ({why})", 0, bytes(t.model), got)

    # --- operations ------------------------------------------------------------------------

    def log(self, text):
        entry = (self.opno, stamp(), text)
        self.history.append(entry)
        self.current = entry
        if self.args.trace:
            print(f"#{entry[0]} {entry[1]} {entry[2]}", flush=True)

    def pick_target(self):
        return self.targets[self.rng.randrange(len(self.targets))] \
            if len(self.targets) > 1 else self.targets[0]

    def open(self, t, mode, why):
        self.log(f"{t.name} open {mode}{' (' + why + ')' if why else ''}")
        flags = OPEN_MODES[mode]
        if why == "start":
            flags |= os.O_CREAT | os.O_TRUNC
        t.fd = os.open(t.path, flags, 0o644)
        t.mode = mode
        if flags & os.O_TRUNC:
            t.model = bytearray()
        self.check_size(t, "fstat after open", os.fstat(t.fd).st_size)

    def close(self, t):
        self.log(f"{t.name} close{' (and its read-only fd)' if t.rfd is not None else ''}")
        if t.rfd is not None:
            os.close(t.rfd)
            t.rfd = None
        fd, t.fd = t.fd, None
        os.close(fd)

    def op_read(self, t):
        size = len(t.model)
        if size and self.rng.random() < 0.95:
            off = self.rng.randrange(size)
        else:  # at or past the end
            off = size + self.rng.randrange(self.args.maxread)
        length = self.rng.randint(1, self.args.maxread)
        self.log(f"{t.name} read 0x{off:x} len 0x{length:x} (size 0x{size:x})")
        got = os.pread(t.read_fd(), length, off)
        self.compare(t, "pread", off, bytes(t.model[off:off + length]), got)

    def write_at(self, t, off, data):
        if off > len(t.model):
            t.model.extend(bytes(off - len(t.model)))
        t.model[off:off + len(data)] = data
        self.writes[t.index].append((self.opno, off, len(data)))

    def op_write(self, t):
        size, maxlen = len(t.model), self.args.maxlen
        length = self.rng.randint(1, self.args.maxwrite)
        if t.appending():
            off = size
        elif not t.readable() and self.rng.random() < 0.7:
            off = size  # write-only handles mostly write sequentially (streaming)
        else:
            off = self.rng.randrange(maxlen)
        if off + length > maxlen:
            if t.appending() or off >= maxlen:
                # no room to append: shrink instead (keeps the file within maxlen)
                return self.op_truncate(t, self.rng.randrange(maxlen // 2 + 1))
            length = maxlen - off
        data = self.data(self.opno, length)
        how = "append" if t.appending() else "write"
        self.log(f"{t.name} {how} 0x{off:x} len 0x{length:x} (size 0x{size:x})")
        view = memoryview(data)
        pos = off
        while view:
            n = os.write(t.fd, view) if t.appending() else os.pwrite(t.fd, view, pos)
            if n <= 0:
                raise Failure(f"write returned {n}")
            view, pos = view[n:], pos + n
        self.write_at(t, off, data)

    def op_truncate(self, t, size=None):
        if size is None:
            size = self.rng.randrange(self.args.maxlen + 1)
        self.log(f"{t.name} truncate 0x{len(t.model):x} -> 0x{size:x}")
        os.ftruncate(t.fd, size)
        if size < len(t.model):
            del t.model[size:]
        else:
            t.model.extend(bytes(size - len(t.model)))

    def op_mapwrite(self, t):
        maxlen = self.args.maxlen
        if not t.readable():  # a shared writable mapping needs O_RDWR
            return self.op_write(t)
        off = self.rng.randrange(maxlen)
        length = self.rng.randint(1, min(self.args.maxwrite, maxlen - off))
        msync = self.rng.random() < 0.8
        if off + length > len(t.model):  # a mapping cannot grow the file
            self.op_truncate(t, off + length)
        data = self.data(self.opno, length)
        base = off // PAGE * PAGE
        self.log(f"{t.name} mapwrite 0x{off:x} len 0x{length:x}"
                 f"{' msync' if msync else ' (no msync)'}")
        m = mmap.mmap(t.fd, off + length - base, mmap.MAP_SHARED,
                      mmap.PROT_READ | mmap.PROT_WRITE, offset=base)
        try:
            m[off - base:off - base + length] = data
            if msync:
                m.flush()
        finally:
            m.close()
        self.write_at(t, off, data)

    def op_mapread(self, t):
        size = len(t.model)
        if size == 0:
            return self.op_read(t)
        off = self.rng.randrange(size)
        length = self.rng.randint(1, min(self.args.maxread, size - off))
        base = off // PAGE * PAGE
        self.log(f"{t.name} mapread 0x{off:x} len 0x{length:x} (size 0x{size:x})")
        m = mmap.mmap(t.read_fd(), off + length - base, mmap.MAP_SHARED, mmap.PROT_READ,
                      offset=base)
        try:
            got = m[off - base:off - base + length]
        finally:
            m.close()
        self.compare(t, "read through mmap", off, bytes(t.model[off:off + length]), got)

    def op_fsync(self, t):
        data_only = self.rng.random() < 0.3
        self.log(f"{t.name} {'fdatasync' if data_only else 'fsync'}")
        (os.fdatasync if data_only else os.fsync)(t.fd)

    def op_stat(self, t):
        self.log(f"{t.name} fstat+stat (expect size 0x{len(t.model):x})")
        self.check_size(t, "fstat", os.fstat(t.fd).st_size)
        self.check_size(t, "stat", os.stat(t.path).st_size)

    def op_reopen(self, t):
        mode = self.modes[self.rng.randrange(len(self.modes))]
        self.close(t)
        self.closes += 1
        if self.closes == self.args.pause_after_close:
            self.log(f"{t.name} paused (SIGSTOP) after close number {self.closes}")
            print(f"fsx: pid {os.getpid()} stops after close number {self.closes} "
                  f"(op #{self.opno}); continue it with SIGCONT", flush=True)
            os.kill(os.getpid(), signal.SIGSTOP)
        if self.args.check == "close":
            self.log(f"{t.name} check the mount's and the server's copy after close")
            self.check_whole(t, f"after the close of op #{self.opno}")
        self.open(t, mode, "")

    # --- main loop -------------------------------------------------------------------------

    def step(self):
        t = self.pick_target()
        kind = self.rng.choices(self.kinds, self.weights)[0]
        self.counts[kind] += 1
        getattr(self, "op_" + kind)(t)

    def run(self):
        for t in self.targets:
            self.open(t, "rw", "start")
        for self.opno in range(1, self.args.ops_count + 1):
            self.step()
        self.opno += 1
        for t in self.targets:
            self.close(t)
        for t in self.targets:
            self.log(f"{t.name} final check of the mount's and the server's copy")
            self.check_whole(t, "at the end")
        self.current = None

    def report(self, what, out=sys.stderr):
        a = self.args
        print(f"fsx: FAILED (seed {a.seed}) at op #{self.opno} of {a.ops_count}: {what}",
              file=out)
        print(f"fsx: the last {len(self.history)} operations (local time):", file=out)
        for opno, when, text in list(self.history):
            print(f"  #{opno:<6} {when}  {text}", file=out)
        print("fsx: replay: " + replay_command(a), file=out)
        out.flush()


def replay_command(a):
    argv = [sys.executable, os.path.abspath(sys.argv[0])]
    skip = False
    for arg in sys.argv[1:]:
        if skip:
            skip = False
            continue
        if arg in ("--seed", "-S"):
            skip = True
            continue
        if arg.startswith("--seed="):
            continue
        argv.append(arg)
    return shlex.join(argv + ["--seed", str(a.seed)])


def watchdog(ex, timeout, done):
    """Ends the process with a report if one operation takes longer than `timeout` seconds
    (a blocked file system call cannot be interrupted from Python). Counts its own one-second
    ticks, so time spent stopped (--pause-after-close, SIGSTOP, a debugger) does not count."""
    last, ticks = None, 0
    while not done.wait(1.0):
        cur = ex.current
        if cur is not last:
            last, ticks = cur, 0
        elif cur is not None:
            ticks += 1
            if ticks > timeout:
                ex.report(f"op #{cur[0]} ({cur[2]}) hung for more than {timeout:g} s")
                os._exit(3)


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] + " Checks every read against a model of the "
        "file and, with --server, the server's copy after each close and at the end.",
        epilog="Operation kinds: " + ", ".join(WEIGHTS) + ". Open modes: "
        + ", ".join(OPEN_MODES) + ". Exit status: 0 ok, 1 mismatch or error, 2 usage, "
        "3 an operation hung.")
    p.add_argument("files", nargs="+", metavar="FILE",
                   help="file(s) in the mount to exercise (created or truncated)")
    p.add_argument("--server", action="append", default=[], metavar="PATH",
                   help="the server-side path of a FILE (once per FILE, in the same order); "
                   "its content is compared with the model after closes and at the end")
    p.add_argument("-N", "--ops", dest="ops_count", type=int, default=1000,
                   help="number of operations (default 1000)")
    p.add_argument("-S", "--seed", type=int, default=None,
                   help="random seed (default: chosen from the clock and printed)")
    p.add_argument("-l", "--maxlen", type=int, default=256 * 1024,
                   help="maximum file size in bytes (default 256 KiB)")
    p.add_argument("-w", "--maxwrite", type=int, default=64 * 1024,
                   help="maximum length of one write (default 64 KiB)")
    p.add_argument("-r", "--maxread", type=int, default=64 * 1024,
                   help="maximum length of one read (default 64 KiB)")
    p.add_argument("--ops-kinds", dest="ops", default=",".join(WEIGHTS),
                   help="comma-separated operation kinds to use (default: all)")
    p.add_argument("--no-mmap", action="store_true", help="no mapped reads or writes")
    p.add_argument("--no-reopen", action="store_true", help="never close and reopen")
    p.add_argument("--open-modes", default=",".join(OPEN_MODES),
                   help="comma-separated modes a reopen chooses from (default: all)")
    p.add_argument("--check", choices=("close", "end"), default="close",
                   help="compare the whole file (mount and server) after every close "
                   "(default) or only at the end")
    p.add_argument("--keep", type=int, default=40,
                   help="operations shown in a failure report (default 40)")
    p.add_argument("--op-timeout", type=float, default=120,
                   help="seconds one operation may take before it counts as a hang "
                   "(default 120; 0: no limit)")
    p.add_argument("--dump", metavar="DIR",
                   help="on a mismatch, write the model of the file to DIR")
    p.add_argument("--trace", action="store_true", help="print every operation")
    p.add_argument("--pause-after-close", type=int, default=0, metavar="K",
                   help="stop the process (SIGSTOP) after the K-th close/reopen, before its "
                   "check: to look at the server's copy, or to change it and see the check "
                   "fail (the watchdog does not count the pause)")
    a = p.parse_args(argv)
    if a.server and len(a.server) != len(a.files):
        p.error(f"--server given {len(a.server)} times for {len(a.files)} files")
    if not a.server:
        a.server = [None] * len(a.files)
    if len(set(a.files)) != len(a.files):
        p.error("the same FILE twice")
    a.ops = set(a.ops.split(","))
    unknown = a.ops - set(WEIGHTS)
    if unknown:
        p.error(f"unknown operation kinds: {', '.join(sorted(unknown))}")
    if a.no_mmap:
        a.ops -= set(MMAP_OPS)
    if a.no_reopen:
        a.ops.discard("reopen")
    if not a.ops:
        p.error("no operation kinds left")
    a.open_modes = a.open_modes.split(",")
    bad = [m for m in a.open_modes if m not in OPEN_MODES]
    if bad or not a.open_modes:
        p.error(f"unknown open modes: {', '.join(bad)}")
    if a.maxlen < 2 or a.maxwrite < 1 or a.maxread < 1 or a.ops_count < 0:
        p.error("sizes must be positive (maxlen at least 2), the op count not negative")
    if a.seed is None:
        a.seed = int.from_bytes(os.urandom(4), "little")
    return a


def main(argv=None):
    a = parse_args(argv)
    print(f"fsx: seed {a.seed}, {a.ops_count} ops, maxlen {a.maxlen}, "
          f"kinds {','.join(k for k in WEIGHTS if k in a.ops)}, files {' '.join(a.files)}",
          flush=True)
    ex = Exerciser(a)
    done = threading.Event()
    if a.op_timeout > 0:
        threading.Thread(target=watchdog, args=(ex, a.op_timeout, done), daemon=True).start()
    started = time.monotonic()
    try:
        ex.run()
    except Failure as e:
        ex.report(str(e))
        return 1
    except OSError as e:
        name = errno.errorcode.get(e.errno, str(e.errno))
        ex.report(f"{ex.current[2] if ex.current else 'setup'}: unexpected {name}: {e}")
        return 1
    finally:
        done.set()
    counts = ", ".join(f"{k} {ex.counts[k]}" for k in WEIGHTS if ex.counts[k])
    print(f"fsx: ok, seed {a.seed}: {a.ops_count} ops in {time.monotonic() - started:.1f} s "
          f"({counts})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
