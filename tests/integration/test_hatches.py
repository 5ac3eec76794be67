"""Escape hatches for servers that mishandle a feature, and the permission bits shown, through
real mounts of real servers:

- no_epsv: PASV from the start. vsftpd logs every command (log_ftp_protocol=YES), ProFTPD
  every command it dispatches (TraceLog command:9): they show PASV and no EPSV. The case the
  option is for, an EPSV answer that leads nowhere (not an "unknown command", so a mount does
  not fall back by itself), is played by the scripted fake server: no real server here does it
  (ProFTPD's `<Limit EPSV> DenyAll` answers 501, and a mount falls back).
- no_mlsd: LIST (and SIZE/MDTM) instead of MLSD/MLST even where FEAT offers them. ProFTPD
  logs the commands; a ProFTPD whose MLSD is refused (`<Limit MLSD MLST> DenyAll`) while FEAT
  offers it is the broken case. Pure-FTPd logs no commands: ftpsfs's debug log is the evidence.
- list_hidden: dot files MLSD leaves out, added from `LIST -a`. None of the servers here hides
  them (vsftpd has no MLSD; ProFTPD 1.3.8, Pure-FTPd 1.0.50 and pyftpdlib list every name), so
  pyftpdlib is run with its MLSD made to hide them as Apache FtpServer's does
  (servers.Pyftpdlib, mlsd_hides_dot_files).
- file_mode=, dir_mode=, umask=: what stat shows; with default_permissions the kernel enforces
  it (run as the test user: root passes every permission check); chmod still reaches the server.

Every access to a mount runs in a child process with a time limit (writehelpers).
"""

import errno
import os
import re
import shutil
import socket
import stat
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from mount import Mount  # noqa: E402
from writehelpers import pycall, read_file, run, write_file  # noqa: E402

DATA = bytes(range(256)) * 300  # 76800 bytes: more than one read of a small buffer

# Through the mount: the sorted names of `d`, the content of `d/name`, and its stat.
LIST_READ_STAT = """
    stage = "list"
    names = sorted(os.listdir(d))
    stage = "read"
    with open(os.path.join(d, name), "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    stage = "stat"
    st = os.stat(os.path.join(d, name))
    result = {"names": names, "sha256": digest, "size": st.st_size, "mtime": st.st_mtime}
"""


def sha256(data):
    import hashlib
    return hashlib.sha256(data).hexdigest()


def vsftpd_verbs(srv):
    """The verbs of every command vsftpd logged (log_ftp_protocol=YES)."""
    return re.findall(r'FTP command: Client "[^"]*", "(\w+)', srv.log_text())


def proftpd_verbs(srv):
    """The verbs of every command ProFTPD dispatched (its TraceLog, command:9 and response:9)."""
    return re.findall(r"clearing response lists before dispatching command '(\w+)'",
                      srv.log_text())


def ftpsfs_verbs(m):
    """The verbs of every command in ftpsfs's debug log ("conn N: > VERB ...")."""
    return re.findall(r"conn \d+: > (\w+)", m.log_text())


def list_read_stat(m, name, d=None):
    r = pycall(LIST_READ_STAT, d=d or m.mountpoint, name=name)
    assert r.errno is None, f"{r.errname} at {r.stage}: {r.error}\n{m.log_text()[-3000:]}"
    return r.result


def write_and_read_back(m, srv, name, data=DATA):
    """A new file written through the mount arrives on the server whole, and reads back."""
    w = write_file(m.mountpoint / name, data)
    assert w.errno is None, f"{w.errname} at {w.stage}: {w.error}"
    assert (srv.root_dir / name).read_bytes() == data
    r = read_file(m.mountpoint / name)
    assert r.errno is None and r.result["sha256"] == sha256(data)


# --- no_epsv ------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["vsftpd", "proftpd"])
def test_no_epsv_sends_pasv_and_never_epsv(ftp_server, mounted, kind):
    srv = ftp_server(kind)
    srv.put("sub/f.bin", DATA)
    m = mounted(srv, options=["no_epsv"])
    got = list_read_stat(m, "f.bin", d=m.mountpoint / "sub")
    assert got["names"] == ["f.bin"] and got["sha256"] == sha256(DATA)
    write_and_read_back(m, srv, "new.bin")
    verbs = (vsftpd_verbs if kind == "vsftpd" else proftpd_verbs)(srv)
    assert "PASV" in verbs and "EPSV" not in verbs, verbs
    assert {"LIST" if kind == "vsftpd" else "MLSD", "RETR", "STOR"} <= set(verbs)


def test_without_no_epsv_epsv_is_used(ftp_server, mounted):
    """The default stays EPSV (the evidence above means something)."""
    srv = ftp_server("vsftpd")
    srv.put("f.bin", DATA)
    m = mounted(srv)
    list_read_stat(m, "f.bin")
    verbs = vsftpd_verbs(srv)
    assert "EPSV" in verbs and "PASV" not in verbs, verbs


def _closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _unusable_epsv(srv):
    """EPSV answered 229 with a port nothing listens on (a middlebox that forwards the ports
    PASV names but not EPSV's; a server whose EPSV reply is wrong): not an "unknown command",
    so a mount does not fall back to PASV by itself."""
    srv.on("EPSV", lambda s, arg: s.reply(229, f"Extended Passive Mode (|||{_closed_port()}|)"))


def test_an_unusable_epsv_answer_needs_no_epsv(fake_server, fake_mount):
    """ProFTPD with `<Limit EPSV> DenyAll` answers 501, and the mount falls back by itself;
    an EPSV answer that leads nowhere is the case the option is for."""
    plain_srv = fake_server(files={"/f.bin": DATA}, setup=_unusable_epsv)
    plain = fake_mount(plain_srv)
    r = pycall("names = os.listdir(d)", d=plain.mountpoint, timeout=60)
    assert r.errno == errno.EIO, r
    srv = fake_server(files={"/f.bin": DATA}, setup=_unusable_epsv)
    hatch = fake_mount(srv, "no_epsv")
    got = list_read_stat(hatch, "f.bin")
    assert got["names"] == ["f.bin"] and got["sha256"] == sha256(DATA)
    assert srv.commands("PASV") and not srv.commands("EPSV")


# --- no_mlsd ------------------------------------------------------------------------------------

def test_no_mlsd_lists_with_list_on_proftpd(ftp_server, mounted):
    srv = ftp_server("proftpd")
    srv.put("dir/f.bin", DATA)
    srv.put("dir/.dot", b"dot\n")
    os.utime(srv.root_dir / "dir/f.bin", (1577882096, 1577882096))  # only the date in LIST
    m = mounted(srv, options=["no_mlsd"])
    got = list_read_stat(m, "f.bin", d=m.mountpoint / "dir")
    assert got["names"] == [".dot", "f.bin"]
    assert got["sha256"] == sha256(DATA) and got["size"] == len(DATA)
    assert got["mtime"] == 1577882096  # exact, from MDTM
    write_and_read_back(m, srv, "dir/new.bin")
    verbs = proftpd_verbs(srv)
    assert "LIST" in verbs and "MDTM" in verbs, verbs
    assert not {"MLSD", "MLST"} & set(verbs), verbs


def test_no_mlsd_lists_with_list_on_pureftpd(ftp_server, mounted):
    """Pure-FTPd logs no commands: ftpsfs's debug log (every command it sends) is the
    evidence."""
    srv = ftp_server("pureftpd")
    srv.put("f.bin", DATA)
    m = mounted(srv, options=["no_mlsd"])
    got = list_read_stat(m, "f.bin")
    assert got["names"] == ["f.bin"] and got["sha256"] == sha256(DATA)
    write_and_read_back(m, srv, "new.bin")
    verbs = ftpsfs_verbs(m)
    assert "LIST" in verbs and "RETR" in verbs and "STOR" in verbs, verbs
    assert not {"MLSD", "MLST"} & set(verbs), verbs


MLSD_DENIED = ["<Limit MLSD MLST>", "  DenyAll", "</Limit>"]


def test_a_broken_mlsd_needs_no_mlsd(ftp_server, mounted):
    """ProFTPD offers MLST in FEAT but refuses MLSD and MLST: listings through a mount fail;
    with no_mlsd they work."""
    srv = ftp_server("proftpd", extra_lines=MLSD_DENIED)
    srv.put("f.bin", DATA)
    plain = mounted(srv)
    r = pycall("names = os.listdir(d)", d=plain.mountpoint, timeout=60)
    assert r.errno is not None, r
    hatch = mounted(srv, options=["no_mlsd"])
    got = list_read_stat(hatch, "f.bin")
    assert got["names"] == ["f.bin"] and got["sha256"] == sha256(DATA)


# --- list_hidden --------------------------------------------------------------------------------

@pytest.fixture
def dot_hiding_server(ftp_server):
    """pyftpdlib whose MLSD leaves out dot files (as Apache FtpServer's does), with a visible
    file, a dot file and a dot directory holding a file."""
    srv = ftp_server("pyftpdlib", mlsd_hides_dot_files=True)
    srv.put("visible.txt", b"visible\n")
    srv.put(".hidden", DATA)
    srv.put(".config/settings", b"key=value\n")
    os.utime(srv.root_dir / ".hidden", (1577882096, 1577882096))
    return srv


def test_without_list_hidden_mlsd_hides_dot_files(dot_hiding_server, mounted):
    """The documented limit: what the server's MLSD leaves out does not exist in the mount."""
    m = mounted(dot_hiding_server)
    r = pycall("result = sorted(os.listdir(d))", d=m.mountpoint)
    assert r.result == ["visible.txt"]
    r = pycall("os.stat(p)", p=m.mountpoint / ".hidden")
    assert r.errno == errno.ENOENT


def test_list_hidden_shows_and_reads_dot_files(dot_hiding_server, mounted):
    m = mounted(dot_hiding_server, options=["list_hidden"])
    got = list_read_stat(m, ".hidden")
    assert got["names"] == [".config", ".hidden", "visible.txt"]
    assert got["sha256"] == sha256(DATA) and got["size"] == len(DATA)
    assert got["mtime"] == 1577882096  # LIST shows the date only: MDTM's exact time
    got = list_read_stat(m, "settings", d=m.mountpoint / ".config")
    assert got["names"] == ["settings"]
    w = write_file(m.mountpoint / ".config/settings", b"key=new\n")
    assert w.errno is None, w
    assert (dot_hiding_server.root_dir / ".config/settings").read_bytes() == b"key=new\n"


def test_list_hidden_adds_nothing_where_mlsd_shows_dot_files(ftp_server, mounted):
    """ProFTPD lists dot files in MLSD: the LIST pass finds nothing to add, and the entries keep
    MLSD's facts (no duplicates, exact times without MDTM)."""
    srv = ftp_server("proftpd")
    srv.put(".dot", b"dot\n")
    srv.put("f.bin", DATA)
    m = mounted(srv, options=["list_hidden"])
    got = list_read_stat(m, ".dot")
    assert got["names"] == [".dot", "f.bin"]
    verbs = proftpd_verbs(srv)
    assert "MLSD" in verbs and "LIST" in verbs and "MDTM" not in verbs, verbs


# --- file_mode, dir_mode, umask -----------------------------------------------------------------

STAT_MODES = """
    result = {n: oct(os.stat(os.path.join(d, n)).st_mode & 0o7777) for n in names}
"""


def shown_modes(m, names):
    r = pycall(STAT_MODES, d=m.mountpoint, names=names)
    assert r.errno is None, r
    return r.result


@pytest.fixture
def moded_files(ftp_server):
    """Factory: a started server of `kind` with file f (0640), x (0755) and directory d (0750)."""
    def make(kind):
        srv = ftp_server(kind)
        srv.put("f", b"f\n")
        srv.put("x", b"#!/bin/sh\n")
        srv.put("d/inner", b"i\n")
        os.chmod(srv.root_dir / "f", 0o640)
        os.chmod(srv.root_dir / "x", 0o755)
        os.chmod(srv.root_dir / "d", 0o750)
        return srv
    return make


@pytest.mark.parametrize("kind", ["vsftpd", "proftpd"])
def test_by_default_the_server_s_bits_are_shown(moded_files, mounted, kind):
    m = mounted(moded_files(kind))
    assert shown_modes(m, ["f", "x", "d"]) == {"f": "0o640", "x": "0o755", "d": "0o750"}


@pytest.mark.parametrize("kind", ["vsftpd", "proftpd"])
def test_file_mode_and_dir_mode_replace_the_server_s_bits(moded_files, mounted, kind):
    m = mounted(moded_files(kind), options=["file_mode=0604", "dir_mode=0711"])
    assert shown_modes(m, ["f", "x", "d"]) == {"f": "0o604", "x": "0o604", "d": "0o711"}
    root = pycall("result = oct(os.stat(d).st_mode & 0o7777)", d=m.mountpoint)
    assert root.result == "0o711"


@pytest.mark.parametrize("kind", ["vsftpd", "proftpd"])
def test_umask_clears_bits_of_what_is_shown(moded_files, mounted, kind):
    m = mounted(moded_files(kind), options=["umask=027"])
    assert shown_modes(m, ["f", "x", "d"]) == {"f": "0o640", "x": "0o750", "d": "0o750"}
    m2 = mounted(moded_files(kind), options=["umask=077", "file_mode=0666"])
    assert shown_modes(m2, ["f", "x", "d"]) == {"f": "0o600", "x": "0o600", "d": "0o700"}


def test_new_files_and_directories_show_the_configured_modes(ftp_server, mounted):
    srv = ftp_server("proftpd")
    m = mounted(srv, options=["file_mode=0600", "dir_mode=0700"])
    r = pycall("""
        os.mkdir(os.path.join(d, "newdir"), 0o755)
        with open(os.path.join(d, "newfile"), "wb") as f:
            f.write(b"x")
        result = [oct(os.stat(os.path.join(d, n)).st_mode & 0o7777) for n in ("newdir", "newfile")]
    """, d=m.mountpoint)
    assert r.errno is None, r
    assert r.result == ["0o700", "0o600"]
    # The server got the modes the program asked for (SITE CHMOD), less its umask.
    assert stat.S_IMODE(os.stat(srv.root_dir / "newdir").st_mode) == 0o755


@pytest.mark.parametrize("kind", ["vsftpd", "proftpd"])
def test_chmod_changes_the_server_s_bits_but_not_the_configured_ones(moded_files, mounted,
                                                                     kind):
    """With file_mode= the shown bits are the option's: chmod still goes to the server (SITE
    CHMOD) and succeeds only if the server did it, but stat keeps showing file_mode."""
    srv = moded_files(kind)
    m = mounted(srv, options=["file_mode=0644"])
    r = pycall("os.chmod(p, 0o600); result = oct(os.stat(p).st_mode & 0o7777)",
               p=m.mountpoint / "f")
    assert r.errno is None, r
    assert r.result == "0o644"
    assert stat.S_IMODE(os.stat(srv.root_dir / "f").st_mode) == 0o600
    # Directories keep the server's bits (no dir_mode=): chmod shows as usual.
    r = pycall("os.chmod(p, 0o700); result = oct(os.stat(p).st_mode & 0o7777)",
               p=m.mountpoint / "d")
    assert r.result == "0o700"
    assert stat.S_IMODE(os.stat(srv.root_dir / "d").st_mode) == 0o700


# The kernel's checks (default_permissions) as the test user: root would pass them all.
AS_USER = """
import errno, os, sys
path, what = sys.argv[1], sys.argv[2]
try:
    if what == "write":
        with open(path, "ab") as f:
            f.write(b"more\\n")
    elif what == "create":
        with open(path, "wb") as f:
            f.write(b"new\\n")
    else:
        with open(path, "rb") as f:
            f.read()
    print("ok")
except OSError as e:
    print(errno.errorcode[e.errno])
"""


def as_user(user, path, what):
    res = run(["runuser", "-u", user.name, "--", sys.executable, "-c", AS_USER, path, what])
    return res.stdout.strip()


@pytest.fixture
def shared_mount(ftp_server, certs, test_user):
    """Factory: shared_mount(srv, *options) -> a mount with allow_other,default_permissions and
    uid/gid of the test user, at a mount point the test user can reach (pytest's tmp dirs are
    private to root). Unmounted at teardown, before the servers stop."""
    made = []

    def make(srv, *options):
        base = Path(tempfile.mkdtemp(prefix="ftpsfs-hatches-"))
        base.chmod(0o755)
        m = Mount(None, srv.url("/"), base / "mnt", test_user.password,
                  options=["allow_other", "default_permissions", f"uid={test_user.uid}",
                           f"gid={test_user.gid}", *options],
                  cafile=certs.ca_file, log_path=base / "mnt.log")
        made.append((m, base))
        return m.start()

    yield make
    for m, base in reversed(made):
        m.stop()
        shutil.rmtree(base, ignore_errors=True)


def test_default_permissions_enforce_file_mode_locally(ftp_server, shared_mount, test_user):
    srv = ftp_server("vsftpd")
    srv.put("f", b"original\n")
    m = shared_mount(srv, "file_mode=0444")
    assert as_user(test_user, str(m.mountpoint / "f"), "read") == "ok"
    assert as_user(test_user, str(m.mountpoint / "f"), "write") == "EACCES"
    assert (srv.root_dir / "f").read_bytes() == b"original\n"
    assert "STOR" not in vsftpd_verbs(srv) and "APPE" not in vsftpd_verbs(srv)


def test_default_permissions_enforce_dir_mode_locally(ftp_server, shared_mount, test_user):
    srv = ftp_server("proftpd")
    srv.put("d/f", b"f\n")
    m = shared_mount(srv, "dir_mode=0555")
    assert as_user(test_user, str(m.mountpoint / "d/new"), "create") == "EACCES"
    assert not (srv.root_dir / "d/new").exists()
    # The same without the option: the server's 0755 lets the owner in.
    m2 = shared_mount(srv)
    assert as_user(test_user, str(m2.mountpoint / "d/new"), "create") == "ok"
    assert (srv.root_dir / "d/new").read_bytes() == b"new\n"


# --- --probe names each hatch when it sees the problem --------------------------------------

def probe(srv, certs, test_user, *options, password=None):
    from test_probe import run_probe  # the probe tests' runner and report parser
    return run_probe(srv.url("/"), test_user.password if password is None else password,
                     [f"cafile={certs.ca_file}", "timeout=5", "connect_timeout=5", *options])


def test_probe_suggests_no_epsv_when_epsv_leads_nowhere(fake_server, certs, test_user):
    srv = fake_server(files={"/f.bin": DATA}, setup=_unusable_epsv)
    r = probe(srv, certs, test_user, password=srv.password)
    assert r["passive EPSV"].startswith("fails: cannot open data connection"), str(r)
    assert r["passive PASV"] == "works"
    assert r.suggested() == ["no_epsv"], str(r)  # not "active": PASV is enough
    assert "no_epsv" in r.fstab()[3].split(",")
    ok = probe(srv, certs, test_user, "no_epsv", password=srv.password)
    assert ok.rc == 0 and ok.suggested() == [], str(ok)


def test_probe_suggests_no_mlsd_when_mlsd_fails(ftp_server, certs, test_user):
    srv = ftp_server("proftpd", extra_lines=MLSD_DENIED)
    srv.put("f.bin", DATA)
    r = probe(srv, certs, test_user)
    assert r["MLSD"].startswith("offered, but fails: "), str(r)
    assert "no_mlsd" in r.suggested(), str(r)
    given = probe(srv, certs, test_user, "no_mlsd")
    assert given["MLSD"].endswith("; not used (no_mlsd)"), str(given)
    assert "no_mlsd" not in given.suggested()


def test_probe_suggests_list_hidden_when_mlsd_hides_dot_files(dot_hiding_server, certs,
                                                              test_user):
    r = probe(dot_hiding_server, certs, test_user)
    assert "leaves out dot files: 0, where LIST -a shows 2" in r["MLSD"], str(r)
    assert "list_hidden" in r.suggested(), str(r)
    given = probe(dot_hiding_server, certs, test_user, "list_hidden")
    assert "list_hidden" not in given.suggested(), str(given)


@pytest.mark.parametrize("kind", ["proftpd", "pureftpd"])
def test_probe_suggests_no_hatch_where_mlsd_shows_dot_files(ftp_server, certs, test_user,
                                                             kind):
    srv = ftp_server(kind)
    srv.put(".dot", b"dot\n")
    srv.put("f.bin", DATA)
    r = probe(srv, certs, test_user)
    assert r["MLSD"].startswith("yes ("), str(r)
    assert not {"no_mlsd", "list_hidden", "no_epsv"} & set(r.suggested()), str(r)
