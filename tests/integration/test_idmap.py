"""-o idmap=names (+ uidfile=/gidfile=): the owner and group the server names, shown as the
local account and group of that name; the default stays "everything is the mounting user"."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from writehelpers import pycall  # noqa: E402

STRANGER = 54321  # an id no local account has


def _owners(mnt):
    r = pycall("""
        result = {n: [os.lstat(d + '/' + n).st_uid, os.lstat(d + '/' + n).st_gid]
                  for n in sorted(os.listdir(d))}
    """, d=mnt)
    assert r.errno is None, r.error
    return r.result


def _server(ftp_server, kind, **kw):
    srv = ftp_server(kind, **kw)
    srv.put("mine", b"m")
    srv.put("theirs", b"t")
    os.chown(srv.root_dir / "theirs", STRANGER, STRANGER)
    return srv


@pytest.mark.parametrize("listing", ["mlsd", "list"])
def test_names_map_to_local_accounts(ftp_server, mounted, test_user, listing):
    # ProFTPD names owners in MLSD (UNIX.ownername, UNIX.groupname) and in LIST.
    srv = _server(ftp_server, "proftpd")
    m = mounted(srv, options=["idmap=names"] + (["no_mlsd"] if listing == "list" else []))
    assert _owners(m.mountpoint)["mine"] == [test_user.uid, test_user.gid]


def test_names_unknown_here_show_uid_and_gid(ftp_server, mounted):
    # vsftpd (chrooted) shows numbers in LIST: names no local account has.
    srv = _server(ftp_server, "vsftpd")
    m = mounted(srv, options=["idmap=names", "uid=777", "gid=778"])
    assert _owners(m.mountpoint) == {"mine": [777, 778], "theirs": [777, 778]}


def test_map_files_come_first_and_map_numbers(ftp_server, mounted, test_user, tmp_path):
    srv = _server(ftp_server, "vsftpd")  # LIST shows numeric owners
    uids = tmp_path / "uids"
    uids.write_text(f"# server:local\n{test_user.uid}:4242\n\n {STRANGER} : 4343 \n")
    gids = tmp_path / "gids"
    gids.write_text(f"{STRANGER}:5353\n")
    m = mounted(srv, options=["idmap=names", f"uidfile={uids}", f"gidfile={gids}"])
    # test_user.gid is in no map and no local group has it as a name: the fallback.
    assert _owners(m.mountpoint) == {"mine": [4242, 0], "theirs": [4343, 5353]}


def test_default_shows_the_mounting_user(ftp_server, mounted):
    srv = _server(ftp_server, "proftpd")
    m = mounted(srv)
    assert _owners(m.mountpoint) == {"mine": [0, 0], "theirs": [0, 0]}


def test_a_bad_map_file_fails_the_mount_before_connecting(ftpsfs_bin, tmp_path):
    bad = tmp_path / "uids"
    bad.write_text("alice:1000\nbob\n")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    for opts, says in ((f"idmap=names,uidfile={bad}", "line 2: expected name:id"),
                       (f"idmap=names,gidfile={tmp_path}/none", "No such file"),
                       (f"uidfile={bad}", "go with idmap=names"),
                       ("idmap=numbers", "idmap must be none or names")):
        res = subprocess.run([str(ftpsfs_bin), "someone@127.0.0.1:1", str(mnt), "-f", "-o",
                              "password_stdin," + opts], input="pw\n", capture_output=True,
                             text=True, timeout=20)
        assert res.returncode != 0 and says in res.stderr, (opts, res.stderr)
