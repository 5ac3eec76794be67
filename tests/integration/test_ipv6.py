"""IPv6: vsftpd on [::1] (require_ssl_reuse=YES). PASV cannot name an IPv6 address, so
passive mode is EPSV only (RFC 2428), and active mode is EPRT |2|::1|port|. The certificate
names ::1, so host verification runs as for 127.0.0.1.
"""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fscall import errname, fs_call  # noqa: E402
from writehelpers import MIB, random_bytes, sha256, write_file  # noqa: E402


@pytest.mark.parametrize("mode", ["passive", "active"])
@pytest.mark.parametrize("tls", ["1.2", "1.3"], ids=["tls1.2", "tls1.3"])
def test_ipv6_lists_reads_and_writes(ftp_server, mounted, mode, tls):
    srv = ftp_server("vsftpd", ipv6=True)
    assert srv.url().startswith("ftp://") and "@[::1]:" in srv.url()
    data = random_bytes(2 * MIB + 1, "v6")
    srv.put("d/a.bin", data)
    options = (["active"] if mode == "active" else []) + (["tls_max=1.2"] if tls == "1.2"
                                                           else [])
    m = mounted(srv, options=options)
    ls = fs_call("listdir", m.mountpoint / "d", limit=60)
    assert ls.names == ["a.bin"], errname(ls)
    got = fs_call("read", m.mountpoint / "d" / "a.bin", limit=60)
    assert got.sha256 == sha256(data), errname(got)
    new = random_bytes(MIB + 3, "v6-write")
    w = write_file(m.mountpoint / "d" / "b.bin", data=new)
    assert w.errno is None, f"{w.errname} at {w.stage}"
    assert (srv.root_dir / "d" / "b.bin").read_bytes() == new
    log = m.log_text()
    assert ("> EPRT |2|::1|" in log) == (mode == "active")
    assert "> PASV" not in log
    assert "NOT resumed" not in log
    assert srv.count_resumed_data() >= 3
