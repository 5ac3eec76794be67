"""Mounting the way fstab does: mount(8) -> mount.fuse3 -> ftpsfs.

mount.fuse3 runs "ftpsfs" from a fixed PATH, so the test links the built
binary into /usr/local/bin for its duration (only if nothing is there).
The fstab line carries the options a real one would: _netdev, noauto,
x-systemd.automount (for systemd, filtered out before ftpsfs sees them)
and a netrc file for the password.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from mount import default_binary, is_fuse_mounted, mount_fstype  # noqa: E402

LINK = Path("/usr/local/bin/ftpsfs")


@pytest.fixture
def ftpsfs_on_path():
    binary = default_binary().resolve()
    if LINK.exists() or LINK.is_symlink():
        if LINK.resolve() != binary:
            pytest.skip(f"{LINK} exists and is not this build")
        yield
        return
    LINK.symlink_to(binary)
    try:
        yield
    finally:
        LINK.unlink()


def test_mount_from_an_fstab_line(ftp_server, test_user, certs, tmp_path, ftpsfs_on_path):
    srv = ftp_server("vsftpd")
    srv.put("hello.txt", b"hello\n")
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine 127.0.0.1 login {test_user.name} "
                     f"password {test_user.password}\n")
    netrc.chmod(0o600)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    fstab = tmp_path / "fstab"
    fstab.write_text(f"127.0.0.1:{srv.port}:/ {mnt} fuse.ftpsfs "
                     f"_netdev,noauto,x-systemd.automount,cafile={certs.ca_file},"
                     f"netrc={netrc} 0 0\n")
    res = subprocess.run(["mount", "-T", str(fstab), str(mnt)], capture_output=True,
                         text=True, timeout=60)
    try:
        assert res.returncode == 0, res.stderr
        assert is_fuse_mounted(mnt)
        assert mount_fstype(mnt) == "fuse.ftpsfs"
        assert (mnt / "hello.txt").read_bytes() == b"hello\n"
        source = next(line.split()[0] for line in open("/proc/self/mounts")
                      if line.split()[1] == str(mnt))
        assert source == f"{test_user.name}@127.0.0.1:/"
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True, timeout=60)
    assert not is_fuse_mounted(mnt)
    assert not os.listdir(mnt)
