"""Faults that real servers don't produce on demand, scripted with the fake FTPS server.

Every test mounts the real ftpsfs against its own FakeFtpsServer (fakeserver.py) and checks
the contract for a misbehaving server: a clear error (EIO, or ETIMEDOUT for a silent server),
never a short file or a forged directory entry returned as success, no hang, and a mount that
stays usable afterwards. Every access to the mount runs in a child process with a hard time
limit, so a hang fails the test instead of blocking the run.
"""

import errno
import hashlib
import random
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fakeserver import DEFAULT  # noqa: E402
from conftest import FAKE_TIMEOUT  # noqa: E402
from mount import is_fuse_mounted  # noqa: E402
from fscall import errname, fs_call  # noqa: E402
from writehelpers import pycall  # noqa: E402

TIMEOUT = FAKE_TIMEOUT  # fake_mount's -o timeout and connect_timeout, seconds


def fault_bound(timeout=TIMEOUT):
    """A fault must surface within this long: ftpsfs waits `timeout` per reply, and a failed
    read may be tried twice by the kernel (readahead, then the page itself)."""
    return timeout * 3


DATA = random.Random(1).randbytes(100_000)
DATA_SHA = hashlib.sha256(DATA).hexdigest()


# --- fixtures ----------------------------------------------------------------------------------

# --- helpers -----------------------------------------------------------------------------------

def assert_mount_alive(m):
    assert m.proc is not None and m.proc.poll() is None, "ftpsfs exited:\n" + m.log_text()
    assert is_fuse_mounted(m.mountpoint)


def assert_listing_works(m, expected):
    r = fs_call("listdir", m.mountpoint)
    assert r.names == sorted(expected), errname(r)


def session_verbs(srv, verbs):
    """{session id: [verb, ...]} of the commands among `verbs`, in order."""
    out = {}
    for sid, verb, _ in srv.commands():
        if verb in verbs:
            out.setdefault(sid, []).append(verb)
    return out


# --- truncated and failed transfers ------------------------------------------------------------

def test_retr_truncated_without_close_notify_is_eio(fake_server, fake_mount):
    srv = fake_server(files={"/f.bin": DATA})

    def truncate(s, arg):
        rest = s.take_rest()
        s.transfer(DATA[rest:rest + 30_000], clean=False)  # then "226 Transfer complete."

    srv.on("RETR", truncate)
    m = fake_mount(srv)
    r = fs_call("readchunks", m.mountpoint / "f.bin")
    assert r.errno == errno.EIO, errname(r)
    # What came before the error is the file's own bytes; the end is never confirmed.
    assert r.size < len(DATA)
    assert r.sha256 == hashlib.sha256(DATA[:r.size]).hexdigest()
    assert "possible truncation" in m.log_text()
    assert_mount_alive(m)


def test_retr_truncated_once_is_resumed_with_rest(fake_server, fake_mount):
    srv = fake_server(files={"/f.bin": DATA})
    cut = 40_000
    truncated = []

    def truncate_first(s, arg):
        if truncated:
            return DEFAULT
        truncated.append(s.take_rest())
        s.transfer(DATA[:cut], clean=False)

    srv.on("RETR", truncate_first)
    m = fake_mount(srv)
    r = fs_call("read", m.mountpoint / "f.bin")
    assert (r.size, r.sha256) == (len(DATA), DATA_SHA), errname(r)
    assert truncated == [0]
    assert [a for _, _, a in srv.commands("REST")] == [str(cut)]
    assert "possible truncation" in m.log_text()


@pytest.mark.parametrize("final", [(426, "Connection closed; transfer aborted."),
                                   (451, "Requested action aborted: local error.")],
                         ids=["426", "451"])
def test_retr_complete_but_failure_reply_is_eio(fake_server, fake_mount, final):
    srv = fake_server(files={"/f.bin": DATA})
    srv.on("RETR", lambda s, arg: s.transfer(DATA[s.take_rest():], clean=True, final=final))
    m = fake_mount(srv)
    r = fs_call("read", m.mountpoint / "f.bin")
    assert r.errno == errno.EIO, errname(r)
    assert f"transfer failed: {final[0]}" in m.log_text()
    assert_mount_alive(m)


# --- dead and silent servers -------------------------------------------------------------------

def test_control_connection_closed_on_retr_is_eio_and_mount_recovers(fake_server, fake_mount):
    srv = fake_server(files={"/f.bin": DATA, "/d/other.txt": b"other\n"})
    srv.on("RETR", lambda s, arg: s.drop())
    m = fake_mount(srv)
    r = fs_call("read", m.mountpoint / "f.bin")
    assert r.errno == errno.EIO, errname(r)
    assert "control connection closed by server" in m.log_text()
    r = fs_call("listdir", m.mountpoint / "d")  # not cached yet: needs a working connection
    assert r.names == ["other.txt"], errname(r)
    # The dropped connection is not the one that listed: every one after it is a new login
    # (the pool may have logged it in before the listdir, so no count taken in between).
    assert srv.logins >= 2
    assert_mount_alive(m)


def test_silent_server_after_retr_fails_within_timeout(fake_server, fake_mount):
    srv = fake_server(files={"/f.bin": DATA[:5000], "/other.txt": b"other\n"})
    srv.on("RETR", lambda s, arg: s.hang())
    m = fake_mount(srv)
    r = fs_call("read", m.mountpoint / "f.bin")
    assert r.errno in (errno.EIO, errno.ETIMEDOUT), errname(r)
    assert TIMEOUT * 0.9 < r.elapsed < fault_bound(), r.elapsed
    assert "server did not reply in time" in m.log_text() or \
        f"server 127.0.0.1 did not reply within {TIMEOUT} s (-o timeout=" in m.log_text()
    assert_listing_works(m, ["f.bin", "other.txt"])
    assert_mount_alive(m)


# --- hostile listings --------------------------------------------------------------------------

NORMAL_NAMES = ["normal.txt", "name with spaces", "subdir"]
# Names that must never become directory entries, and "." / "..", which are not entries.
HOSTILE_NAMES = [b"../escape", b"a/b", b"bad\rname", b"L" * 300]
OVERLONG_NAME = b"W" * 20 * 1024  # makes a 20 KiB line


def _mlsd_line(name, is_dir=False):
    facts = b"type=dir;" if is_dir else b"type=file;size=6;"
    return facts + b"modify=20240101000000; " + name


def _list_line(name, is_dir=False):
    mode = b"drwxr-xr-x" if is_dir else b"-rw-r--r--"
    return mode + b"    1 ftp      ftp             6 Jan 01  2024 " + name


def _hostile_listing(line):
    lines = [line(b".", True), line(b"..", True)]
    lines += [line(name) for name in HOSTILE_NAMES + [OVERLONG_NAME]]
    lines += [line(b"normal.txt"), line(b"name with spaces"), line(b"subdir", True)]
    return lines


@pytest.mark.parametrize("fmt", ["mlsd", "list"])
def test_hostile_listing_shows_only_normal_entries(fake_server, fake_mount, fmt):
    line = _mlsd_line if fmt == "mlsd" else _list_line
    listing = _hostile_listing(line)
    if fmt == "list":
        listing.insert(0, b"total 12")
    srv = fake_server(files={"/normal.txt": b"hello\n"}, dirs=["/subdir"],
                      listings={"/": listing}, mlst=fmt == "mlsd")
    m = fake_mount(srv)
    assert_listing_works(m, NORMAL_NAMES)
    assert srv.commands("MLSD" if fmt == "mlsd" else "LIST")
    log = m.log_text()
    dropped = re.findall(r"dropped a directory entry with an unusable name from the server: "
                         r'"(.*)"', log)
    assert len(dropped) == len(HOSTILE_NAMES), dropped
    assert {"../escape", "a/b", "bad\\x0dname"} <= set(dropped)
    assert "dropped an overlong listing line" in log
    assert "4 entries of / dropped" in log
    r = fs_call("read", m.mountpoint / "normal.txt")
    assert r.size == 6, errname(r)
    assert_mount_alive(m)


def test_mlsd_truncated_without_close_notify_is_eio(fake_server, fake_mount):
    names = [f"f{i:03d}" for i in range(200)]
    srv = fake_server(files={"/" + n: b"x" for n in names})

    def truncate(s, arg):
        listing = s.server.listing("/", mlsd=True)
        s.transfer(listing[:len(listing) // 2], clean=False)  # then "226 Transfer complete."

    srv.on("MLSD", truncate)
    m = fake_mount(srv)
    r = fs_call("listdir", m.mountpoint)
    assert r.errno == errno.EIO, errname(r)  # never half a directory
    assert "possible truncation" in m.log_text()
    srv.off("MLSD")
    assert_listing_works(m, names)
    assert_mount_alive(m)


# --- malformed replies -------------------------------------------------------------------------

BAD_PASSIVE_REPLIES = {
    "epsv-port-0": ("EPSV", True, "229 Entering Extended Passive Mode (|||0|)"),
    "epsv-port-99999": ("EPSV", True, "229 Entering Extended Passive Mode (|||99999|)"),
    "pasv-port-0": ("PASV", False, "227 Entering Passive Mode (127,0,0,1,0,0)."),
    "pasv-byte-300": ("PASV", False, "227 Entering Passive Mode (127,0,0,1,300,1)."),
}


@pytest.mark.parametrize("case", BAD_PASSIVE_REPLIES)
def test_bad_passive_port_is_eio(fake_server, fake_mount, case):
    verb, epsv, text = BAD_PASSIVE_REPLIES[case]
    srv = fake_server(files={"/a.txt": b"a\n"}, epsv=epsv)
    srv.on(verb, lambda s, arg: s.send_raw(text.encode() + b"\r\n"))
    m = fake_mount(srv)
    r = fs_call("listdir", m.mountpoint)
    assert r.errno == errno.EIO, errname(r)
    assert "malformed passive-mode reply" in m.log_text()
    srv.off(verb)
    assert_listing_works(m, ["a.txt"])
    assert_mount_alive(m)


def test_overlong_reply_line_is_eio(fake_server, fake_mount):
    srv = fake_server(files={"/a.txt": b"a\n"})
    srv.on("EPSV", lambda s, arg: s.send_raw(b"229 " + b"x" * 5000 + b"\r\n"))
    m = fake_mount(srv)
    r = fs_call("listdir", m.mountpoint)
    assert r.errno == errno.EIO, errname(r)
    assert "server reply too long" in m.log_text()
    srv.off("EPSV")
    assert_listing_works(m, ["a.txt"])
    assert_mount_alive(m)


def test_endless_multiline_reply_is_eio(fake_server, fake_mount):
    srv = fake_server(files={"/a.txt": b"a\n"})
    srv.on("EPSV", lambda s, arg: s.flood_multiline(211))
    m = fake_mount(srv)
    r = fs_call("listdir", m.mountpoint)
    assert r.errno == errno.EIO, errname(r)
    assert r.elapsed < fault_bound(), r.elapsed
    assert "server reply too long" in m.log_text()
    srv.off("EPSV")
    assert_listing_works(m, ["a.txt"])
    assert_mount_alive(m)


def test_trickled_endless_multiline_reply_times_out(fake_server, fake_mount):
    """One line every 50 ms never hits the line limit: the reply deadline must end it."""
    srv = fake_server(files={"/a.txt": b"a\n"})
    srv.on("EPSV", lambda s, arg: s.flood_multiline(211, interval=0.05))
    m = fake_mount(srv)
    r = fs_call("listdir", m.mountpoint)
    assert r.errno in (errno.EIO, errno.ETIMEDOUT), errname(r)
    assert r.elapsed < fault_bound(), r.elapsed
    assert f"server 127.0.0.1 did not reply within {TIMEOUT} s (-o timeout= sets the limit)" \
        in m.log_text()
    srv.off("EPSV")
    assert_listing_works(m, ["a.txt"])
    assert_mount_alive(m)


# --- passive mode fallback ---------------------------------------------------------------------

def test_pasv_fallback_ignores_foreign_address(fake_server, fake_mount):
    """No EPSV: the client falls back to PASV and connects to the control connection's peer,
    never to the address in the 227 reply (a decoy listener there counts connections)."""
    srv = fake_server(files={"/a.txt": b"hello\n"}, epsv=False, pasv_address="127.0.0.2")
    m = fake_mount(srv)
    assert_listing_works(m, ["a.txt"])
    r = fs_call("read", m.mountpoint / "a.txt")
    assert r.size == 6, errname(r)
    assert srv.decoy_hits == 0
    assert srv.data_connections == 2
    # EPSV is tried once per connection; after its 502, PASV only.
    for verbs in session_verbs(srv, ("EPSV", "PASV")).values():
        assert verbs[0] == "EPSV" and set(verbs[1:]) == {"PASV"}, verbs


# --- refusals at start-up ----------------------------------------------------------------------

def _failed_start(m):
    with pytest.raises(RuntimeError) as exc:
        m.start()
    msg = str(exc.value)
    rc = re.search(r"ftpsfs exited with (-?\d+) before mounting", msg)
    assert rc, msg
    assert int(rc.group(1)) != 0
    assert not is_fuse_mounted(m.mountpoint)
    return m.log_text()


def test_wrong_password_refuses_to_mount(fake_server, fake_mount):
    srv = fake_server()
    m = fake_mount(srv, password="Wrong-Pw-9", start=False)
    log = _failed_start(m)
    assert re.search(r"login refused: 530", log), log
    assert "Wrong-Pw-9" not in log
    assert srv.logins == 0


def test_server_without_tls_gets_no_credentials(fake_server, fake_mount):
    srv = fake_server()
    srv.on("AUTH", lambda s, arg: s.reply(502, "Command not implemented."))
    m = fake_mount(srv, start=False)
    log = _failed_start(m)
    assert "does not offer TLS" in log, log
    # The exact dialogue: nothing after the refused AUTH TLS, above all no USER/PASS.
    assert [(v, a) for _, v, a in srv.commands()] == [("AUTH", "TLS")]


# --- stalls and desynchronised connections --------------------------------------------------

def test_stalled_data_connection_fails_within_timeout(fake_server, fake_mount):
    srv = fake_server(files={"/f.bin": DATA[:5000]})
    srv.on("RETR", lambda s, arg: s.stall_transfer())
    m = fake_mount(srv, timeout=1)
    r = fs_call("read", m.mountpoint / "f.bin", limit=fault_bound(1) + 2)
    assert r.errno in (errno.EIO, errno.ETIMEDOUT), errname(r)
    assert r.elapsed < fault_bound(1), r.elapsed


def test_stray_reply_line_does_not_fail_the_next_operation(fake_server, fake_mount):
    other = DATA[::-1]
    srv = fake_server(files={"/f.bin": DATA, "/g.bin": other})

    def stray(s, arg):
        if arg != "/f.bin":
            return DEFAULT
        s.transfer(DATA[s.take_rest():], final=None)
        s.send_raw(b"226 Transfer complete.\r\n226 Stray second reply.\r\n")

    srv.on("RETR", stray)
    m = fake_mount(srv)
    r = fs_call("read", m.mountpoint / "f.bin")
    assert r.sha256 == DATA_SHA, errname(r)
    r = fs_call("read", m.mountpoint / "g.bin")
    assert r.sha256 == hashlib.sha256(other).hexdigest(), errname(r)


def test_split_multiline_150_does_not_hold_up_the_transfer(fake_server, fake_mount):
    """Pure-FTPd sends the closing line of its multi-line 150 only after the
    transfer: the data handshake must start at the first line."""
    srv = fake_server(files={"/f.bin": DATA})
    srv.on("RETR", lambda s, arg: s.transfer(DATA[s.take_rest():], split_150=True))
    m = fake_mount(srv)
    r = fs_call("read", m.mountpoint / "f.bin")
    assert r.sha256 == DATA_SHA, errname(r)
    assert r.elapsed < TIMEOUT, r.elapsed
    assert_listing_works(m, ["f.bin"])  # and the control connection is in step


# --- transient refusals ------------------------------------------------------------------------
#
# ProFTPD under concurrent transfers sometimes answers EPSV with "425 EPSV: Address already in
# use" (two sessions picked one passive port in the same millisecond; the next EPSV works), and
# a data connection may be dropped as it opens.  Neither may cost a read, a listing or a write.

_WRITE_BOTH_WAYS = """
    stage = "stream"
    with open(os.path.join(d, "new.bin"), "wb") as f:
        f.write(random.Random(9).randbytes(200_000))
    stage = "spool"
    fd = os.open(os.path.join(d, "a.bin"), os.O_WRONLY)
    os.pwrite(fd, b"patched", 1000)
    stage = "close"
    os.close(fd)
"""


def _exercise(m, srv, data):
    """List, read, stream a new file and patch an old one through the mount."""
    new = random.Random(9).randbytes(200_000)
    assert fs_call("listdir", m.mountpoint / "d").names == ["x"]
    r = fs_call("read", m.mountpoint / "a.bin")
    assert r.sha256 == hashlib.sha256(data).hexdigest(), errname(r)
    out = pycall(_WRITE_BOTH_WAYS, d=str(m.mountpoint))
    assert out.errno is None, f"{out.error} at {out.stage}"
    assert srv.files["/new.bin"] == new
    assert srv.files["/a.bin"] == data[:1000] + b"patched" + data[1007:]


def test_transient_epsv_refusals_are_asked_again(fake_server, fake_mount):
    data = random.Random(8).randbytes(300_000)
    srv = fake_server(files={"/a.bin": data, "/d/x": b"x"})
    calls = {"n": 0}
    per_session = {}

    def flaky(s, arg):
        calls["n"] += 1
        # Two refusals before every success, counted per connection: with one count for all,
        # two connections at work took turns so that one met many refusals in a row (the
        # test flaked under load).
        n = per_session[id(s)] = per_session.get(id(s), 0) + 1
        if n % 3 != 0:
            s.reply(425, "EPSV: Address already in use")
            return None
        return DEFAULT

    srv.on("EPSV", flaky)
    m = fake_mount(srv)
    _exercise(m, srv, data)
    assert calls["n"] >= 12  # the refusals did happen, for each kind of transfer
    assert_mount_alive(m)


def test_persistent_epsv_refusal_fails_in_bounded_time(fake_server, fake_mount):
    srv = fake_server(files={"/a.bin": b"a"})
    srv.on("EPSV", lambda s, arg: s.reply(425, "EPSV: Address already in use"))
    m = fake_mount(srv)
    r = fs_call("read", m.mountpoint / "a.bin", limit=20)
    assert r.errno == errno.EIO, errname(r)
    assert r.elapsed < 10, r.elapsed
    assert "425 EPSV: Address already in use" in m.log_text()


def test_refused_epsv_in_a_flight_whose_command_goes_unanswered_costs_no_timeout(
        fake_server, fake_mount):
    """ProFTPD under load: 425 to the EPSV of a pipelined flight, then no reply at all to the
    RETR behind it. The mount must not wait its whole timeout for that reply: a fresh
    connection gets the file."""
    srv = fake_server(files={"/a.bin": DATA})
    calls = {"epsv": 0, "swallow": False}

    def epsv(s, arg):
        calls["epsv"] += 1
        if calls["epsv"] == 2:  # the first was the root listing's: pipelining is on now
            calls["swallow"] = True
            s.reply(425, "EPSV: Address already in use")
            return None
        return DEFAULT

    def retr(s, arg):
        if calls["swallow"]:
            calls["swallow"] = False
            s.hang()
        return DEFAULT

    srv.on("EPSV", epsv)
    srv.on("RETR", retr)
    m = fake_mount(srv, timeout=10)
    r = fs_call("read", m.mountpoint / "a.bin", limit=40)
    assert r.sha256 == DATA_SHA, errname(r)
    assert calls["epsv"] >= 3 and not calls["swallow"]  # the refusal did happen
    assert r.elapsed < 6, r.elapsed  # not the 10 s timeout
    assert_mount_alive(m)


_STAT_ALL = """
import os
result = {}
for name in sorted(os.listdir(d)):
    st = os.stat(os.path.join(d, name))
    result[name] = st.st_mtime
"""


def test_slow_server_answers_every_stat_though_op_timeout_cuts_the_time_batch(
        fake_server, fake_mount):
    """Each MDTM answered a second late, op_timeout 4 s: a stat that asks the exact times of
    its directory's 10 files gets only some answers in time. Those are kept and the stat
    answers (with the listed time for now): every stat succeeds and, stat by stat, every time
    becomes exact."""
    names = [f"f{i}.txt" for i in range(10)]
    srv = fake_server(files={f"/{n}": b"x" for n in names}, mlst=False, mdtm=True)
    srv.mtimes.update({f"/{n}": f"2023010203040{i}" for i, n in enumerate(names)})

    def late(s, arg):
        s.pause(1.0)
        return DEFAULT

    srv.on("MDTM", late)
    m = fake_mount(srv, "op_timeout=4", "attr_timeout=60")
    exact = {n: 1672628640 + i for i, n in enumerate(names)}  # 2023-01-02 03:04:0i UTC
    seen = {}
    for _ in range(8):
        out = pycall(_STAT_ALL, d=str(m.mountpoint), timeout=120)
        assert out.errno is None, f"{out.error}"
        seen = out.result
        if seen == exact:
            break
    assert seen == exact
    assert_mount_alive(m)


def test_list_asked_for_a_symlink_target_does_not_hide_the_mlsd_listing(fake_server, fake_mount):
    """MLSD names a symlink without its target; reading the link asks LIST, which this server
    answers with nothing. That answer serves readlink only: the directory's files stay listed."""
    srv = fake_server(files={"/d/a.txt": b"hello\n"},
                      listings={"/d": [_mlsd_line(b"a.txt"),
                                       b"type=OS.unix=symlink;modify=20240101000000; lnk"]})
    srv.on("LIST", lambda s, arg: s.transfer(b""))
    m = fake_mount(srv)
    assert fs_call("listdir", m.mountpoint / "d").names == ["a.txt", "lnk"]
    assert pycall("result = os.readlink(os.path.join(d, 'lnk'))",
                  d=str(m.mountpoint / "d")).errno is not None  # no target anywhere
    assert srv.commands("LIST")
    assert fs_call("listdir", m.mountpoint / "d").names == ["a.txt", "lnk"]
    assert fs_call("read", m.mountpoint / "d" / "a.txt").size == 6
    assert_mount_alive(m)


def test_data_the_server_did_not_confirm_is_not_kept_in_the_page_cache(fake_server, fake_mount):
    """The bytes of a download that ended cleanly at the file's size reach the program before
    the server's final reply. When that reply is a refusal, the kernel must not keep those
    bytes for the next open (same size, same time: it otherwise would)."""
    old, new = b"A" * 131072, b"B" * 131072  # one kernel read: its end is the file's
    srv = fake_server(files={"/f.bin": old})
    calls = {"n": 0}

    def unconfirmed_once(sess, arg):
        calls["n"] += 1
        if calls["n"] > 1:
            return DEFAULT
        sess.take_rest()
        sess.transfer(old, final=(451, "Local error in processing."))
        return None

    srv.on("RETR", unconfirmed_once)
    m = fake_mount(srv)
    assert (m.mountpoint / "f.bin").read_bytes() == old
    srv.files["/f.bin"] = new  # same size, same time
    assert (m.mountpoint / "f.bin").read_bytes() == new
    assert "451 Local error in processing." in m.log_text()


def test_refused_pipelined_retr_is_its_refusal_not_a_connect_failure(fake_server, fake_mount):
    """EPSV and RETR go in one flight; a server that refuses the RETR (a file it may not
    read) closes its passive port before the data connection arrives. The refusal (EACCES)
    is the answer, not the refused connect (which was retried on new connections, then EIO)."""
    import socket
    srv = fake_server(files={"/a.txt": b"a\n", "/secret.txt": b"s\n"})
    m = fake_mount(srv)
    assert (m.mountpoint / "a.txt").read_bytes() == b"a\n"  # passive mode learnt
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    srv.on("EPSV", lambda sess, arg: sess.reply(229, f"Entering Extended Passive Mode "
                                                     f"(|||{dead}|)"))
    srv.on("RETR", lambda sess, arg: sess.reply(550, f"{arg}: Permission denied"))
    r = fs_call("read", m.mountpoint / "secret.txt", limit=30)
    assert r.errno == errno.EACCES, errname(r)
    assert "cannot open data connection" not in m.log_text()  # no connection given up
    assert_mount_alive(m)


def test_data_connection_reset_before_its_handshake_is_tried_again(fake_server, fake_mount):
    data = random.Random(7).randbytes(300_000)
    srv = fake_server(files={"/a.bin": data, "/d/x": b"x"})
    pending = {"MLSD", "RETR", "STOR"}

    def reset_once(verb):
        def hook(s, arg):
            if verb not in pending:
                return DEFAULT
            pending.discard(verb)
            s.take_rest()
            s.reset_data_connection()
            return None
        return hook

    for verb in list(pending):
        srv.on(verb, reset_once(verb))
    m = fake_mount(srv)
    _exercise(m, srv, data)
    assert not pending  # each kind of transfer met one reset
    assert_mount_alive(m)


def test_a_name_listed_twice_is_shown_once(fake_server, fake_mount):
    lines = [b"type=file;size=1;modify=20240101000000; twice",
             b"type=file;size=2;modify=20240101000000; once",
             b"type=file;size=3;modify=20240101000000; twice"]
    srv = fake_server(files={"/twice": b"1", "/once": b"22"}, listings={"/": lines})
    m = fake_mount(srv)
    assert fs_call("listdir", m.mountpoint).names == ["once", "twice"]
    assert "listed 1 names more than once" in m.log_text()
