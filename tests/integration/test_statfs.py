"""What df shows (statfs).

FTP has no standard way to ask for capacity. Where the server offers AVBL in FEAT, its answer
is the free space (and the size: the used space is unknown). Otherwise one 4 KiB block, all
free, stands for "unknown": df lists only file systems with a non-zero size.
"""

import os
import subprocess

import pytest

from mount import Mount

GIB = 1024 ** 3


def df_lists(mountpoint):
    """True if plain `df` (no arguments, no -a) lists `mountpoint`."""
    out = subprocess.run(["df", "-P"], capture_output=True, text=True, timeout=30).stdout
    return any(line.split()[-1] == str(mountpoint) for line in out.splitlines()[1:])


@pytest.fixture
def avbl_server(fake_server):
    """Factory: a fake server that offers AVBL and answers it with `answer` (a reply line)."""
    def make(answer):
        srv = fake_server(files={"/a.txt": b"a\n"})

        def feat(s, arg):
            s.send_raw(b"211-Features:\r\n AUTH TLS\r\n PBSZ\r\n PROT\r\n EPSV\r\n SIZE\r\n"
                       b" MLST type*;size*;modify*;UNIX.mode*;\r\n AVBL\r\n211 End\r\n")

        srv.on("FEAT", feat)
        code, text = answer.split(" ", 1)
        srv.on("AVBL", lambda s, arg: s.reply(int(code), text))
        return srv
    return make


@pytest.fixture
def fake_mounted(ftpsfs_bin, certs, tmp_path):
    mounts = []

    def make(srv, options=()):
        m = Mount(ftpsfs_bin, srv.url("/"), tmp_path / f"mnt{len(mounts)}", srv.password,
                  options=options, cafile=certs.ca_file)
        mounts.append(m)
        return m.start()

    yield make
    for m in reversed(mounts):
        m.stop()


def test_a_server_that_says_nothing_shows_one_free_block(ftp_server, mounted):
    m = mounted(ftp_server("vsftpd"))
    st = os.statvfs(m.mountpoint)
    assert (st.f_blocks, st.f_bfree, st.f_bavail, st.f_frsize) == (1, 1, 1, 4096)
    assert df_lists(m.mountpoint)


def test_avbl_is_the_free_space(avbl_server, fake_mounted):
    srv = avbl_server(f"213 {10 * GIB}")
    m = fake_mounted(srv, options=["attr_timeout=60"])
    st = os.statvfs(m.mountpoint)
    assert st.f_bavail * st.f_frsize == 10 * GIB
    assert st.f_bfree == st.f_bavail and st.f_blocks == st.f_bavail
    assert df_lists(m.mountpoint)
    assert [arg for _, _, arg in srv.commands("AVBL")] == ["/"]
    os.statvfs(m.mountpoint)
    assert len(srv.commands("AVBL")) == 1, "asked again within attr_timeout"


def test_a_full_quota_shows_a_full_file_system(avbl_server, fake_mounted):
    m = fake_mounted(avbl_server("213 0"))
    st = os.statvfs(m.mountpoint)
    assert (st.f_blocks, st.f_bavail) == (1, 0)
    assert df_lists(m.mountpoint)


def test_a_refused_avbl_falls_back_to_unknown(avbl_server, fake_mounted):
    m = fake_mounted(avbl_server("550 Cannot tell."))
    st = os.statvfs(m.mountpoint)
    assert (st.f_blocks, st.f_bfree, st.f_bavail) == (1, 1, 1)
    assert os.listdir(m.mountpoint) == ["a.txt"]  # the connection is fine
