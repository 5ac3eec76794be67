"""Fewest round trips: commands that may go together travel in one flight (RFC 959 lets a
client send a command before the previous reply), on real servers.

Each test reads the mount's debug log, where every command sent ("> VERB") and every reply
read ("< NNN") has a line, in order: a command logged before the reply to the one ahead of
it was sent in the same flight. The statistics (user.ftpsfs.stats) count the round trips.
"""

import errno
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from writehelpers import mount_stats, pycall  # noqa: E402

SERVERS = ["vsftpd", "proftpd"]
# The login and the first transfer on every server we know: ftp-srv answers the commands of
# separate reads out of order and wants the data handshake before its 1xx.
ALL_SERVERS = ["vsftpd", "proftpd", "pureftpd", "pyftpdlib", "ftpsrv"]


def conversation(m, conn=1):
    """The lines of connection `conn` in the mount's log: "> VERB arg" and "< NNN text"."""
    out = []
    tag = f"conn {conn}: "
    for line in m.log_text().splitlines():
        i = line.find(tag)
        if i >= 0 and line[i + len(tag):i + len(tag) + 2] in ("> ", "< "):
            out.append(line[i + len(tag):])
    return out


def index(lines, prefix, start=0):
    """Where the first line at or after `start` beginning with `prefix` is."""
    for i in range(start, len(lines)):
        if lines[i].startswith(prefix):
            return i
    raise AssertionError(f"no {prefix!r} in:\n" + "\n".join(lines[:80]))


def sent_before_reply(lines, later, reply, start=0):
    """Was command `later` sent before the reply `reply` (a code prefix) came?"""
    return index(lines, "> " + later, start) < index(lines, "< " + reply, start)


def sent_before_answer(lines, later, earlier):
    """Was command `later` sent before command `earlier` got any reply?"""
    sent = index(lines, "> " + earlier)
    return index(lines, "> " + later, sent) < index(lines, "< ", sent)


@pytest.mark.parametrize("kind", ALL_SERVERS)
def test_login_is_two_flights(ftp_server, mounted, kind):
    """FEAT and USER together; then PASS with PBSZ, PROT and TYPE behind it. The password is
    still sent only after the server asked for it (331)."""
    srv = ftp_server(kind)
    srv.put("f.txt", b"f\n")
    m = mounted(srv)
    talk = conversation(m)
    assert sent_before_answer(talk, "USER", "FEAT"), talk[:30]
    assert index(talk, "< 331") < index(talk, "> PASS"), talk[:30]
    for verb in ("PBSZ 0", "PROT P", "TYPE I"):
        assert sent_before_answer(talk, verb, "PASS"), talk[:30]
    assert (m.mountpoint / "f.txt").read_bytes() == b"f\n"  # the mount works


@pytest.mark.parametrize("kind", SERVERS)
def test_relative_root_is_one_flight(ftp_server, mounted, kind):
    """A remote path relative to the login directory: PWD and CWD together, the root still
    the login directory joined with the path."""
    srv = ftp_server(kind)
    srv.put("top/sub/f.txt", b"hello\n")
    m = mounted(srv, path="/top/sub")
    talk = conversation(m)
    assert sent_before_reply(talk, "CWD top/sub", "257"), talk[:40]
    assert (m.mountpoint / "f.txt").read_bytes() == b"hello\n"
    # Later commands name the absolute path: PWD's answer joined with ours.
    assert re.search(r"> [A-Z]+ /top/sub", m.log_text()), talk


@pytest.mark.parametrize("kind", SERVERS)
def test_missing_relative_root_fails_the_mount_with_the_servers_reply(ftp_server, mounted,
                                                                     kind):
    """The CWD of the flight is refused: the mount fails and says which directory, with
    the absolute path (PWD's answer joined with ours) and the server's reply."""
    srv = ftp_server(kind)
    with pytest.raises(RuntimeError) as failed:
        mounted(srv, path="/no/such/dir")
    assert "remote directory /no/such/dir: 550" in str(failed.value), str(failed.value)


@pytest.mark.parametrize("kind", ALL_SERVERS)
def test_first_transfer_is_one_flight(ftp_server, mounted, kind):
    """The mount's first listing already sends the passive command and the transfer command
    together: nothing to learn first. Files read back whole, also from ftp-srv, which
    answers a transfer command only after the data connection's handshake."""
    srv = ftp_server(kind)
    srv.put("d/a.txt", b"a\n" * 1000)
    m = mounted(srv)
    assert sorted(p.name for p in (m.mountpoint / "d").iterdir()) == ["a.txt"]
    assert (m.mountpoint / "d" / "a.txt").read_bytes() == b"a\n" * 1000
    talk = conversation(m)
    first = index(talk, "> EPSV")
    assert talk[first + 1].startswith(("> MLSD", "> LIST")), talk[first - 2:first + 10]


@pytest.mark.parametrize("kind", SERVERS)
def test_rename_is_one_round_trip(ftp_server, mounted, kind):
    """RNFR and RNTO in one flight; a refused RNFR (a missing file) still leaves the
    connection in step: the next rename works."""
    srv = ftp_server(kind)
    srv.put("a.txt", b"a\n")
    m = mounted(srv)
    d = str(m.mountpoint)
    assert pycall("result = sorted(os.listdir(d))", d=d).result == ["a.txt"]
    before = mount_stats(m.mountpoint)
    r = pycall("os.rename(os.path.join(d, 'a.txt'), os.path.join(d, 'b.txt'))", d=d)
    assert r.errno is None, r.error
    after = mount_stats(m.mountpoint)
    assert after["op_namespace_round_trips"] - before["op_namespace_round_trips"] == 1
    assert (srv.root_dir / "b.txt").read_bytes() == b"a\n"
    assert not (srv.root_dir / "a.txt").exists()
    talk = conversation(m, 1) + conversation(m, 2) + conversation(m, 3)
    assert any(line.startswith("> RNTO") for line in talk)
    # The server's file vanished behind our back: RNFR refused, RNTO's 503 read and dropped.
    (srv.root_dir / "b.txt").unlink()
    r = pycall("os.rename(os.path.join(d, 'b.txt'), os.path.join(d, 'c.txt'))", d=d)
    assert r.errno == errno.ENOENT, r.error
    srv.put("e.txt", b"e\n")
    r = pycall("""
        os.listdir(d)
        os.rename(os.path.join(d, 'e.txt'), os.path.join(d, 'f.txt'))
        result = open(os.path.join(d, 'f.txt')).read()
    """, d=d)
    assert r.result == "e\n", r.error


def test_exact_times_of_200_files_are_one_round_trip(ftp_server, mounted):
    """vsftpd lists with LIST (times to the minute): the first stat asks the exact times of
    the directory's files with MDTM, all 200 in one flight."""
    srv = ftp_server("vsftpd")
    names = [f"f{i:03d}" for i in range(200)]
    for n in names:
        srv.put(f"d/{n}", b"x")
    m = mounted(srv)
    d = str(m.mountpoint / "d")
    assert pycall("result = len(os.listdir(d))", d=d).result == 200
    before = mount_stats(m.mountpoint)
    r = pycall("result = [os.stat(os.path.join(d, n)).st_size for n in names]", d=d,
               names=names)
    assert r.result == [1] * 200, r.error
    after = mount_stats(m.mountpoint)
    grew = {k: after[k] - before[k] for k in ("op_getattr_round_trips",
                                              "op_lookup_round_trips")}
    assert grew == {"op_getattr_round_trips": 1, "op_lookup_round_trips": 0}, grew
    talk = "\n".join(conversation(m, 1) + conversation(m, 2) + conversation(m, 3))
    assert talk.count("> MDTM /d/") >= 200


def all_talk(m):
    """Every connection's conversation, one after the other."""
    return [line for n in range(1, 9) for line in conversation(m, n)]


def copy_tree(src, dst):
    """cp -r, as a user runs it (modes: the source's, less cp's umask)."""
    subprocess.run(["cp", "-r", str(src), str(dst)], check=True, timeout=60)


@pytest.mark.parametrize("kind", SERVERS)
def test_cp_sets_no_mode_the_server_gives_anyway(ftp_server, mounted, kind, tmp_path):
    """cp -r: the first new file's SITE CHMOD asks in its flight what mode the server gave
    it (MLST or STAT); the next files of that directory asking that mode need no SITE
    CHMOD. A file asking another mode still gets it, and every mode on the server is the
    one asked."""
    srv = ftp_server(kind)  # local_umask / Umask 022: new files are 0644
    srv.put("dst/keep", b"k")
    src = tmp_path / "src"
    src.mkdir()
    for i in range(5):
        (src / f"f{i}").write_bytes(b"y" * 4096)
        (src / f"f{i}").chmod(0o644)
    (src / "secret").write_bytes(b"s")
    (src / "secret").chmod(0o600)
    m = mounted(srv)
    copy_tree(src, m.mountpoint / "dst")
    chmods = [line for line in all_talk(m) if line.startswith("> SITE CHMOD") and "/src/" in line]
    # The first file sends its SITE CHMOD and learns the server's mode; the file with another
    # mode gets its own. cp copies in the order the local directory lists, so the first may be
    # either: at most one SITE CHMOD 0644 for the five 0644 files, and the 0600 one.
    modes_644 = [line for line in chmods if line.startswith("> SITE CHMOD 0644")]
    assert len(modes_644) <= 1, chmods
    assert any(line.startswith("> SITE CHMOD 0600") for line in chmods), chmods
    assert len(chmods) == len(modes_644) + 1, chmods
    for i in range(5):
        p = srv.root_dir / "dst" / "src" / f"f{i}"
        assert p.read_bytes() == b"y" * 4096
        assert p.stat().st_mode & 0o7777 == 0o644, oct(p.stat().st_mode)
    assert (srv.root_dir / "dst" / "src" / "secret").stat().st_mode & 0o7777 == 0o600
    # And the mount shows what the server has.
    shown = pycall("result = [os.stat(os.path.join(d, n)).st_mode & 0o7777 for n in names]",
                   d=str(m.mountpoint / "dst" / "src"), names=["f0", "f4", "secret"])
    assert shown.result == [0o644, 0o644, 0o600], shown.error


@pytest.mark.parametrize("kind", SERVERS)
def test_new_file_mode_is_learnt_per_directory(ftp_server, mounted, kind, tmp_path):
    """What the server gives new files is known per directory: the first file of a second
    directory still gets its SITE CHMOD (a server may set another umask there)."""
    srv = ftp_server(kind)
    srv.put("a/x", b"x")
    srv.put("b/x", b"x")
    m = mounted(srv)
    for d in ("a", "b"):
        for n in ("1", "2"):
            r = pycall("""
                os.umask(0o022)
                with open(p, 'wb') as f:
                    f.write(b'data')
            """, p=str(m.mountpoint / d / n))
            assert r.errno is None, r.error
    chmods = [line for line in all_talk(m) if line.startswith("> SITE CHMOD")]
    assert sorted(c.split()[-1] for c in chmods) == ["/a/1", "/b/1"], chmods
    for d in ("a", "b"):
        for n in ("1", "2"):
            assert (srv.root_dir / d / n).stat().st_mode & 0o7777 == 0o644


@pytest.mark.parametrize("kind", SERVERS)
def test_rsync_sets_time_and_mode_in_the_rename_flight(ftp_server, mounted, kind, tmp_path):
    """rsync -a writes .name.XXXXXX, sets its time and mode, renames it: the time and mode
    ride in the rename's flight (RNFR, RNTO, MFMT/MDTM, SITE CHMOD), and the server ends
    with rsync's exact times and modes."""
    srv = ftp_server(kind)
    srv.put("dst/keep", b"k")
    src = tmp_path / "src"
    src.mkdir()
    for i in range(4):
        (src / f"f{i}").write_bytes(bytes([65 + i]) * (1000 + i))
        (src / f"f{i}").chmod(0o640)
        os.utime(src / f"f{i}", (1_600_000_000 + i, 1_600_000_000 + i))
    m = mounted(srv)
    r = subprocess.run(["rsync", "-a", f"{src}/", f"{m.mountpoint / 'dst'}/"],
                       capture_output=True, text=True, timeout=120)
    # 23: vsftpd refuses the directory's time; every file is still done.
    assert r.returncode in (0, 23), r.stderr
    talk = all_talk(m)
    riding = 0
    for i, line in enumerate(talk):
        if line.startswith("> RNTO /dst/f"):
            after = talk[i + 1:]
            reply = index(after, "< 250")
            verbs = [x.split()[1] for x in after[:reply] if x.startswith("> ")]
            riding += "CHMOD" in " ".join(after[:reply]) and (
                {"MFMT", "MDTM", "SITE"} & set(verbs) != set())
    # The first file teaches how the server sets times; the rest carry both.
    assert riding >= 3, talk
    for i in range(4):
        p = srv.root_dir / "dst" / f"f{i}"
        assert p.read_bytes() == bytes([65 + i]) * (1000 + i)
        assert p.stat().st_mtime == 1_600_000_000 + i
        assert p.stat().st_mode & 0o7777 == 0o640, oct(p.stat().st_mode)


@pytest.mark.parametrize("kind", SERVERS)
def test_new_directory_is_not_listed(ftp_server, mounted, kind):
    """A directory the mount just made is empty: filling it (cp -r, tar x) asks for no
    listing of it; what is written there shows and lands."""
    srv = ftp_server(kind)
    srv.put("x", b"x")
    m = mounted(srv)
    r = pycall("""
        os.mkdir(d)
        with open(os.path.join(d, 'f'), 'wb') as f:
            f.write(b'data')
        result = sorted(os.listdir(d))
    """, d=str(m.mountpoint / "made"))
    assert r.result == ["f"], r.error
    assert (srv.root_dir / "made" / "f").read_bytes() == b"data"
    talk = all_talk(m)
    assert not [x for x in talk if x.startswith(("> CWD /made", "> MLSD /made"))], talk
