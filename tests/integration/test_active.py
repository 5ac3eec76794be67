"""Active-mode data connections (-o active): EPRT (PORT as fallback), the server connects back.

Against servers whose passive mode is switched off, so that a passive connection would fail:
vsftpd (pasv_enable=NO, require_ssl_reuse=YES) and ProFTPD (EPSV and PASV denied), on TLS 1.2
and 1.3. ftpsfs is still the TLS client on the data connection and still resumes the control
connection's session. The fake server scripts what real servers won't do: a connection from
another address reaching our port first, and a server without EPRT.
"""

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fscall import errname, fs_call  # noqa: E402
from writehelpers import MIB, random_bytes, sha256, write_file  # noqa: E402

PASSIVE_OFF = {
    "vsftpd": {"extra": {"pasv_enable": "NO"}},
    "proftpd": {"extra_lines": ["<Limit EPSV PASV>", "  DenyAll", "</Limit>"]},
}


@pytest.mark.parametrize("tls", ["1.2", "1.3"], ids=["tls1.2", "tls1.3"])
@pytest.mark.parametrize("kind", ["vsftpd", "proftpd"])
def test_active_mode_lists_reads_and_writes(ftp_server, mounted, kind, tls):
    srv = ftp_server(kind, **PASSIVE_OFF[kind])
    data = random_bytes(3 * MIB + 1, "active-read")
    srv.put("dir/a.bin", data)
    m = mounted(srv, options=["active"] + (["tls_max=1.2"] if tls == "1.2" else []))

    ls = fs_call("listdir", m.mountpoint / "dir", limit=60)
    assert ls.names == ["a.bin"], errname(ls)
    got = fs_call("read", m.mountpoint / "dir" / "a.bin", limit=60)
    assert got.sha256 == sha256(data), errname(got)
    new = random_bytes(2 * MIB + 3, "active-write")
    w = write_file(m.mountpoint / "dir" / "b.bin", data=new)
    assert w.errno is None, f"{w.errname} at {w.stage}"
    assert sha256((srv.root_dir / "dir" / "b.bin").read_bytes()) == sha256(new)

    log = m.log_text()
    assert "> EPRT |1|127.0.0.1|" in log
    assert "> EPSV" not in log and "> PASV" not in log
    assert "NOT resumed" not in log
    assert srv.count_resumed_data() >= 3  # listing, read, write
    assert srv.count_rejected_data() == 0


def _read_through_active_mount(fake_server, mounted, certs, name, **server_kw):
    """A fake server (server_kw as for FakeFtpsServer) with one file, mounted with -o active;
    reads the file through the mount and checks its bytes. Returns (server, mount)."""
    data = random_bytes(300000, name)
    srv = fake_server(files={"/f.bin": data}, **server_kw)
    m = mounted(srv, options=["active", "timeout=5", "connect_timeout=5"],
                password=srv.password, cafile=certs.ca_file)
    got = fs_call("read", m.mountpoint / "f.bin", limit=60)
    assert got.sha256 == sha256(data), errname(got)
    return srv, m


def test_active_mode_refuses_a_data_connection_from_another_address(certs, fake_server, mounted):
    srv, m = _read_through_active_mount(fake_server, mounted, certs, "intruder",
                                        active_intruder=True)
    assert srv.intruder_connections >= 1
    assert "not coming from the server's address" in m.log_text()


def test_active_mode_falls_back_to_port_without_eprt(certs, fake_server, mounted):
    srv, m = _read_through_active_mount(fake_server, mounted, certs, "port", eprt=False)
    assert srv.commands("PORT"), "PORT was not used"
    assert os.listdir(m.mountpoint) == ["f.bin"]
