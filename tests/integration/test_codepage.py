"""Servers whose names are not UTF-8 (-o codepage=CHARSET).

vsftpd stores and lists names as the bytes they are on its disk, so a root with Latin-1 or GBK
names on disk is such a server. With codepage= the mount shows and takes UTF-8 names and the
server's disk gets its own charset; without it, names pass through as raw bytes (which Linux
allows), so nothing is lost either way.
"""

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from writehelpers import pycall  # noqa: E402

CASES = {
    # charset: (a file name, a directory name) as UTF-8 text
    "ISO-8859-1": ("café.txt", "résumés"),
    "GBK": ("中文.txt", "目录"),
}

# Raw names under `d`, as hex (they need not be UTF-8).
LIST_HEX = """
    result = sorted(n.hex() for n in os.listdir(os.fsencode(d)))
"""


def _server_with_names(ftp_server, charset):
    """vsftpd whose root holds the CASES names of `charset` in that charset, with content."""
    srv = ftp_server("vsftpd")
    fname, dname = (n.encode(charset) for n in CASES[charset])
    root = os.fsencode(srv.root_dir)
    with open(os.path.join(root, fname), "wb") as f:
        f.write(b"content of " + fname + b"\n")
    os.mkdir(os.path.join(root, dname))
    with open(os.path.join(root, dname, fname), "wb") as f:
        f.write(b"inner\n")
    srv.user.chown_tree(srv.root_dir)
    return srv


def _names_on_disk(path):
    return sorted(os.listdir(os.fsencode(path)))


@pytest.mark.parametrize("charset", sorted(CASES))
def test_codepage_shows_utf8_and_stores_the_servers_charset(ftp_server, mounted, charset):
    fname, dname = CASES[charset]
    srv = _server_with_names(ftp_server, charset)
    m = mounted(srv, options=[f"codepage={charset}"])
    r = pycall("""
        out = {"top": sorted(os.listdir(d)), "inner": sorted(os.listdir(os.path.join(d, dn)))}
        out["read"] = open(os.path.join(d, fn), "rb").read().decode("latin-1")
        stage = "create"
        with open(os.path.join(d, dn, "new " + fn), "wb") as f:
            f.write(b"written\\n")
        stage = "rename"
        os.rename(os.path.join(d, fn), os.path.join(d, "renamed " + fn))
        stage = "mkdir"
        os.mkdir(os.path.join(d, dn + "2"))
        result = out
    """, d=m.mountpoint, fn=fname, dn=dname)
    assert r.errno is None, f"{r.error} at {r.stage}"
    assert r.result["top"] == sorted([fname, dname])
    assert r.result["inner"] == [fname]
    assert r.result["read"] == (b"content of " + fname.encode(charset) + b"\n").decode("latin-1")
    root = os.fsencode(srv.root_dir)
    assert _names_on_disk(root) == sorted(
        n.encode(charset) for n in ("renamed " + fname, dname, dname + "2"))
    assert _names_on_disk(os.path.join(root, dname.encode(charset))) == sorted(
        n.encode(charset) for n in (fname, "new " + fname))


def test_name_with_no_form_in_the_codepage_is_refused(ftp_server, mounted):
    srv = _server_with_names(ftp_server, "ISO-8859-1")
    m = mounted(srv, options=["codepage=ISO-8859-1"])
    r = pycall("""
        stage = "create"
        open(os.path.join(d, "\\u4e2d.txt"), "wb").close()
    """, d=m.mountpoint)
    assert r.errname == "EILSEQ", r.error
    assert b"?.txt" not in _names_on_disk(srv.root_dir)  # nothing "close enough" was made


def test_server_names_not_in_the_codepage_are_dropped_and_logged(ftp_server, mounted):
    # GBK bytes that are not a GBK character (0xFF) cannot be shown in UTF-8.
    srv = _server_with_names(ftp_server, "GBK")
    with open(os.path.join(os.fsencode(srv.root_dir), b"bad\xffname"), "wb"):
        pass
    srv.user.chown_tree(srv.root_dir)
    m = mounted(srv, options=["codepage=GBK"])
    r = pycall("result = sorted(os.listdir(d))", d=m.mountpoint)
    assert r.result == sorted(CASES["GBK"])
    assert "not valid in the server's charset" in m.log_text()


def test_without_codepage_names_pass_through_as_bytes(ftp_server, mounted):
    srv = _server_with_names(ftp_server, "ISO-8859-1")
    m = mounted(srv)
    fname = CASES["ISO-8859-1"][0].encode("ISO-8859-1")
    r = pycall(LIST_HEX + """
    result = [result, open(os.path.join(os.fsencode(d), bytes.fromhex(f)), "rb").read().hex()]
    """, d=m.mountpoint, f=fname.hex())
    assert r.errno is None, r.error
    assert r.result[0] == sorted(n.hex() for n in _names_on_disk(srv.root_dir))
    assert bytes.fromhex(r.result[1]) == b"content of " + fname + b"\n"


def test_unknown_codepage_is_refused_at_mount(ftp_server, mounted):
    srv = ftp_server("vsftpd")
    with pytest.raises(Exception) as exc:
        mounted(srv, options=["codepage=NO-SUCH-CHARSET"])
    assert "codepage=NO-SUCH-CHARSET" in str(exc.value)
