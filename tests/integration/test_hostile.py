"""A hostile server (valid certificate, so trust is not the question) must cost bounded time and
print nothing to the terminal but escaped text.

Each test mounts ftpsfs against its own scripted FakeFtpsServer (fakeserver.py) and checks one
bound: absurd sizes and times give no undefined behaviour and a working stat; control characters
from the server reach the log only escaped; an interrupted read or listing returns within about a
second, whatever the server does; and no operation outlasts op_timeout, however each reply
arrives just inside `timeout`. Run them with the ASan+UBSan build as well (FTPSFS_BIN=
build-asan/ftpsfs): Mount.stop() fails a test on any sanitizer report in the log.
"""

import errno
import hashlib
import json
import os
import re
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
from mount import is_fuse_mounted  # noqa: E402
from fscall import errname, fs_call  # noqa: E402

OFF_MAX = 2**63 - 1
# How long an interrupted request may take to return: the kernel's interrupt reaches us, our
# waits notice it within 100 ms, and nothing else is waited for.
INTERRUPT_BOUND = 1.5


# --- fixtures and helpers ----------------------------------------------------------------------

def log_bytes(m):
    try:
        return m.log_path.read_bytes()
    except FileNotFoundError:
        return b""


# Bytes a terminal acts on: C0 controls but LF, DEL, and C1 controls (raw or as UTF-8).
RAW_CONTROL = re.compile(rb"[\x00-\x09\x0b-\x1f\x7f]|\xc2[\x80-\x9f]")


def assert_log_escaped(m, *escaped):
    """The log holds no byte a terminal would act on, and holds each of `escaped` (the escaped
    forms of what the server sent)."""
    log = log_bytes(m)
    raw = RAW_CONTROL.search(log)
    assert raw is None, f"raw control byte {raw.group()!r} in the log: " + repr(
        log[max(0, raw.start() - 200):raw.end() + 200])
    for text in escaped:
        assert text.encode() in log, f"{text!r} not in the log:\n{log.decode(errors='replace')}"


def failed_start(m):
    with pytest.raises(RuntimeError, match="before mounting"):
        m.start()
    assert not is_fuse_mounted(m.mountpoint)


_STAT = textwrap.dedent("""
    import json, os, sys
    out = {}
    for name in sys.argv[2:]:
        try:
            st = os.lstat(os.path.join(sys.argv[1], name))
            out[name] = {"size": st.st_size, "blocks": st.st_blocks, "mtime": st.st_mtime_ns}
        except OSError as e:
            out[name] = {"errno": e.errno}
    print(json.dumps(out))
""")


def stat_names(directory, *names):
    """{name: {"size", "blocks", "mtime"} or {"errno"}} from lstat() in a child process."""
    res = subprocess.run([sys.executable, "-c", _STAT, str(directory), *names],
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


_BLOCKED = textwrap.dedent("""
    import os, sys
    op, path = sys.argv[1], sys.argv[2]
    if op == "read":
        fd = os.open(path, os.O_RDONLY)
        while os.read(fd, 1 << 20):
            pass
    elif op == "stat":
        os.stat(path)
    else:
        os.listdir(path)
""")


def time_to_die(op, path, started, sig=signal.SIGTERM, limit=30):
    """Start a child that runs `op` ("read", "stat" or "listdir") on `path`; once `started` (an Event the
    server sets) is set and the child has waited in the kernel a little, send it `sig`. Returns
    the seconds from the signal to the child's exit."""
    proc = subprocess.Popen([sys.executable, "-c", _BLOCKED, op, str(path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert started.wait(15), f"the server never started the {op}"
        time.sleep(0.7)  # now it waits in the middle of the transfer
        assert proc.poll() is None, f"{op} ended before the signal"
        sent = time.monotonic()
        proc.send_signal(sig)
        proc.wait(limit)
        return time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def slow(seconds):
    """A hook that answers `seconds` late (then normally): each reply inside the timeout."""
    def hook(s, arg):
        s.pause(seconds)
        return DEFAULT
    return hook


DATA = os.urandom(64 * 1024)


# --- sizes and times ---------------------------------------------------------------------------

HUGE = 2**64 - 1  # not an off_t: some servers mean "unknown"
HUGE_NAME = b"huge\x1b[31m"  # the log must show it escaped


def _sized_listing(fmt):
    if fmt == "mlsd":
        line = lambda size, name: b"type=file;size=%d;modify=20240101000000; %s" % (size, name)
    else:
        line = lambda size, name: (b"-rw-r--r--    1 ftp ftp %d Jan 01  2024 %s"
                                   % (size, name))
    return [line(HUGE, HUGE_NAME), line(OFF_MAX, b"max"), line(6, b"normal")]


@pytest.mark.parametrize("fmt", ["mlsd", "list"])
def test_absurd_sizes_are_clamped_and_logged(fake_server, fake_mount, fmt):
    files = {"/huge\x1b[31m": b"hello\n", "/max": b"hello\n", "/normal": b"hello\n"}
    srv = fake_server(files=files, listings={"/": _sized_listing(fmt)}, mlst=fmt == "mlsd")
    m = fake_mount(srv)
    st = stat_names(m.mountpoint, "huge\x1b[31m", "max", "normal")
    assert st["huge\x1b[31m"]["size"] == OFF_MAX, st  # was negative: EIO
    assert st["max"]["size"] == OFF_MAX, st
    assert st["max"]["blocks"] == OFF_MAX // 512 + 1, st  # (size + 511) / 512 overflowed
    assert st["normal"]["size"] == 6, st
    # The content is still there: the read ends at the server's end of file.
    r = fs_call("read", m.mountpoint / "max")
    assert (r.size, r.sha256) == (6, hashlib.sha256(b"hello\n").hexdigest()), errname(r)
    assert_log_escaped(m, '/: 1 entry with a size of 2^63 bytes or more (the first: '
                          '"huge\\x1b[31m"): shown as 9223372036854775807 bytes')


def test_listing_over_dir_max_entries_is_refused_and_logged(fake_server, fake_mount):
    """A directory bigger than dir_max_entries fails with EIO - never silently: the log says
    how many entries were allowed and which option changes it. One within the bound lists."""
    big = [b"type=file;size=1;modify=20240101000000; f%05d" % i for i in range(1500)]
    small = [b"type=file;size=1;modify=20240101000000; g%03d" % i for i in range(900)]
    srv = fake_server(files={"/big/x": b"x", "/small/y": b"y"},
                      listings={"/big": big, "/small": small})
    m = fake_mount(srv, "dir_max_entries=1000")
    assert fs_call("listdir", m.mountpoint / "big").errno == errno.EIO
    assert len(fs_call("listdir", m.mountpoint / "small").names) == 900
    assert_log_escaped(m, "/big: refused: the listing has more than 1000 entries (mount with "
                          "-o dir_max_entries=N to allow more")


def test_far_past_and_future_times_are_kept(fake_server, fake_mount):
    listing = [b"type=file;size=1;modify=00000101000000; past",
               b"type=file;size=1;modify=99991231235959.999; future"]
    srv = fake_server(files={"/past": b"p", "/future": b"f"}, listings={"/": listing})
    m = fake_mount(srv)
    st = stat_names(m.mountpoint, "past", "future")
    assert st["past"]["mtime"] == -62167219200 * 10**9, st
    assert st["future"]["mtime"] == 253402300799 * 10**9 + 999 * 10**6, st


def test_far_mdtm_times_are_kept(fake_server, fake_mount):
    """LIST gives minutes; MDTM the seconds, far in the past and future."""
    srv = fake_server(files={"/past": b"p", "/future": b"f"}, mlst=False, mdtm=True)
    srv.mtimes.update({"/past": "00000101000000", "/future": "99991231235959"})
    m = fake_mount(srv)
    st = stat_names(m.mountpoint, "past", "future")
    assert st["past"]["mtime"] == -62167219200 * 10**9, st
    assert st["future"]["mtime"] == 253402300799 * 10**9, st


# --- terminal injection --------------------------------------------------------------------------

# Sets the terminal's title (OSC ... BEL), then a bare CR and a forged log line.
INJECTION = "\x1b]0;owned\x07\rftpsfs info: all fine"
INJECTION_ESCAPED = "\\x1b]0;owned\\x07\\x0dftpsfs info: all fine"


def test_greeting_refusal_text_is_escaped(fake_server, fake_mount):
    srv = fake_server(greeting=f"421 {INJECTION}\r\n".encode())
    m = fake_mount(srv, start=False)
    failed_start(m)
    assert_log_escaped(m, f"server greeting: 421 {INJECTION_ESCAPED}")


def test_login_refusal_text_is_escaped(fake_server, fake_mount):
    srv = fake_server()
    srv.on("PASS", lambda s, arg: s.reply(530, INJECTION))
    m = fake_mount(srv, start=False)
    failed_start(m)
    assert_log_escaped(m, f"login refused: 530 {INJECTION_ESCAPED}")


def test_transfer_failure_text_is_escaped(fake_server, fake_mount):
    srv = fake_server(files={"/f.bin": b"x" * 1000})
    srv.on("RETR", lambda s, arg: s.transfer(b"x" * 1000, final=(451, INJECTION)))
    m = fake_mount(srv)
    r = fs_call("read", m.mountpoint / "f.bin")
    assert r.errno == errno.EIO, errname(r)
    assert_log_escaped(m, f"transfer failed: 451 {INJECTION_ESCAPED}")


def test_names_with_control_characters_are_escaped(fake_server, fake_mount):
    """A name with ESC and BEL is a valid name (shown); one with CR is dropped. Both reach the
    log only escaped, also inside a path in another message."""
    listing = [b"type=file;size=1;modify=20240101000000; esc\x1b]0;t\x07name",
               b"type=file;size=1;modify=20240101000000; cr\rname",
               b"type=file;size=1;modify=20240101000000; c1\xc2\x9b2Jname"]
    srv = fake_server(files={"/esc\x1b]0;t\x07name": b"e"}, listings={"/": listing})
    srv.on("RETR", lambda s, arg: s.reply(550, "No such file."))
    m = fake_mount(srv)
    names = fs_call("listdir", m.mountpoint).names
    assert names == ["c1\u009b2Jname", "esc\x1b]0;t\x07name"], names
    r = fs_call("read", m.mountpoint / "esc\x1b]0;t\x07name")
    assert r.errno is not None, errname(r)
    assert_log_escaped(m, '"cr\\x0dname"', "RETR /esc\\x1b]0;t\\x07name")


def test_multiline_feat_with_control_characters_is_escaped(fake_server, fake_mount):
    feat = (b"211-Features \x1b[2J\r\n"
            b" EPSV\r\n"
            b" MLST type*;size*;modify*;UNIX.mode*;\r\n"
            b" X-EVIL \x07\x1b]2;title\x07\rftpsfs info: forged\r\n"
            b"211 End\r\n")
    srv = fake_server(files={"/a": b"a"})
    srv.on("FEAT", lambda s, arg: s.send_raw(feat))
    m = fake_mount(srv)
    assert fs_call("listdir", m.mountpoint).names == ["a"]
    assert_log_escaped(m, "< 211-Features \\x1b[2J",
                       "<  X-EVIL \\x07\\x1b]2;title\\x07\\x0dftpsfs info: forged")


# --- interrupts --------------------------------------------------------------------------------


def test_interrupted_read_of_a_silent_server_returns_at_once(fake_server, fake_mount):
    """150, some data, then silence: the read blocks; SIGTERM must not wait for the server's
    answer to ABOR (the timeout, 5 s here)."""
    started = threading.Event()
    srv = fake_server(files={"/f.bin": DATA, "/g.bin": b"other\n"})

    def silent(s, arg):
        if arg != "/f.bin":
            return DEFAULT
        started.set()
        s.stall_transfer(DATA[:1000])

    srv.on("RETR", silent)
    m = fake_mount(srv, timeout=5)
    took = time_to_die("read", m.mountpoint / "f.bin", started)
    assert took < INTERRUPT_BOUND, took
    r = fs_call("read", m.mountpoint / "g.bin")  # the next operation works
    assert r.size == 6, errname(r)


def test_interrupted_read_of_a_slow_server_returns_at_once(fake_server, fake_mount):
    """The server trickles data, then answers the abort slowly, each reply inside the timeout:
    426, ABOR's reply and NOOP's each 2.5 s late (7.5 s in all for a caller that waits)."""
    started = threading.Event()
    srv = fake_server(files={"/f.bin": DATA, "/g.bin": b"other\n"})

    def trickle(s, arg):
        if arg != "/f.bin":
            return DEFAULT
        s.trickle_transfer(b"x" * 100, interval=0.3, started=started, aborted=None)
        s.pause(2.5)
        s.reply(426, "Transfer aborted.")

    srv.on("RETR", trickle)
    srv.on("ABOR", lambda s, arg: (s.pause(2.5), s.reply(226, "ABOR done.")))
    srv.on("NOOP", slow(2.5))
    m = fake_mount(srv, timeout=5)
    took = time_to_die("read", m.mountpoint / "f.bin", started)
    assert took < INTERRUPT_BOUND, took
    r = fs_call("read", m.mountpoint / "g.bin")
    assert r.size == 6, errname(r)


def test_interrupted_read_puts_the_connection_back_in_step(fake_server, fake_mount):
    """In the background the aborted connection gets ABOR and NOOP, and once in step it serves
    the next transfer."""
    started = threading.Event()
    srv = fake_server(files={"/f.bin": DATA, "/g.bin": b"other\n"})

    def trickle(s, arg):
        if arg != "/f.bin":
            return DEFAULT
        s.trickle_transfer(b"x" * 100, interval=0.3, started=started)

    srv.on("RETR", trickle)
    srv.on("ABOR", lambda s, arg: s.reply(225, "ABOR done."))
    m = fake_mount(srv, timeout=5)
    took = time_to_die("read", m.mountpoint / "f.bin", started)
    assert took < INTERRUPT_BOUND, took
    retr_session = srv.commands("RETR")[-1][0]
    deadline = time.monotonic() + 5
    while not any(sid == retr_session for sid, _, _ in srv.commands("NOOP")):
        assert time.monotonic() < deadline, srv.commands()
        time.sleep(0.05)
    time.sleep(0.3)  # the NOOP's reply read, the connection back in the pool
    r = fs_call("read", m.mountpoint / "g.bin")
    assert r.size == 6, errname(r)
    assert srv.commands("RETR")[-1] == (retr_session, "RETR", "/g.bin"), srv.commands()
    assert "cannot resynchronise" not in m.log_text()


def test_interrupted_listing_returns_at_once(fake_server, fake_mount):
    started = threading.Event()
    lines = b"".join(b"type=file;size=1;modify=20240101000000; f%05d\r\n" % i
                     for i in range(2000))
    srv = fake_server(files={"/d/a": b"a", "/e/b": b"b"})

    def trickle(s, arg):
        if arg != "/d":
            return DEFAULT
        s.trickle_transfer(lines[:64], interval=0.3, started=started)

    srv.on("MLSD", trickle)
    srv.on("ABOR", lambda s, arg: (s.pause(2.5), s.reply(226, "ABOR done.")))
    srv.on("NOOP", slow(2.5))
    m = fake_mount(srv, timeout=5)
    took = time_to_die("listdir", m.mountpoint / "d", started)
    assert took < INTERRUPT_BOUND, took
    assert fs_call("listdir", m.mountpoint / "e").names == ["b"]


def test_interrupted_lookup_returns_at_once(fake_server, fake_mount):
    """stat of a name not cached yet lists its directory: that listing trickles."""
    started = threading.Event()
    lines = b"".join(b"type=file;size=1;modify=20240101000000; f%05d\r\n" % i
                     for i in range(2000))
    srv = fake_server(files={"/d/a": b"a", "/e/b": b"b"})

    def trickle(s, arg):
        if arg != "/d":
            return DEFAULT
        s.trickle_transfer(lines[:64], interval=0.3, started=started)

    srv.on("MLSD", trickle)
    m = fake_mount(srv, timeout=5)
    assert fs_call("listdir", m.mountpoint).names == ["d", "e"]
    took = time_to_die("stat", m.mountpoint / "d" / "a", started)
    assert took < INTERRUPT_BOUND, took
    assert fs_call("listdir", m.mountpoint / "e").names == ["b"]


# --- the operation deadline --------------------------------------------------------------------

SLOW_VERBS = ("CWD", "EPSV", "LIST", "MDTM")


def _slow_ls_server(fake_server):
    """A LIST server with MDTM: the exact times of a directory of 10 files (what a stat of
    one of them asks, RFC 3659 MDTM, pipelined) cost 10 replies; slow_ls() makes each reply
    `delay` late."""
    files = {f"/d/f{i}": b"x" for i in range(10)}
    return fake_server(files=files, mlst=False, mdtm=True)


def slow_ls(srv, delay):
    for verb in SLOW_VERBS:
        srv.on(verb, slow(delay))


def fast_again(srv):
    for verb in SLOW_VERBS:
        srv.off(verb)


def _listed_fast(m):
    """List d while the server is fast: the stat below then waits only for the times."""
    assert fs_call("listdir", m.mountpoint / "d").names == [f"f{i}" for i in range(10)]


# A stat waiting for its directory's MDTM times answers when op_timeout ends the batch: with
# the listed time if its own answer did not come (progress is kept, see test_faults.py).

def test_replies_each_inside_timeout_are_bounded_by_op_timeout(fake_server, fake_mount):
    srv = _slow_ls_server(fake_server)
    m = fake_mount(srv, "op_timeout=3", timeout=1)
    _listed_fast(m)
    slow_ls(srv, 0.8)  # 10 MDTM replies 0.8 s late each: 8 s without a deadline
    r = fs_call("stat", m.mountpoint / "d" / "f0", limit=30)
    assert r.size == 1, errname(r)
    assert r.elapsed < 3 + 1, r.elapsed
    assert "operation not done within op_timeout" in m.log_text()
    fast_again(srv)
    assert fs_call("stat", m.mountpoint / "d" / "f0").size == 1


def test_op_timeout_defaults_to_four_times_timeout(fake_server, fake_mount):
    srv = _slow_ls_server(fake_server)
    m = fake_mount(srv, timeout=1)
    _listed_fast(m)
    slow_ls(srv, 0.8)
    r = fs_call("stat", m.mountpoint / "d" / "f0", limit=30)
    assert r.size == 1, errname(r)
    assert 4 - 0.5 < r.elapsed < 4 + 1, r.elapsed


def test_op_timeout_0_means_no_limit(fake_server, fake_mount):
    srv = _slow_ls_server(fake_server)
    m = fake_mount(srv, "op_timeout=0", timeout=1)
    _listed_fast(m)
    slow_ls(srv, 0.5)  # 10 replies 0.5 s late: beyond 4 x timeout in all
    r = fs_call("stat", m.mountpoint / "d" / "f0", limit=30)
    assert r.size == 1, errname(r)
    assert r.elapsed > 4, r.elapsed


def test_trickled_data_is_bounded_by_op_timeout(fake_server, fake_mount):
    """100 bytes every 0.5 s, forever, on a 1 s stall limit: without a deadline on the whole
    operation the read would never end."""
    srv = fake_server(files={"/f.bin": DATA, "/g.bin": b"other\n"})

    def trickle(s, arg):
        if arg != "/f.bin":
            return DEFAULT
        s.trickle_transfer(b"x" * 100, interval=0.5)

    srv.on("RETR", trickle)
    m = fake_mount(srv, "op_timeout=3", timeout=1)
    r = fs_call("read", m.mountpoint / "f.bin", limit=30)
    assert r.errno in (errno.ETIMEDOUT, errno.EIO), errname(r)
    # The kernel may ask twice (readahead, then the page itself).
    assert r.elapsed < 2 * 3 + 1, r.elapsed
    assert "operation not done within op_timeout" in m.log_text()
    r = fs_call("read", m.mountpoint / "g.bin")
    assert r.size == 6, errname(r)
