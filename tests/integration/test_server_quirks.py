"""Servers that cannot run here, imitated by the scripted fake server (fakeserver.py) and used
through a real ftpsfs mount: FileZilla Server's TLS session rule, IIS's DOS-style listings and
125 replies, and servers that lack a feature FEAT would name (EPSV, SIZE, REST STREAM, MLST,
UTF8) or write MLSD facts in another order or case.

Every access to the mount runs in a child process with a time limit (writehelpers.pycall).
"""

import ftplib
import os
import ssl
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fakeserver import FILEZILLA_REFUSAL  # noqa: E402
from writehelpers import pycall  # noqa: E402

DATA = bytes(range(256)) * 400  # 102400 bytes
TLS_VERSIONS = ["1.2", "1.3"]


@pytest.fixture
def fake_mount(fake_mount):
    """Factory: fake_mount(srv, *options) -> started Mount of `srv` (explicit TLS), with
    timeout and connect_timeout 5."""
    return lambda srv, *options: fake_mount(srv, *options, timeout=5)


def _tls_options(tls):
    return ("tls_max=1.2",) if tls == "1.2" else ()


# One snippet doing what a user does: list, read, write a new file, rewrite part of a file.
LIST_READ_WRITE = """
    stage = "list"
    names = sorted(os.listdir(d))
    stage = "read"
    with open(d + "/f.bin", "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    stage = "write"
    with open(d + "/new.txt", "wb") as f:
        f.write(b"written through the mount\\n")
    stage = "rewrite"
    with open(d + "/f.bin", "r+b") as f:
        f.seek(1000)
        f.write(b"PATCH")
    stage = "done"
    result = {"names": names, "sha256": digest}
"""


def _expected_after_rewrite():
    patched = bytearray(DATA)
    patched[1000:1005] = b"PATCH"
    return bytes(patched)


# --- FileZilla Server: data sessions must be the control connection's ------------------------

@pytest.fixture(params=TLS_VERSIONS, ids=lambda t: f"tls{t}")
def filezilla(request, fake_server, fake_mount):
    """A fake server with FileZilla Server's rule (three TLS 1.3 tickets per control
    handshake), mounted with the cell's TLS version; LIST_READ_WRITE already run.
    Yields (server, Outcome)."""
    srv = fake_server(files={"/f.bin": DATA}, session_rule=FILEZILLA_REFUSAL,
                      tls13_tickets=3, tls_max=request.param if request.param == "1.2" else None)
    m = fake_mount(srv, *_tls_options(request.param), "max_conns=3")
    yield srv, pycall(LIST_READ_WRITE, d=m.mountpoint), m


def test_filezilla_rule_every_data_connection_passes(filezilla):
    srv, r, _ = filezilla
    assert r.errno is None, f"{r.errname} at {r.stage}: {r.error}"
    assert srv.data_refused == 0
    assert srv.data_connections >= 4  # list, read, upload, spool read/upload
    assert srv.data_resumed == srv.data_connections


def test_filezilla_rule_data_arrives_whole(filezilla):
    srv, r, _ = filezilla
    assert r.result["names"] == ["f.bin"]
    assert r.result["sha256"] == __import__("hashlib").sha256(DATA).hexdigest()
    assert srv.files["/new.txt"] == b"written through the mount\n"
    assert srv.files["/f.bin"] == _expected_after_rewrite()


def test_filezilla_rule_tls_version_is_the_cells(filezilla):
    srv, _, m = filezilla
    want = "TLSv1.2" if srv.tls_max == "1.2" else "TLSv1.3"
    assert f"logged in ({want})" in m.log_text()


def _ftplib_list(srv, certs, tls12):
    """A LIST by Python's ftplib.FTP_TLS, which never offers a session on data connections.
    Returns the error it got (or None)."""
    ctx = ssl.create_default_context(cafile=str(certs.ca_file))
    if tls12:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ftp = ftplib.FTP_TLS(context=ctx, timeout=10)
    try:
        ftp.connect("127.0.0.1", srv.port)
        ftp.login(srv.user, srv.password)
        ftp.prot_p()
        try:
            ftp.retrlines("LIST", lambda line: None)
        except (ftplib.error_temp, ftplib.error_perm) as e:
            return str(e)
        return None
    finally:
        ftp.close()


@pytest.mark.parametrize("tls", TLS_VERSIONS, ids=lambda t: f"tls{t}")
def test_filezilla_rule_refuses_a_client_that_does_not_resume(fake_server, certs, tls):
    """The rule is real: Python's ftplib does not resume data sessions and is refused."""
    srv = fake_server(files={"/f.bin": DATA}, session_rule=FILEZILLA_REFUSAL)
    err = _ftplib_list(srv, certs, tls12=tls == "1.2")
    assert err == "%d %s" % FILEZILLA_REFUSAL
    assert srv.data_refused == 1


@pytest.mark.parametrize("code", [425, 450, 522])
def test_filezilla_rule_refusal_code_is_configurable(fake_server, certs, code):
    srv = fake_server(session_rule=(code, "TLS session of data connection not resumed."))
    err = _ftplib_list(srv, certs, tls12=False)
    assert err is not None and err.startswith(str(code))


def test_filezilla_rule_refuses_a_session_from_another_control_connection(fake_server, certs):
    """Only sessions issued on this control connection resume: a ticket from another control
    connection of the same server is refused (ProFTPD's and FileZilla's check)."""
    srv = fake_server(files={"/f.bin": DATA}, session_rule=FILEZILLA_REFUSAL)
    ctx = ssl.create_default_context(cafile=str(certs.ca_file))
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2  # a session exists right after the handshake
    first = ftplib.FTP_TLS(context=ctx, timeout=10)
    first.connect("127.0.0.1", srv.port)
    first.login(srv.user, srv.password)
    foreign = first.sock.session

    class Reusing(ftplib.FTP_TLS):
        def ntransfercmd(self, cmd, rest=None):
            conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
            conn = self.context.wrap_socket(conn, server_hostname=self.host, session=foreign)
            return conn, size

    second = Reusing(context=ctx, timeout=10)
    try:
        second.connect("127.0.0.1", srv.port)
        second.login(srv.user, srv.password)
        second.prot_p()
        with pytest.raises(ftplib.error_temp, match="^450"):
            second.retrlines("LIST", lambda line: None)
    finally:
        second.close()
        first.close()
    assert srv.data_refused == 1


# --- IIS: DOS listings, 125 preliminary replies ----------------------------------------------

IIS_125 = (125, "Data connection already open; Transfer starting.")
IIS_NAMES = ["plain.txt", "two  spaces.txt", "trailing   runs   of spaces", "sub dir"]


@pytest.fixture
def iis(fake_server, fake_mount):
    """A fake IIS: DOS-style LIST, 125 before every transfer, no MLST; mounted."""
    files = {"/plain.txt": b"plain\n", "/two  spaces.txt": DATA,
             "/trailing   runs   of spaces": b"runs\n", "/sub dir/inner.txt": b"inner\n"}
    srv = fake_server(files=files, mlst=False, list_style="dos", prelim=IIS_125)
    return srv, fake_mount(srv)


def test_iis_listing_shows_names_with_runs_of_spaces(iis):
    srv, m = iis
    r = pycall("result = sorted(os.listdir(d))", d=m.mountpoint)
    assert r.result == sorted(IIS_NAMES), r.error
    assert srv.commands("LIST") and not srv.commands("MLSD")


def test_iis_stat_gives_type_size_and_time(iis):
    _, m = iis
    r = pycall("""
        result = {n: [os.stat(d + "/" + n).st_mode >> 12, os.stat(d + "/" + n).st_size,
                      int(os.stat(d + "/" + n).st_mtime)] for n in names}
    """, d=m.mountpoint, names=["two  spaces.txt", "sub dir"])
    assert r.errno is None, r.error
    assert r.result["two  spaces.txt"][:2] == [0o10, len(DATA)]
    assert r.result["sub dir"][0] == 0o4
    assert r.result["two  spaces.txt"][2] == 1704067200  # 01-01-24 12:00AM, as UTC


def test_iis_read_through_125(iis):
    _, m = iis
    r = pycall("result = hashlib.sha256(open(p, 'rb').read()).hexdigest()",
               p=m.mountpoint / "two  spaces.txt")
    assert r.result == __import__("hashlib").sha256(DATA).hexdigest(), r.error


def test_iis_write_through_125(iis):
    srv, m = iis
    r = pycall("open(p, 'wb').write(b'new  file\\n')", p=m.mountpoint / "new  file.txt")
    assert r.errno is None, r.error
    assert srv.files["/new  file.txt"] == b"new  file\n"


def test_iis_rename_and_delete(iis):
    srv, m = iis
    r = pycall("""
        os.rename(d + "/plain.txt", d + "/renamed  twice.txt")
        os.unlink(d + "/trailing   runs   of spaces")
        os.mkdir(d + "/new dir")
        os.rmdir(d + "/new dir")
        result = sorted(os.listdir(d))
    """, d=m.mountpoint)
    assert r.errno is None, f"{r.errname} at {r.stage}: {r.error}"
    assert r.result == ["renamed  twice.txt", "sub dir", "two  spaces.txt"]
    assert "/renamed  twice.txt" in srv.files and "/plain.txt" not in srv.files
    assert "/trailing   runs   of spaces" not in srv.files


# --- FEAT-driven fallbacks ---------------------------------------------------------------------

def test_no_epsv_uses_pasv_for_every_transfer(fake_server, fake_mount):
    srv = fake_server(files={"/f.bin": DATA}, epsv=False)
    m = fake_mount(srv)
    r = pycall(LIST_READ_WRITE, d=m.mountpoint)
    assert r.errno is None, f"{r.errname} at {r.stage}: {r.error}"
    assert srv.files["/f.bin"] == _expected_after_rewrite()
    assert len(srv.commands("PASV")) >= 4


@pytest.mark.parametrize("code", [501, 502])
def test_epsv_refused_on_every_new_connection_falls_back_to_pasv(fake_server, fake_mount,
                                                                  code):
    """A server that offers EPSV in FEAT but answers it 501/502: once one connection
    learnt passive mode, connections opened later send EPSV in one flight with the transfer;
    each must fall back to PASV on its first transfer instead of failing it."""
    files = {f"/f{i}.bin": bytes([i]) * 70_000 for i in range(6)}
    srv = fake_server(files=files)
    srv.on("EPSV", lambda s, arg: s.reply(code, "EPSV not understood."))
    m = fake_mount(srv, "max_conns=5")
    r = pycall("""
        import concurrent.futures
        names = sorted(os.listdir(d))
        def read(name):
            with open(os.path.join(d, name), "rb") as f:
                return len(f.read())
        with concurrent.futures.ThreadPoolExecutor(6) as ex:
            result = list(ex.map(read, names))
    """, d=m.mountpoint)
    assert r.errno is None, f"{r.errname}: {r.error}"
    assert r.result == [70_000] * 6
    logins = len(srv.commands("PASS"))
    assert logins >= 3, logins  # several connections, each learning it
    assert len(srv.commands("EPSV")) <= logins  # learnt once per connection
    assert len(srv.commands("PASV")) >= 7
    # No request failed on the way (the kernel may read again after a failed read).
    assert "passive mode refused" not in m.log_text()


def test_no_size_still_reads_and_writes(fake_server, fake_mount):
    srv = fake_server(files={"/f.bin": DATA}, size=False)
    m = fake_mount(srv)
    r = pycall(LIST_READ_WRITE, d=m.mountpoint)
    assert r.errno is None, f"{r.errname} at {r.stage}: {r.error}"
    assert srv.files["/f.bin"] == _expected_after_rewrite()
    assert not srv.commands("SIZE")  # not offered, not asked


def test_no_rest_stream_uploads_a_spooled_change_whole(fake_server, fake_mount):
    srv = fake_server(files={"/f.bin": DATA}, rest_stream=False)
    m = fake_mount(srv)
    r = pycall(LIST_READ_WRITE, d=m.mountpoint)
    assert r.errno is None, f"{r.errname} at {r.stage}: {r.error}"
    assert srv.files["/f.bin"] == _expected_after_rewrite()
    assert not srv.commands("REST")
    assert [a for _, v, a in srv.commands() if v == "STOR"].count("/f.bin") == 1


def test_no_mlst_uses_list(fake_server, fake_mount):
    srv = fake_server(files={"/f.bin": DATA, "/d/x": b"x"}, mlst=False)
    m = fake_mount(srv)
    r = pycall("result = [sorted(os.listdir(d)), os.stat(d + '/f.bin').st_size]",
               d=m.mountpoint)
    assert r.result == [["d", "f.bin"], len(DATA)], r.error
    assert srv.commands("LIST") and not srv.commands("MLSD") and not srv.commands("MLST")


@pytest.mark.parametrize("facts", ["shuffled", "upper"])
def test_mlsd_facts_in_any_order_or_case(fake_server, fake_mount, facts):
    srv = fake_server(files={"/f.bin": DATA, "/d/x": b"x"}, mlsd_facts=facts)
    m = fake_mount(srv)
    r = pycall("""
        result = {n: [os.stat(d + "/" + n).st_mode, os.stat(d + "/" + n).st_size,
                      int(os.stat(d + "/" + n).st_mtime)] for n in sorted(os.listdir(d))}
    """, d=m.mountpoint)
    assert r.errno is None, r.error
    assert r.result == {"d": [0o40755, 0, 1704067200],
                        "f.bin": [0o100644, len(DATA), 1704067200]}
    assert srv.commands("MLSD")


def test_no_utf8_sends_no_opts_utf8(fake_server, fake_mount):
    srv = fake_server(files={"/grüße.txt": b"hi\n"}, utf8=False)
    m = fake_mount(srv)
    r = pycall("result = sorted(os.listdir(d))", d=m.mountpoint)
    assert r.result == ["grüße.txt"], r.error
    assert not [a for _, v, a in srv.commands("OPTS") if a.upper().startswith("UTF8")]


# --- LIST in the server's local time, MDTM in UTC -----------------------------------------------

MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


def _list_time(t):
    """(month, day, "HH:MM") as ls shows epoch second `t` read as UTC."""
    tm = __import__("time").gmtime(t)
    return (MONTHS[tm.tm_mon - 1], tm.tm_mday, f"{tm.tm_hour:02d}:{tm.tm_min:02d}")


def _mdtm(t):
    return __import__("time").strftime("%Y%m%d%H%M%S", __import__("time").gmtime(t))


@pytest.mark.parametrize("offset", [2 * 3600, -5 * 3600, 19800], ids=["utc+2", "utc-5", "utc+5:30"])
def test_list_in_local_time_is_corrected_by_mdtm(fake_server, fake_mount, offset):
    """A server in another zone lists local times; MDTM (UTC) shows by how much: the
    directory, which only LIST dates, must not be `offset` off."""
    import time
    file_t = int(time.time()) - 3 * 86400 + 37  # recent: listed to the minute
    dir_t = file_t // 60 * 60 - 3600
    srv = fake_server(files={"/f.bin": DATA, "/d/x": b"x"}, mlst=False, mdtm=True,
                      list_times={"/f.bin": _list_time(file_t + offset),
                                  "/d": _list_time(dir_t + offset)})
    srv.mtimes["/f.bin"] = _mdtm(file_t)
    m = fake_mount(srv)
    r = pycall("result = [int(os.stat(d + '/f.bin').st_mtime), int(os.stat(d + '/d').st_mtime)]",
               d=m.mountpoint)
    assert r.result == [file_t, dir_t], (r.error, m.log_text()[-2000:])


def test_proftpd_listing_in_another_zone_keeps_utc_times(ftp_server, mounted):
    """A real server in UTC+3 (POSIX TZ "XXX-3", no zone file needed in its chroot) with
    `TimesGMT off` lists local times; MLSD is hidden (FactsAdvertise off) so that ftpsfs
    must use LIST, and MDTM stays UTC. (The zone is learnt per listing, from its files:
    the directory has a file beside it.)"""
    import time
    srv = ftp_server("proftpd", tz="XXX-3", extra_lines=["TimesGMT off", "FactsAdvertise off"])
    t = int(time.time()) - 2 * 86400
    f = srv.put("d/f.txt", b"x\n")
    os.utime(f, (t, t))
    g = srv.put("g.txt", b"y\n")
    os.utime(g, (t, t))
    os.utime(f.parent, (t - 600, t - 600))
    m = mounted(srv, options=["ro"])
    r = pycall("result = [int(os.stat(d + '/d/f.txt').st_mtime), int(os.stat(d + '/d').st_mtime)]",
               d=m.mountpoint)
    log = m.log_text()
    assert "> MLSD" not in log and "> LIST" in log
    assert r.result == [t, (t - 600) // 60 * 60], (r.error, log[-2000:])


# --- replies to pipelined commands -------------------------------------------------------------

@pytest.mark.parametrize("long_paths", [False, True])
def test_mdtm_replies_of_separate_reads_out_of_order(fake_server, fake_mount, long_paths):
    """ftp-srv handles each network read on its own and may answer commands of separate reads
    out of order. MDTM replies name no file: a batch must reach the server in one read, or
    each file gets another's time. With long paths a batch of 80 does not fit in one write
    (16 KiB): it must end where the write ends."""
    import time
    now = int(time.time())
    if long_paths:
        top = "/" + "d" * 200
        names = [f"f{i}.bin".rjust(240, "x") for i in range(80)]
    else:
        top, names = "", [f"f{i}.bin" for i in range(12)]
    times = {name: now - 86400 - 37 * i for i, name in enumerate(names)}
    paths = {name: f"{top}/{name}" for name in names}
    srv = fake_server(files={p: DATA for p in paths.values()}, mlst=False, mdtm=True,
                      reorder_reads=True,
                      list_times={paths[n]: _list_time(t) for n, t in times.items()})
    srv.mtimes.update({paths[n]: _mdtm(t) for n, t in times.items()})
    m = fake_mount(srv)
    r = pycall("result = {n: int(os.stat(os.path.join(d, n)).st_mtime) for n in names}",
               d=str(m.mountpoint) + top, names=names)
    assert r.result == times, (r.error, m.log_text()[-2000:])
    assert len(srv.commands("MDTM")) >= len(names)
