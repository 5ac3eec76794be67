"""Read-only mount behaviour against real FTPS servers.

Every test runs for each cell of the matrix {vsftpd, ProFTPD} x {explicit,
implicit TLS} x {TLS 1.2, TLS 1.3}; both servers require that data
connections resume the control connection's TLS session.  pyftpdlib and
ftp-srv join with explicit TLS (all they offer here) on TLS 1.2 and 1.3;
neither requires reuse.  The oracle is always the server's own directory,
read directly with os/hashlib.

What a server cannot do (the only per-server expectations):
- pyftpdlib's MLSD and ftp-srv's LIST describe a symlink as its target
  (both stat() through it) and leave dangling ones out: the mount cannot
  know there is a link (LINKS_AS_TARGETS).
- ftp-srv's data connections can never resume the control connection's TLS
  session (a new tls.Server, with its own ticket keys and session id
  context, for every data connection: servers.FtpSrv).
"""

import errno
import hashlib
import os
import random
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from mount import Mount, default_binary  # noqa: E402
from fscall import assert_random_reads_match  # noqa: E402
from servers import SERVER_KINDS  # noqa: E402

MIB = 1024 * 1024
SIZED_FILES = {"empty": 0, "one": 1, "four_k": 4096, "mib_plus_one": MIB + 1,
               "big": 200 * MIB}
ODD_NAMES = ["name with spaces.txt", "Grüße – 日本語.txt", "-leading-dash",
             "--", " leading space", "semi;colon=eq", ".hidden"]
OLD_MTIME = 1577882096  # 2020-01-01 12:34:56 UTC: LIST shows only the date
TREE_SHAPE = (20, 5, 21)  # dirs x subdirs x files = 2100 files

MATRIX = [(kind, implicit, tls) for kind in ("vsftpd", "proftpd")
          for implicit in (False, True) for tls in ("1.2", "1.3")]
MATRIX += [(kind, False, tls) for kind in ("pyftpdlib", "ftpsrv") for tls in ("1.2", "1.3")]

# Servers whose listings show a symlink as what it points to and omit dangling ones.
LINKS_AS_TARGETS = {"pyftpdlib": "its MLSD stat()s through symlinks",
                    "ftpsrv": "its LIST stat()s through symlinks"}
# Servers that let data connections resume, but not always: pyftpdlib on TLS 1.2, under load,
# stopped resuming a control connection's session after a few transfers (seen twice in ~10
# runs; cause not found yet). It does not require reuse, so the transfers still work.
PARTIAL_RESUMPTION = {"pyftpdlib": "some TLS 1.2 data connections are not resumed"}
# Servers that never let a data connection resume the control connection's session.
NO_DATA_RESUMPTION = {"ftpsrv": "a new tls.Server (own ticket keys, own session id context) "
                                "per data connection"}


def _cell_id(cell):
    kind, implicit, tls = cell
    return f"{kind}-{'implicit' if implicit else 'explicit'}-tls{tls}"


def _write_random(path, size, seed):
    rnd = random.Random(seed)
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, 4 * MIB)
            f.write(rnd.randbytes(n))
            left -= n


@pytest.fixture(scope="session")
def tree(roots_base, test_user):
    """One server root shared by every cell (servers run one at a time)."""
    root = roots_base / "read-tree"
    root.mkdir()
    for i, (name, size) in enumerate(SIZED_FILES.items()):
        _write_random(root / name, size, seed=i)
    for name in ODD_NAMES:
        (root / name).write_bytes(name.encode() + b"\n")
    (root / "dir with space").mkdir()
    (root / "dir with space" / "inner file").write_bytes(b"inner\n")
    (root / "old.txt").write_bytes(b"old\n")
    os.utime(root / "old.txt", (OLD_MTIME, OLD_MTIME))
    (root / "exec.sh").write_bytes(b"#!/bin/sh\n")
    (root / "exec.sh").chmod(0o751)
    os.symlink("one", root / "link-to-one")
    os.symlink("tree/d0", root / "link-to-dir")
    os.symlink("no/such/target", root / "dangling")
    with open(root / "sparse-5g", "wb") as f:
        f.truncate(5 * 1024 * MIB)  # > 4 GiB, costs no disk
    dirs, subdirs, files = TREE_SHAPE
    for d in range(dirs):
        for s in range(subdirs):
            sub = root / "tree" / f"d{d}" / f"s{s}"
            sub.mkdir(parents=True)
            for n in range(files):
                (sub / f"f{n}").write_bytes(f"{d}/{s}/{n}\n".encode())
    (root / "secret.txt").write_bytes(b"secret\n")
    (root / "secretdir").mkdir()
    (root / "secretdir" / "x").write_bytes(b"x\n")
    test_user.chown_tree(root)
    # After chown_tree: the test user may neither read nor enter these.
    (root / "secret.txt").chmod(0)
    (root / "secretdir").chmod(0)
    hashes = {name: hashlib.sha256((root / name).read_bytes()).hexdigest()
              for name in SIZED_FILES}
    return root, hashes


@pytest.fixture(scope="module", params=MATRIX, ids=_cell_id)
def cell(request, tree, certs, test_user, tmp_path_factory):
    """A server of one matrix cell with the tree mounted; stopped afterwards."""
    kind, implicit, tls = request.param
    root, hashes = tree
    workdir = tmp_path_factory.mktemp(_cell_id(request.param))
    srv = SERVER_KINDS[kind](root, certs, test_user, implicit=implicit,
                             workdir=workdir)
    srv.start()
    mnt = workdir / "mnt"
    # Read-only: these tests change nothing, and the EROFS test checks -o ro.
    opts = ["ro"] + (["tls_max=1.2"] if tls == "1.2" else [])
    m = Mount(default_binary(), srv.url("/"), mnt, test_user.password,
              options=opts, cafile=certs.ca_file)
    try:
        m.start()
    except Exception:
        srv.stop()
        raise
    try:
        yield {"server": srv, "mount": m, "mnt": mnt, "root": root,
               "hashes": hashes, "tls": tls}
    finally:
        try:
            m.stop()
        finally:
            srv.stop()


def _minute(t):
    return int(t) // 60 * 60


def _day(t):
    return int(t) // 86400 * 86400


def _expected_mtime(kind, server_st):
    """Files: exact to the second (ProFTPD's and pyftpdlib's MLSD; LIST plus
    MDTM on vsftpd and ftp-srv).  Directories on vsftpd and ftp-srv: what
    LIST shows, the minute for recent ones and the day for older ones
    (ftpsfs asks MDTM for files only)."""
    if kind in ("proftpd", "pyftpdlib") or stat.S_ISREG(server_st.st_mode):
        return int(server_st.st_mtime)
    if time.time() - server_st.st_mtime > 180 * 86400:
        return _day(server_st.st_mtime)
    return _minute(server_st.st_mtime)


def test_negotiated_tls_version(cell):
    want = "TLSv1.2" if cell["tls"] == "1.2" else "TLSv1.3"
    assert f"logged in ({want})" in cell["mount"].log_text()


def _listed_names(kind, root):
    """What the server's listing can show of `root`: everything, or without the dangling
    symlinks on LINKS_AS_TARGETS servers."""
    names = os.listdir(root)
    if kind in LINKS_AS_TARGETS:
        names = [n for n in names if os.path.exists(root / n)]
    return names


def test_listing_matches_server(cell):
    root, mnt = cell["root"], cell["mnt"]
    names = _listed_names(cell["server"].name, root)
    assert sorted(os.listdir(mnt)) == sorted(names)
    out = subprocess.run(["ls", "-la", str(mnt)], capture_output=True,
                         text=True, check=True).stdout
    for name in names:
        assert name in out


def test_attributes_match_server(cell):
    root, mnt = cell["root"], cell["mnt"]
    kind = cell["server"].name
    # A server that shows links as their targets is compared with the targets.
    server_stat = os.stat if kind in LINKS_AS_TARGETS else os.lstat
    for name in _listed_names(kind, root):
        s = server_stat(root / name)
        m = os.lstat(mnt / name)
        assert stat.S_IFMT(m.st_mode) == stat.S_IFMT(s.st_mode), name
        if not stat.S_ISLNK(s.st_mode):
            assert stat.S_IMODE(m.st_mode) == stat.S_IMODE(s.st_mode), name
        if stat.S_ISREG(s.st_mode) or stat.S_ISLNK(s.st_mode):
            assert m.st_size == s.st_size, name
        if not stat.S_ISLNK(s.st_mode):
            assert int(m.st_mtime) == _expected_mtime(kind, s), name


def test_size_beyond_4gib(cell):
    assert os.stat(cell["mnt"] / "sparse-5g").st_size == 5 * 1024 * MIB


def test_old_file_mtime_exact(cell):
    """LIST shows only the date of an old file; the mount still knows the
    second (MDTM on vsftpd, MLSD on ProFTPD)."""
    assert int(os.stat(cell["mnt"] / "old.txt").st_mtime) == OLD_MTIME


def test_symlinks(cell):
    if cell["server"].name in LINKS_AS_TARGETS:
        pytest.skip(f"{cell['server'].name} shows no symlinks: "
                    f"{LINKS_AS_TARGETS[cell['server'].name]}")
    root, mnt = cell["root"], cell["mnt"]
    for name in ("link-to-one", "link-to-dir", "dangling"):
        assert os.readlink(mnt / name) == os.readlink(root / name)
    assert (mnt / "link-to-one").read_bytes() == (root / "one").read_bytes()
    assert sorted(os.listdir(mnt / "link-to-dir")) == sorted(os.listdir(root / "tree/d0"))
    with pytest.raises(FileNotFoundError):
        (mnt / "dangling").read_bytes()


@pytest.mark.parametrize("name", list(SIZED_FILES))
def test_sha256_matches_server(cell, name):
    out = subprocess.run(["sha256sum", str(cell["mnt"] / name)],
                         capture_output=True, text=True, check=True).stdout
    assert out.split()[0] == cell["hashes"][name]


def test_random_offset_reads(cell):
    assert_random_reads_match(cell["mnt"] / "big", cell["root"] / "big", 150)


def test_interleaved_handles_on_one_file(cell):
    src = (cell["root"] / "mib_plus_one").read_bytes()
    path = cell["mnt"] / "mib_plus_one"
    with open(path, "rb", buffering=0) as a, open(path, "rb", buffering=0) as b:
        got_a, got_b = b"", b""
        while True:
            ca, cb = a.read(70000), b.read(50000)
            got_a += ca
            got_b += cb
            if not ca and not cb:
                break
    assert got_a == src and got_b == src


def _tree_listing(base):
    out = []
    for dirpath, dirnames, filenames in os.walk(base):
        rel = os.path.relpath(dirpath, base)
        out += [os.path.normpath(os.path.join(rel, n)) for n in dirnames + filenames]
    return sorted(out)


def test_find_lists_exactly_the_tree(cell):
    res = subprocess.run(["find", ".", "-mindepth", "1"], cwd=cell["mnt"] / "tree",
                         capture_output=True, text=True, check=True)
    found = sorted(os.path.normpath(p) for p in res.stdout.splitlines())
    expected = _tree_listing(cell["root"] / "tree")
    assert len(expected) >= 2000
    assert found == expected


def test_odd_names_readable(cell):
    for name in ODD_NAMES + ["dir with space/inner file"]:
        assert (cell["mnt"] / name).read_bytes() == (cell["root"] / name).read_bytes(), name


def test_cp_r_copies_tree(cell, tmp_path):
    dest = tmp_path / "copy"
    subprocess.run(["cp", "-r", str(cell["mnt"] / "tree" / "d3"), str(dest)], check=True)
    src = cell["root"] / "tree" / "d3"
    assert _tree_listing(dest) == _tree_listing(src)
    for rel in _tree_listing(src):
        if (src / rel).is_file():
            assert (dest / rel).read_bytes() == (src / rel).read_bytes()


def test_unreadable_file_is_eacces(cell):
    with pytest.raises(PermissionError):
        (cell["mnt"] / "secret.txt").read_bytes()


def test_unreadable_directory_is_eacces(cell):
    with pytest.raises(PermissionError):
        os.listdir(cell["mnt"] / "secretdir")


def test_missing_is_enoent(cell):
    mnt = cell["mnt"]
    with pytest.raises(FileNotFoundError):
        os.stat(mnt / "no-such-file")
    with pytest.raises(FileNotFoundError):
        open(mnt / "no-such-dir" / "x", "rb")
    with pytest.raises(FileNotFoundError):
        os.listdir(mnt / "no-such-dir")


@pytest.mark.parametrize("op", ["create", "truncate", "append", "mkdir", "unlink",
                                "rmdir", "rename", "chmod", "utime", "symlink"])
def test_changes_are_erofs(cell, op):
    mnt = cell["mnt"]
    actions = {
        "create": lambda: open(mnt / "new-file", "wb"),
        "truncate": lambda: open(mnt / "one", "r+b"),
        "append": lambda: open(mnt / "one", "ab"),
        "mkdir": lambda: os.mkdir(mnt / "new-dir"),
        "unlink": lambda: os.unlink(mnt / "one"),
        "rmdir": lambda: os.rmdir(mnt / "dir with space"),
        "rename": lambda: os.rename(mnt / "one", mnt / "two"),
        "chmod": lambda: os.chmod(mnt / "one", 0o600),
        "utime": lambda: os.utime(mnt / "one", (1, 1)),
        "symlink": lambda: os.symlink("one", mnt / "new-link"),
    }
    with pytest.raises(OSError) as exc:
        actions[op]()
    assert exc.value.errno == errno.EROFS
    assert (cell["root"] / "one").stat().st_size == 1


def test_data_connections_resumed_tls_session(cell):
    """vsftpd and ProFTPD refuse a data connection that does not resume the
    control connection's session; prove ours did, from both sides.
    pyftpdlib lets them resume (without requiring it): they must."""
    srv = cell["server"]
    if srv.name in NO_DATA_RESUMPTION:
        pytest.skip(f"{srv.name}: {NO_DATA_RESUMPTION[srv.name]}; "
                    "test_data_connections_not_resumable_still_work covers it")
    # Make sure at least one fresh transfer happened in this cell.
    (cell["mnt"] / "four_k").read_bytes()
    log = cell["mount"].log_text()
    assert "TLS session resumed" in log
    if srv.name not in PARTIAL_RESUMPTION:
        assert "NOT resumed" not in log
    assert srv.count_resumed_data() > 0
    assert srv.count_rejected_data() in (0, None)  # None: the server never rejects


def test_data_connections_not_resumable_still_work(cell):
    """A server that cannot resume data sessions (and does not require it) still serves
    every transfer: ftpsfs says "NOT resumed" and warns once."""
    srv = cell["server"]
    if srv.name not in NO_DATA_RESUMPTION:
        pytest.skip(f"{srv.name} resumes data sessions")
    assert (cell["mnt"] / "four_k").read_bytes() == (cell["root"] / "four_k").read_bytes()
    log = cell["mount"].log_text()
    assert "TLS session resumed" not in log
    assert "TLS session NOT resumed" in log
    assert log.count("data connection did not resume the control connection's TLS "
                     "session") == 1
    assert srv.count_resumed_data() == 0
    assert srv.count_not_resumed_data() > 0
