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

from writehelpers import INTERLEAVED_WRITERS, MIB, pycall, random_bytes  # noqa: E402

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


def test_checksum_with_attributes_expired_at_once(ftp_server, mounted):
    # attr_timeout=0: the cached attributes have always expired; the file's type is still
    # known, and the checksum must not fail with EAGAIN.
    srv = ftp_server("proftpd", extra_lines=DIGEST)
    srv.put("f.bin", b"expired attributes\n")
    m = mounted(srv, options=["attr_timeout=0"])
    assert getxattr(m.mountpoint / "f.bin", "user.ftpsfs.sha256") == \
        ORACLES["sha256"](b"expired attributes\n")


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


# --- -o verify ---------------------------------------------------------------------------------

def _verified(log):
    return log.count("upload verified")


def test_verify_checks_every_kind_of_upload_on_proftpd(ftp_server, mounted, tmp_path):
    srv = ftp_server("proftpd", extra_lines=DIGEST)
    old = random_bytes(2 * MIB, "old")
    srv.put("edit.bin", old)
    srv.put("log.txt", b"line 1\n")
    m = mounted(srv, options=["verify"])
    new = random_bytes(3 * MIB + 5, "new")
    (tmp_path / "new").write_bytes(new)
    r = pycall("""
        stage = "stream"
        with open(d + "/new.bin", "wb") as f:
            f.write(open(src, "rb").read())
        stage = "spool"
        with open(d + "/edit.bin", "r+b") as f:
            f.seek(1000000)
            f.write(b"patched")
        stage = "append"
        with open(d + "/log.txt", "ab") as f:
            f.write(b"line 2\\n")
        stage = "done"
    """, d=m.mountpoint, src=tmp_path / "new")
    assert r.errno is None, f"{r.error} at {r.stage}"
    assert (srv.root_dir / "new.bin").read_bytes() == new
    assert (srv.root_dir / "edit.bin").read_bytes() == old[:1000000] + b"patched" + old[1000007:]
    assert (srv.root_dir / "log.txt").read_bytes() == b"line 1\nline 2\n"
    log = m.log_text()
    assert log.count("upload verified (") == 3, log
    assert "/new.bin: upload verified (3145733 bytes, sha256)" in log
    assert "/edit.bin: upload verified (2097152 bytes, sha256)" in log
    # the start of log.txt was never read here: its size is all we can compare
    assert "/log.txt: upload verified (14 bytes; the server offers no digest" in log


@pytest.mark.parametrize("verify", [True, False], ids=["verify", "no-verify"])
@pytest.mark.parametrize("kind", ["stream", "spool"])
def test_verify_catches_a_server_that_damages_uploads(fake_server, mounted, certs, verify, kind):
    srv = fake_server(files={"/old.bin": random_bytes(200000, "old")}, hash_sha256=True,
                      corrupt_uploads=True)
    m = mounted(srv, options=["timeout=5"] + (["verify"] if verify else []),
                password=srv.password, cafile=certs.ca_file)
    r = pycall("""
        if kind == "stream":
            fd = os.open(d + "/new.bin", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        else:
            fd = os.open(d + "/old.bin", os.O_RDWR)
            os.lseek(fd, 1000, 0)
        os.write(fd, b"payload" * 1000)
        stage = "close"
        os.close(fd)
    """, d=m.mountpoint, kind=kind)
    if verify:
        assert r.errname == "EIO" and r.stage == "close", r.error
        assert "upload not verified: the server's sha256 is" in m.log_text()
    else:
        assert r.errno is None, r.error  # nothing asks, nothing sees the damage


def test_verify_follows_streams_the_pool_ends_and_continues(ftp_server, mounted):
    # One transfer connection for three writers taking turns: each upload is ended and
    # continued with APPE several times; the digest runs on across the pieces.
    srv = ftp_server("proftpd", extra_lines=DIGEST)
    m = mounted(srv, options=["verify", "max_conns=2"])
    seeds = {f"w{i}.bin": 400 + i for i in range(3)}
    r = pycall(INTERLEAVED_WRITERS, d=m.mountpoint, seeds=seeds, size=MIB, chunk=128 * 1024)
    assert r.errno is None, (r.stage, r.error)
    log = m.log_text()
    assert "reclaiming from a parked writer" in log
    for name, seed in seeds.items():
        assert (srv.root_dir / name).read_bytes() == random_bytes(MIB + seed, seed)
        assert f"/{name}: upload verified ({MIB + seed} bytes, sha256)" in log
