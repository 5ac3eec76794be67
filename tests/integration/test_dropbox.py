"""Write-only ("drop box") directories: uploading where listing is refused, on real servers
with such a directory as sites make one: mode -wx for the login (0333), which vsftpd and
ProFTPD then refuse to list (vsftpd says so only in its 226 reply) but store into."""

import errno
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from writehelpers import pycall, wait_for  # noqa: E402

KINDS = ["vsftpd", "proftpd"]


def _size_and_age(path):
    r = pycall("st = os.stat(p); result = [st.st_size, time.time() - st.st_mtime]", p=path)
    assert r.errno is None, r.error
    return r.result


def _dropbox_server(ftp_server, kind):
    srv = ftp_server(kind)
    srv.put("dropbox/.keep", b"")
    srv.put("open/readme", b"r")
    (srv.root_dir / "dropbox").chmod(0o333)
    return srv


@pytest.mark.parametrize("kind", KINDS)
def test_files_can_be_written_into_a_directory_that_cannot_be_listed(ftp_server, mounted,
                                                                     kind):
    srv = _dropbox_server(ftp_server, kind)
    m = mounted(srv)
    r = pycall("""
        with open(d + '/report.txt', 'wb') as f:
            f.write(b'x' * 100000)
        with open(d + '/small', 'w') as f:
            f.write('hello')
    """, d=m.mountpoint / "dropbox")
    assert r.errno is None, f"{r.error} at {r.stage}\n{m.log_text()[-3000:]}"
    assert (srv.root_dir / "dropbox" / "report.txt").read_bytes() == b"x" * 100000
    assert (srv.root_dir / "dropbox" / "small").read_bytes() == b"hello"
    # Written again (the name is known now): replaced.
    r = pycall("open(d + '/small', 'w').write('again')", d=m.mountpoint / "dropbox")
    assert r.errno is None, r.error
    assert (srv.root_dir / "dropbox" / "small").read_bytes() == b"again"
    # Asked again from the server (the name alone: MLST, or SIZE and MDTM).
    os.setxattr(m.mountpoint / "dropbox" / "small", "user.ftpsfs.refresh", b"1")
    assert wait_for(lambda: _size_and_age(m.mountpoint / "dropbox" / "small")[0] == 5, 5)
    size, age = _size_and_age(m.mountpoint / "dropbox" / "small")
    assert abs(age) < 3600, age  # its time from the server, not 1970


@pytest.mark.parametrize("kind", KINDS)
def test_listing_a_write_only_directory_is_eacces_with_the_reason_logged(ftp_server, mounted,
                                                                         kind):
    srv = _dropbox_server(ftp_server, kind)
    m = mounted(srv)
    r = pycall("result = os.listdir(d)", d=m.mountpoint / "dropbox")
    assert r.errno == errno.EACCES, r
    reason = {"vsftpd": "failed to open directory", "proftpd": "Permission denied"}[kind]
    assert reason in m.log_text()
    # Elsewhere the mount works as usual.
    assert pycall("result = os.listdir(d)", d=m.mountpoint / "open").result == ["readme"]
