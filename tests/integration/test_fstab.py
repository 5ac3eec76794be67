"""Mounting the way fstab does: mount(8) -> mount.fuse3 -> ftpsfs, as root.

mount(8) runs its helpers with a fixed PATH (/usr/local/sbin:/usr/local/bin:/usr/sbin:
/usr/bin:/sbin:/bin), and mount.fuse3 runs "ftpsfs" from it. With the build tree's binary
the test links it into /usr/local/bin for its duration (only if no ftpsfs is found there
yet); with an installed one (FTPSFS_BIN=/usr/bin/ftpsfs, as CI does after installing the
package) it checks that mount.fuse3 will find exactly that binary.

The fstab lines carry what real ones do: _netdev, noauto, x-systemd.* (filtered before
ftpsfs sees them), a netrc file for the password, and allow_other for a mount other users
share. Other users are played by `nobody` (runuser), in a mount point they can reach.
"""

import os
import select
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from mount import Mount, default_binary, is_fuse_mounted, mount_fstype  # noqa: E402

# mount(8)'s PATH for helpers (util-linux: _PATH_STDPATH), which mount.fuse3 inherits.
HELPER_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
LINK = Path("/usr/local/bin/ftpsfs")
OTHER_USER = "nobody"


@pytest.fixture
def ftpsfs_on_path():
    """Make mount.fuse3 run the binary under test; fail if another ftpsfs would run."""
    binary = default_binary().resolve()
    found = shutil.which("ftpsfs", path=HELPER_PATH)
    if found and Path(found).resolve() == binary:
        yield binary
        return
    if str(binary.parent) in HELPER_PATH.split(":"):
        if not found:
            pytest.fail(f"{binary} is not installed")
        pytest.fail(f"mount.fuse3 would run {found}, not the installed {binary}: "
                    f"remove {found} (meson install puts one in /usr/local/bin)")
    # The link comes before /usr/bin in the PATH: it also wins over an installed package,
    # not over one in /usr/local/sbin.
    dirs = HELPER_PATH.split(":")
    if LINK.exists() or LINK.is_symlink() or (
            found and dirs.index(str(Path(found).parent)) < dirs.index(str(LINK.parent))):
        pytest.skip(f"{found} is not this build ({binary}): mount.fuse3 would run it")
    LINK.symlink_to(binary)
    try:
        assert Path(shutil.which("ftpsfs", path=HELPER_PATH)).resolve() == binary
        yield binary
    finally:
        LINK.unlink()


@pytest.fixture
def shared_dir():
    """A directory every user may enter (pytest's tmp dirs are 0700 root): for mount
    points that `nobody` must reach."""
    d = Path(tempfile.mkdtemp(prefix="ftpsfs-fstab-"))
    d.chmod(0o755)
    yield d
    for line in reversed(open("/proc/self/mountinfo").read().splitlines()):
        target = line.split()[4]
        if target.startswith(str(d) + "/"):
            subprocess.run(["umount", "-l", target], capture_output=True)
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def netrc(tmp_path, test_user):
    path = tmp_path / "netrc"
    path.write_text(f"machine 127.0.0.1 login {test_user.name} "
                    f"password {test_user.password}\n")
    path.chmod(0o600)
    return path


def write_fstab(path, source, mnt, options):
    path.write_text(f"{source} {mnt} fuse.ftpsfs {','.join(options)} 0 0\n")
    return path


def mount_T(fstab, *args):
    return subprocess.run(["mount", "-T", str(fstab), *map(str, args)],
                          capture_output=True, text=True, timeout=60)


def mounts_at(mnt):
    """(source, mount options, super options) of every mount at `mnt`, oldest first."""
    out = []
    for line in open("/proc/self/mountinfo"):
        left, _, right = line.partition(" - ")
        fields = left.split()
        if fields[4] == str(mnt):
            _fstype, source, super_opts = right.split()
            out.append((source, fields[5].split(","), super_opts.split(",")))
    return out


def unmount(mnt):
    """Unmount every mount stacked at `mnt` (lazily if it is busy)."""
    for _ in range(5):
        if not is_fuse_mounted(mnt):
            return
        if subprocess.run(["umount", str(mnt)], capture_output=True, timeout=60).returncode:
            subprocess.run(["umount", "-l", str(mnt)], capture_output=True, timeout=60)


def as_other_user(*argv):
    return subprocess.run(["runuser", "-u", OTHER_USER, "--", *map(str, argv)],
                          capture_output=True, text=True, timeout=30)


# Run by `nobody`: try each change in a directory it does not own, print one word each.
TRY_CHANGES = """
import errno, os, sys
d = sys.argv[1]
def attempt(name, fn):
    try:
        fn()
        print(name, "ok")
    except OSError as e:
        print(name, errno.errorcode[e.errno])
attempt("create", lambda: os.close(os.open(os.path.join(d, "new.txt"),
                                           os.O_CREAT | os.O_WRONLY, 0o644)))
attempt("write", lambda: os.close(os.open(os.path.join(d, "kept.txt"), os.O_WRONLY)))
attempt("delete", lambda: os.unlink(os.path.join(d, "kept.txt")))
attempt("mkdir", lambda: os.mkdir(os.path.join(d, "sub")))
attempt("rename", lambda: os.rename(os.path.join(d, "kept.txt"), os.path.join(d, "x")))
attempt("read", lambda: open(os.path.join(d, "kept.txt"), "rb").read())
"""


def test_mount_from_an_fstab_line(ftp_server, certs, tmp_path, netrc, ftpsfs_on_path):
    srv = ftp_server("vsftpd")
    srv.put("hello.txt", b"hello\n")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    source = f"127.0.0.1:{srv.port}:/"
    fstab = write_fstab(tmp_path / "fstab", source, mnt,
                        ["_netdev", "noauto", "nofail", "x-systemd.automount",
                         f"cafile={certs.ca_file}", f"netrc={netrc}"])
    res = mount_T(fstab, mnt)
    try:
        assert res.returncode == 0, res.stderr
        assert mount_fstype(mnt) == "fuse.ftpsfs"
        assert (mnt / "hello.txt").read_bytes() == b"hello\n"
        # Exactly fstab's first field: mount(8) compares it with fstab.
        assert [m[0] for m in mounts_at(mnt)] == [source]
    finally:
        unmount(mnt)
    assert not os.listdir(mnt)


def test_mount_a_twice_mounts_once(ftp_server, certs, tmp_path, netrc, ftpsfs_on_path):
    srv = ftp_server("vsftpd")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    # A URL with a port and an absolute path, the form most likely to lose detail.
    source = f"ftp://127.0.0.1:{srv.port}//"
    fstab = write_fstab(tmp_path / "fstab", source, mnt,
                        ["_netdev", f"cafile={certs.ca_file}", f"netrc={netrc}"])
    try:
        for _ in range(2):
            res = subprocess.run(["mount", "-a", "-T", str(fstab)], capture_output=True,
                                 text=True, timeout=60)
            assert res.returncode == 0, res.stderr
        # mount(8) found the first mount by source and target: one mount, not two.
        assert [m[0] for m in mounts_at(mnt)] == [source]
    finally:
        unmount(mnt)


def test_umount_by_source(ftp_server, certs, tmp_path, netrc, ftpsfs_on_path):
    srv = ftp_server("vsftpd")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    source = f"127.0.0.1:{srv.port}:/"
    fstab = write_fstab(tmp_path / "fstab", source, mnt,
                        ["noauto", f"cafile={certs.ca_file}", f"netrc={netrc}"])
    try:
        res = mount_T(fstab, mnt)
        assert res.returncode == 0, res.stderr
        res = subprocess.run(["umount", source], capture_output=True, text=True, timeout=60)
        assert res.returncode == 0, res.stderr
        assert not is_fuse_mounted(mnt)
    finally:
        unmount(mnt)


def test_a_source_with_a_comma_is_kept_whole(ftp_server, certs, tmp_path, netrc,
                                             ftpsfs_on_path):
    srv = ftp_server("vsftpd")
    srv.put("a,b/inside.txt", b"in\n")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    source = f"127.0.0.1:{srv.port}:/a,b"
    # fstab's options are comma-separated, its source is not: no escaping needed there.
    fstab = write_fstab(tmp_path / "fstab", source, mnt,
                        ["noauto", f"cafile={certs.ca_file}", f"netrc={netrc}"])
    try:
        res = mount_T(fstab, mnt)
        assert res.returncode == 0, res.stderr
        assert [m[0] for m in mounts_at(mnt)] == [source]
        assert (mnt / "inside.txt").read_bytes() == b"in\n"
    finally:
        unmount(mnt)


@pytest.fixture
def silent_listener():
    """A listening socket nobody answers on: any connection to it is noticed."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(4)
        yield s


def was_connected(listener):
    readable, _, _ = select.select([listener], [], [], 0.2)
    return bool(readable)


def test_unknown_option_in_fstab_is_refused_before_connecting(
        certs, tmp_path, netrc, ftpsfs_on_path, silent_listener):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    port = silent_listener.getsockname()[1]
    fstab = write_fstab(tmp_path / "fstab", f"127.0.0.1:{port}:/", mnt,
                        ["_netdev", "noauto", "foo=bar", f"cafile={certs.ca_file}",
                         f"netrc={netrc}", "connect_timeout=2"])
    res = mount_T(fstab, mnt)
    unmount(mnt)
    assert res.returncode != 0
    assert "unknown option" in res.stderr and "foo=bar" in res.stderr, res.stderr
    assert not was_connected(silent_listener)


def test_unknown_option_on_the_command_line_is_refused_before_connecting(
        ftpsfs_bin, certs, tmp_path, silent_listener):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    port = silent_listener.getsockname()[1]
    # No password source either: a prompt would come after the refusal.
    res = subprocess.run([str(ftpsfs_bin), f"u@127.0.0.1:{port}:/", str(mnt), "-o",
                          f"cafile={certs.ca_file},connect_timeout=2,bogus"],
                         capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert res.returncode != 0
    assert "unknown option" in res.stderr and "bogus" in res.stderr, res.stderr
    assert not was_connected(silent_listener)
    assert not is_fuse_mounted(mnt)


def put_setuid_id(srv):
    """A setuid copy of /usr/bin/id on the server (a hostile server or account holder)."""
    path = srv.put("id-suid", Path("/usr/bin/id").read_bytes())
    path.chmod(0o4755)
    return path


def shared_fstab_mount(srv, certs, netrc, shared_dir, tmp_path, extra=()):
    """Mount `srv` from an fstab line as root with allow_other at shared_dir/mnt."""
    mnt = shared_dir / "mnt"
    mnt.mkdir()
    fstab = write_fstab(tmp_path / "fstab", f"127.0.0.1:{srv.port}:/", mnt,
                        ["_netdev", "noauto", "allow_other", f"cafile={certs.ca_file}",
                         f"netrc={netrc}", *extra])
    res = mount_T(fstab, mnt)
    assert res.returncode == 0, res.stderr
    return mnt, res


def test_root_fstab_mount_is_nosuid_and_nodev(ftp_server, certs, tmp_path, netrc,
                                              shared_dir, ftpsfs_on_path):
    srv = ftp_server("vsftpd")
    put_setuid_id(srv)
    mnt, _ = shared_fstab_mount(srv, certs, netrc, shared_dir, tmp_path)
    try:
        [(_, flags, super_opts)] = mounts_at(mnt)
        assert "nosuid" in flags and "nodev" in flags, flags
        assert "allow_other" in super_opts and "default_permissions" in super_opts
        findmnt = subprocess.run(["findmnt", "-n", "-o", "OPTIONS", str(mnt)],
                                 capture_output=True, text=True, check=True).stdout
        assert "nosuid" in findmnt.split(",") and "nodev" in findmnt.split(",")
        # The bit is not shown, and would not be honoured anyway.
        assert os.stat(mnt / "id-suid").st_mode & 0o7777 == 0o755
        res = as_other_user(mnt / "id-suid", "-u")
        assert res.returncode == 0, res.stderr
        assert res.stdout.strip() == str(65534)
    finally:
        unmount(mnt)


def test_other_users_cannot_change_a_directory_they_do_not_own(
        ftp_server, certs, tmp_path, netrc, shared_dir, ftpsfs_on_path):
    srv = ftp_server("vsftpd")
    srv.put("private/kept.txt", b"keep me\n")
    (srv.root_dir / "private").chmod(0o755)
    (srv.root_dir / "private" / "kept.txt").chmod(0o644)
    mnt, _ = shared_fstab_mount(srv, certs, netrc, shared_dir, tmp_path)
    try:
        st = os.stat(mnt / "private")
        assert st.st_uid == 0 and st.st_mode & 0o777 == 0o755
        res = as_other_user(sys.executable, "-c", TRY_CHANGES, mnt / "private")
        assert res.returncode == 0, res.stderr
        assert res.stdout.split("\n")[:-1] == [
            "create EACCES", "write EACCES", "delete EACCES", "mkdir EACCES",
            "rename EACCES", "read ok"]
        assert (srv.root_dir / "private" / "kept.txt").read_bytes() == b"keep me\n"
        assert sorted(os.listdir(srv.root_dir / "private")) == ["kept.txt"]
    finally:
        unmount(mnt)


def test_allow_suid_is_the_explicit_opt_in(ftp_server, certs, tmp_path, netrc, shared_dir,
                                           ftpsfs_on_path):
    srv = ftp_server("vsftpd")
    put_setuid_id(srv)
    mnt, res = shared_fstab_mount(srv, certs, netrc, shared_dir, tmp_path,
                                  extra=["allow_suid"])
    try:
        [(_, flags, _)] = mounts_at(mnt)
        assert "nosuid" not in flags and "nodev" in flags, flags
        assert "allow_suid" in res.stderr  # the warning names the risk
        assert os.stat(mnt / "id-suid").st_mode & 0o7777 == 0o4755
        res = as_other_user(mnt / "id-suid", "-u")
        assert res.stdout.strip() == "0", (res.stdout, res.stderr)
    finally:
        unmount(mnt)


def test_no_default_permissions_lets_other_users_change_files(
        ftp_server, certs, tmp_path, netrc, shared_dir, ftpsfs_on_path):
    srv = ftp_server("vsftpd")
    srv.put("private/kept.txt", b"keep me\n")
    (srv.root_dir / "private").chmod(0o755)
    mnt, res = shared_fstab_mount(srv, certs, netrc, shared_dir, tmp_path,
                                  extra=["no_default_permissions"])
    try:
        [(_, _, super_opts)] = mounts_at(mnt)
        assert "default_permissions" not in super_opts
        assert "no_default_permissions" in res.stderr  # warned
        res = as_other_user(sys.executable, "-c", TRY_CHANGES, mnt / "private")
        assert "create ok" in res.stdout.split("\n"), res.stdout + res.stderr
        assert (srv.root_dir / "private" / "new.txt").exists()
    finally:
        unmount(mnt)


def test_uid_without_allow_other_warns_and_shuts_the_user_out(
        ftp_server, ftpsfs_bin, certs, test_user, tmp_path, shared_dir):
    srv = ftp_server("vsftpd")
    srv.put("hello.txt", b"hello\n")
    m = Mount(ftpsfs_bin, srv.url(), shared_dir / "mnt", test_user.password,
              options=["uid=65534"], cafile=certs.ca_file, log_path=tmp_path / "log")
    with m:
        assert "uid=65534 without allow_other" in m.log_text()
        assert os.stat(m.mountpoint).st_uid == 65534
        # The documented consequence: the kernel lets only the mounting user in,
        # although the files are shown as the user's own.
        assert as_other_user("stat", shared_dir).returncode == 0
        res = as_other_user("stat", m.mountpoint)
        assert res.returncode != 0 and "Permission denied" in res.stderr


def test_uid_with_allow_other_gives_the_user_the_files(ftp_server, certs, tmp_path, netrc,
                                                        shared_dir, ftpsfs_on_path):
    srv = ftp_server("vsftpd")
    srv.put("mine/a.txt", b"a\n")
    mnt, res = shared_fstab_mount(srv, certs, netrc, shared_dir, tmp_path,
                                  extra=["uid=65534", "gid=65534"])
    try:
        assert "without allow_other" not in res.stderr
        res = as_other_user(sys.executable, "-c", TRY_CHANGES, mnt / "mine")
        assert res.stdout.split("\n")[:1] == ["create ok"], res.stdout + res.stderr
    finally:
        unmount(mnt)


def test_setuid_bits_set_through_the_mount_are_not_shown(ftp_server, mounted):
    # The mount is nosuid anyway; what it shows must not claim bits it will not honour,
    # whether they came from the server's listing or from our own chmod, create or mkdir.
    srv = ftp_server("vsftpd")
    srv.put("f", b"#!/bin/sh\n")
    m = mounted(srv)
    os.chmod(m.mountpoint / "f", 0o4755)
    assert os.stat(m.mountpoint / "f").st_mode & 0o7777 == 0o755
    fd = os.open(m.mountpoint / "g", os.O_WRONLY | os.O_CREAT, 0o6755)
    os.close(fd)
    assert os.stat(m.mountpoint / "g").st_mode & 0o6000 == 0
    os.mkdir(m.mountpoint / "d", 0o2755)
    assert os.stat(m.mountpoint / "d").st_mode & 0o6000 == 0
