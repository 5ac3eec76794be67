"""Server-side checksums as read-only extended attributes: user.ftpsfs.{sha256,sha512,sha1,md5,
crc32} ask the server (HASH, draft-bryan-ftpext-hash) instead of downloading the file.

ProFTPD with mod_digest offers HASH; vsftpd does not (its mounts say ENOTSUP). The oracle is
hashlib/zlib over the server's files, read directly from its directory.
"""

import hashlib
import sys
import zlib
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from writehelpers import MIB, pycall, random_bytes  # noqa: E402

DIGEST = ["LoadModule mod_digest.c"]

ORACLES = {
    "sha256": lambda d: hashlib.sha256(d).hexdigest(),
    "sha512": lambda d: hashlib.sha512(d).hexdigest(),
    "sha1": lambda d: hashlib.sha1(d).hexdigest(),
    "md5": lambda d: hashlib.md5(d).hexdigest(),
    "crc32": lambda d: f"{zlib.crc32(d):08x}",
}

GETXATTR = """
    import errno
    try:
        result = os.getxattr(path, name).decode()
    except OSError as e:
        result = errno.errorcode[e.errno]
"""


def getxattr(path, name):
    """The attribute's value (str), or the errno's name, read in a child process."""
    r = pycall(GETXATTR, path=path, name=name)
    assert r.errno is None, r.error
    return r.result


@pytest.fixture
def proftpd_digest(ftp_server, mounted):
    """(server, mount) of a ProFTPD with mod_digest, its root holding d/f.bin, d/sp ace.bin
    and d/empty."""
    srv = ftp_server("proftpd", extra_lines=DIGEST)
    srv.put("d/f.bin", random_bytes(3 * MIB + 7, "digest"))
    srv.put("d/sp ace.bin", b"a name with a space\n")
    srv.put("d/empty", b"")
    return srv, mounted(srv)


@pytest.mark.parametrize("algo", sorted(ORACLES))
def test_server_checksum_matches_the_file(proftpd_digest, algo):
    srv, m = proftpd_digest
    for name in ("f.bin", "sp ace.bin", "empty"):
        want = ORACLES[algo]((srv.root_dir / "d" / name).read_bytes())
        assert getxattr(m.mountpoint / "d" / name, f"user.ftpsfs.{algo}") == want, name
    assert "> HASH /d/f.bin" in m.log_text()


def test_checksum_sees_writes_not_yet_closed(proftpd_digest, tmp_path):
    # Asking for the checksum uploads pending writes first; writing then goes on (APPE).
    srv, m = proftpd_digest
    first, second = random_bytes(MIB, "first"), random_bytes(MIB // 2, "second")
    (tmp_path / "first").write_bytes(first)
    (tmp_path / "second").write_bytes(second)
    r = pycall("""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.write(fd, open(first, "rb").read())
        stage = "getxattr"
        mid = os.getxattr(path, "user.ftpsfs.sha256").decode()
        stage = "write"
        os.write(fd, open(second, "rb").read())
        os.close(fd)
        result = [mid, os.getxattr(path, "user.ftpsfs.sha256").decode()]
    """, path=m.mountpoint / "d" / "new.bin", first=tmp_path / "first",
        second=tmp_path / "second")
    assert r.errno is None, f"{r.error} at {r.stage}"
    assert r.result == [hashlib.sha256(first).hexdigest(),
                        hashlib.sha256(first + second).hexdigest()]
    assert (srv.root_dir / "d" / "new.bin").read_bytes() == first + second


def test_checksum_attributes_are_not_listed_or_settable(proftpd_digest):
    _, m = proftpd_digest
    r = pycall("""
        import errno
        out = {"list": os.listxattr(path)}
        try:
            os.setxattr(path, "user.ftpsfs.sha256", b"0" * 64)
            out["set"] = "success"
        except OSError as e:
            out["set"] = errno.errorcode[e.errno]
        result = out
    """, path=m.mountpoint / "d" / "f.bin")
    assert r.errno is None, r.error
    assert r.result == {"list": [], "set": "ENOTSUP"}


@pytest.mark.parametrize("name,target,expected", [
    ("user.ftpsfs.tiger", "d/f.bin", "ENODATA"),        # no such algorithm
    ("user.other", "d/f.bin", "ENODATA"),
    ("security.capability", "d/f.bin", "ENODATA"),
    ("user.ftpsfs.sha256", "d", "ENODATA"),              # directories have none
    ("user.ftpsfs.sha256", "d/missing", "ENOENT"),
])
def test_other_attributes_are_absent(proftpd_digest, name, target, expected):
    _, m = proftpd_digest
    assert getxattr(m.mountpoint / target, name) == expected


def test_server_without_hash_says_enotsup(ftp_server, mounted):
    srv = ftp_server("vsftpd")
    srv.put("f.bin", b"data\n")
    m = mounted(srv)
    assert getxattr(m.mountpoint / "f.bin", "user.ftpsfs.sha256") == "ENOTSUP"
