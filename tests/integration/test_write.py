"""Write support against real FTPS servers: every ordinary tool that writes gives the same bytes
and metadata on the server as on a local disk, or a clear error; nothing is silently lost.

The core tests run against vsftpd (require_ssl_reuse=YES) with TLS 1.2 (mount option
tls_max=1.2) and TLS 1.3; cp, rsync, git, random writes, editor save and chmod also run against
ProFTPD. One server per kind serves the whole module; every test gets its own directory on it,
mounts just that directory with its own ftpsfs (and its own options), and both are removed at
teardown. The oracle is always the server's directory read directly (or, where a tool's local
behaviour is the reference, the same tool run on a local directory). Every access to the mount
runs in a child process with a time limit, so a hang fails the test instead of the run.

Server facts the expectations rest on:
- vsftpd sets a file's mtime with `MDTM YYYYMMDDhhmmss path` (mdtm_write=YES) but answers 550
  for a directory, both to set and to read its time; its LIST shows directory times to the
  minute only. Directory mtimes are therefore not compared on vsftpd.
- ProFTPD has MFMT (files and directories) and SITE CHMOD (mod_site_misc).
- Neither vsftpd nor ftpsfs can make symlinks or hard links on vsftpd: EPERM.
"""

import calendar
import errno
import itertools
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from mount import is_fuse_mounted  # noqa: E402
from servers import SERVER_KINDS  # noqa: E402
from workspace import (ALL_SERVERS, NO_DIR_TIMES, _cell_id, expect_ok,  # noqa: E402
                       on_all_servers, on_vsftpd_tls13, require, server_perm)
from writehelpers import (MIB, TOOL_ENV, make_small_files, make_tree, pycall,  # noqa: E402
                          pystart, random_bytes, read_file, run, RssSampler, sha256,
                          sha256_file, snapshot, wait_for, write_file)

# Errors a failed upload may surface as (vsftpd: "451 Failure writing to local file.").
DISK_FULL_ERRNOS = {errno.EIO, errno.ENOSPC, errno.EDQUOT}


# --- cp, rsync ---------------------------------------------------------------------------------

@on_all_servers
def test_cp_r_copies_tree_byte_exact(w, tmp_path):
    src = make_tree(tmp_path / "src")
    mnt = w.mount()
    w.run(["cp", "-r", src, mnt / "copy"])
    # cp -r sets neither modes nor times: content and shape only.
    assert (snapshot(w.sdir / "copy", modes=False, mtimes=False)
            == snapshot(src, modes=False, mtimes=False))


@on_all_servers
def test_rsync_a_copies_tree_with_modes_and_mtimes(w, tmp_path):
    require(w, "set_times")
    src = make_tree(tmp_path / "src")
    mnt = w.mount()
    w.run(["rsync", "-a", f"{src}/", f"{mnt}/dst/"])
    # Directory mtimes are compared where the server can set them (NO_DIR_TIMES). The
    # equality also proves that no rsync temporary file (.name.XXXXXX) was left behind.
    dir_mtimes = w.kind not in NO_DIR_TIMES
    assert (snapshot(w.sdir / "dst", dir_mtimes=dir_mtimes)
            == snapshot(src, dir_mtimes=dir_mtimes))


@pytest.mark.parametrize("transfer", ["--whole-file", "--no-whole-file"],
                         ids=["whole-file", "delta"])
def test_rsync_inplace_updates_existing_file(w, tmp_path, transfer):
    old = random_bytes(MIB + 123, "rsync-old")
    new = bytearray(old)
    for off in (0, 300000, 700000):  # a few changed regions, then 1000 bytes shorter
        new[off:off + 5000] = random_bytes(5000, f"rsync-patch-{off}")
    new = bytes(new[:-1000])
    w.put("data.bin", old)
    src = tmp_path / "data.bin"
    src.write_bytes(new)
    when = 1600000000
    os.utime(src, (when, when))
    mnt = w.mount()
    # --no-whole-file makes rsync read the old file through the mount and rewrite only the
    # changed blocks at their offsets (writes into an existing file, then ftruncate).
    w.run(["rsync", "-a", "--inplace", transfer, src, mnt / "data.bin"])
    assert sha256_file(w.sdir / "data.bin") == sha256(new)
    assert int(os.stat(w.sdir / "data.bin").st_mtime) == when


@on_all_servers
def test_rsync_second_run_transfers_nothing(w, tmp_path):
    require(w, "set_times")
    src = make_tree(tmp_path / "src")
    mnt = w.mount()
    w.run(["rsync", "-a", f"{src}/", f"{mnt}/dst/"])
    res = w.run(["rsync", "-a", "--itemize-changes", f"{src}/", f"{mnt}/dst/"])
    # Any file line (">f", "<f", "cf", "cL", ".f...p" ...) or a new directory ("cd") means the
    # first run did not leave what it should have. Tolerated: ".d..t......" lines, a
    # directory's time only: vsftpd can't set directory mtimes (MDTM answers 550 for them) and
    # lists them to the minute, so rsync finds them different again.
    unexpected = [line for line in res.stdout.splitlines()
                  if line.strip() and not re.match(r"\.d\.\.t\.+ ", line)]
    assert unexpected == [], res.stdout


# --- archives, editing tools -------------------------------------------------------------------

def test_tar_x_extracts_content_modes_and_mtimes(w, tmp_path):
    src = make_tree(tmp_path / "src" / "tree")
    for rel, when in [("top.txt", "2019-07-08 09:10:11"),
                      ("sub/deeper/x.bin", "2020-12-31 23:59:59"),
                      ("empty", "2001-02-03 04:05:06")]:
        run(["touch", "-d", when, src / rel])
    archive = tmp_path / "tree.tar"
    run(["tar", "cf", archive, "-C", tmp_path / "src", "tree"])
    local = tmp_path / "local"
    local.mkdir()
    run(["tar", "xf", archive, "-C", local])
    mnt = w.mount()
    w.run(["tar", "xf", archive, "-C", mnt])
    # File mtimes exactly; directory mtimes not (vsftpd can't set them, see the module doc).
    assert snapshot(w.sdir / "tree") == snapshot(local / "tree")


def _make_zip(path):
    import zipfile
    entries = [("unz/", None, 0o755), ("unz/a.txt", b"alpha\n" * 100, 0o644),
               ("unz/b.bin", random_bytes(300000, "zip-b"), 0o644),
               ("unz/run.sh", b"#!/bin/sh\necho hi\n", 0o755),
               ("unz/inner/private", random_bytes(777, "zip-p"), 0o600),
               ("unz/empty", b"", 0o644)]
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for i, (name, data, perm) in enumerate(entries):
            zi = zipfile.ZipInfo(name, date_time=(2020, 5, 6, 7, 8, 10 + 2 * i))  # DOS: even s
            zi.create_system = 3  # Unix: unzip applies the mode in external_attr
            if data is None:
                zi.external_attr = ((stat.S_IFDIR | perm) << 16) | 0x10
                zf.writestr(zi, b"")
            else:
                zi.external_attr = (stat.S_IFREG | perm) << 16
                zf.writestr(zi, data)


def test_unzip_extracts_content_modes_and_mtimes(w, tmp_path):
    archive = tmp_path / "a.zip"
    _make_zip(archive)
    local = tmp_path / "local"
    run(["unzip", "-q", archive, "-d", local])
    mnt = w.mount()
    w.run(["unzip", "-q", archive, "-d", mnt])
    assert snapshot(w.sdir / "unz") == snapshot(local / "unz")


def test_sed_i_edits_in_place_and_keeps_mode(w, tmp_path):
    text = "".join(f"banana {i} apple\n" for i in range(3000)).encode()
    w.put("text.txt", text, perm=0o640)
    local = tmp_path / "text.txt"
    local.write_bytes(text)
    local.chmod(0o640)
    mnt = w.mount()
    # sed -i writes a temporary file in the same directory, fchmods it and renames it over.
    w.run(["sed", "-i", "s/a/b/", mnt / "text.txt"])
    run(["sed", "-i", "s/a/b/", local])
    assert (w.sdir / "text.txt").read_bytes() == local.read_bytes()
    assert server_perm(w.sdir / "text.txt") == "0o640"
    assert os.listdir(w.sdir) == ["text.txt"]


@pytest.mark.parametrize("seek", [50000, 250000], ids=["middle", "past-end"])
def test_dd_conv_notrunc_seek_patches_bytes(w, tmp_path, seek):
    base = random_bytes(200000, "dd-base")
    patch = random_bytes(3000, "dd-patch")
    w.put("f.bin", base)
    (tmp_path / "patch").write_bytes(patch)
    mnt = w.mount()
    # bs=1: 3000 one-byte writes into an existing file at an offset, no truncation.
    w.run(["dd", f"if={tmp_path / 'patch'}", f"of={mnt / 'f.bin'}", "conv=notrunc", "bs=1",
           f"seek={seek}", "status=none"])
    expected = bytearray(base)
    expected += bytes(max(0, seek - len(base)))  # a hole reads as zeros
    expected[seek:seek + len(patch)] = patch
    got = (w.sdir / "f.bin").read_bytes()
    assert len(got) == len(expected)
    assert sha256(got) == sha256(bytes(expected))


@pytest.mark.parametrize("size", [300000, 12345, 0], ids=["grow", "shrink", "zero"])
def test_truncate_s_resizes_file(w, size):
    base = random_bytes(100000, "truncate")
    w.put("f.bin", base)
    mnt = w.mount()
    w.run(["truncate", "-s", size, mnt / "f.bin"])
    expected = base[:size] + bytes(max(0, size - len(base)))
    got = (w.sdir / "f.bin").read_bytes()
    assert len(got) == size
    assert sha256(got) == sha256(expected)


@pytest.mark.parametrize("existing", [True, False], ids=["existing", "new"])
def test_shell_append_accumulates_lines(w, existing):
    if existing:
        w.put("log.txt", b"first\n")
    mnt = w.mount()
    for i in range(5):
        w.run(["bash", "-c", f'echo "line {i}" >> "$1"', "bash", mnt / "log.txt"])
    expected = (b"first\n" if existing else b"") + b"".join(
        f"line {i}\n".encode() for i in range(5))
    assert (w.sdir / "log.txt").read_bytes() == expected


# --- namespace: mv, rm -r, mkdir -p -------------------------------------------------------------

def test_mv_renames_file(w):
    data = random_bytes(5000, "mv")
    w.put("old.bin", data)
    mnt = w.mount()
    w.run(["mv", mnt / "old.bin", mnt / "new.bin"])
    assert os.listdir(w.sdir) == ["new.bin"]
    assert (w.sdir / "new.bin").read_bytes() == data


def test_mv_renames_directory_with_its_tree(w):
    make_tree(w.sdir / "before")
    expected = snapshot(w.sdir / "before")
    mnt = w.mount()
    w.run(["mv", mnt / "before", mnt / "after"])
    assert os.listdir(w.sdir) == ["after"]
    assert snapshot(w.sdir / "after") == expected


def test_mv_replaces_existing_file(w):
    w.put("a", b"the new content\n")
    w.put("b", b"old content that is replaced\n")
    mnt = w.mount()
    w.run(["mv", "-f", mnt / "a", mnt / "b"])
    assert os.listdir(w.sdir) == ["b"]
    assert (w.sdir / "b").read_bytes() == b"the new content\n"


def test_rm_r_removes_tree(w):
    make_tree(w.sdir / "tree")
    w.put("keep", b"keep\n")
    mnt = w.mount()
    w.run(["rm", "-r", mnt / "tree"])
    assert os.listdir(w.sdir) == ["keep"]


def test_mkdir_p_creates_nested_directories(w):
    mnt = w.mount()
    w.run(["mkdir", "-p", mnt / "a" / "b" / "c"])
    assert (w.sdir / "a" / "b" / "c").is_dir()
    assert os.listdir(w.sdir / "a" / "b" / "c") == []


def test_mkdir_p_with_existing_parents_creates_the_rest(w):
    (w.sdir / "a" / "b").mkdir(parents=True)
    mnt = w.mount()
    w.run(["mkdir", "-p", mnt / "a" / "b" / "c" / "d"])
    assert (w.sdir / "a" / "b" / "c" / "d").is_dir()


# --- metadata: touch, chmod, chown, links ------------------------------------------------------

TOUCH_WHEN = "2021-03-04 05:06:07"  # tools run with TZ=UTC
TOUCH_EPOCH = calendar.timegm((2021, 3, 4, 5, 6, 7))
OLD_MTIME = 1500000000


@pytest.mark.parametrize("existing", [True, False], ids=["existing", "new"])
def test_touch_d_sets_exact_server_mtime(w, existing):
    if existing:
        w.put("f", b"content\n", mtime=OLD_MTIME)
    mnt = w.mount()
    w.run(["touch", "-d", TOUCH_WHEN, mnt / "f"])
    st = os.stat(w.sdir / "f")
    assert int(st.st_mtime) == TOUCH_EPOCH
    assert (w.sdir / "f").read_bytes() == (b"content\n" if existing else b"")


def test_touch_d_mtime_reads_back_exact_through_mount(w):
    w.put("f", b"content\n", mtime=OLD_MTIME)
    mnt = w.mount()
    w.run(["touch", "-d", TOUCH_WHEN, mnt / "f"])
    assert int(w.run(["stat", "-c", "%Y", mnt / "f"]).stdout) == TOUCH_EPOCH


@on_all_servers
@pytest.mark.parametrize("size", [0, 5], ids=["empty", "data"])
def test_time_set_before_last_close_survives_it(w, size):
    require(w, "set_times")
    # rsync's order, made deterministic: the file is written and closed, its time set, and
    # only then the kernel's RELEASE of the file arrives (it is asynchronous; here another
    # writable handle closes last). That close changes nothing and must not make the time
    # "now" again; the rename makes the kernel ask ftpsfs for the attributes afresh, as
    # rsync's next run would.
    mnt = w.mount()
    r = pycall("""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.write(fd, b"x" * size)
        other = os.open(path, os.O_RDWR)
        os.close(fd)
        os.utime(path, (when, when))
        os.close(other)
        os.rename(path, path + ".renamed")
        result = os.stat(path + ".renamed").st_mtime
    """, path=mnt / "f", size=size, when=TOUCH_EPOCH)
    expect_ok(r, "write, utime, close, rename")
    assert int(r.result) == TOUCH_EPOCH
    assert int(os.stat(w.sdir / "f.renamed").st_mtime) == TOUCH_EPOCH


@pytest.mark.parametrize("w", [("ftpsrv", "1.3")], indirect=True, ids=_cell_id)
def test_utime_is_eperm_where_server_cannot_set_times(w):
    w.put("f", b"x\n", mtime=OLD_MTIME)
    mnt = w.mount()
    r = pycall("os.utime(path, (when, when))", path=mnt / "f", when=TOUCH_EPOCH)
    assert r.errname == "EPERM"
    assert int(os.stat(w.sdir / "f").st_mtime) == OLD_MTIME


def test_touch_atime_only_is_accepted_and_keeps_mtime(w):
    # FTP has no atime: setting only it succeeds and changes nothing.
    w.put("f", b"content\n", mtime=OLD_MTIME)
    mnt = w.mount()
    w.run(["touch", "-a", "-d", TOUCH_WHEN, mnt / "f"])
    assert int(os.stat(w.sdir / "f").st_mtime) == OLD_MTIME


@on_all_servers
@pytest.mark.parametrize("target,mode", [("f", "600"), ("f", "751"), ("d", "700")],
                         ids=["file-600", "file-751", "dir-700"])
def test_chmod_sets_server_mode(w, target, mode):
    w.put("f", b"x\n")
    (w.sdir / "d").mkdir()
    mnt = w.mount()
    w.run(["chmod", mode, mnt / target])
    assert server_perm(w.sdir / target) == oct(int(mode, 8))


def test_chmod_reads_back_through_mount(w):
    w.put("f", b"x\n", perm=0o644)
    mnt = w.mount()
    w.run(["chmod", "600", mnt / "f"])
    assert w.run(["stat", "-c", "%a", mnt / "f"]).stdout.strip() == "600"


def test_chown_to_own_uid_and_gid_is_accepted(w):
    # Files appear owned by the mounting user; chown to that same owner is a no-op.
    w.put("f", b"x\n")
    mnt = w.mount()
    r = pycall("os.chown(path, uid, gid)", path=mnt / "f", uid=os.getuid(), gid=os.getgid())
    expect_ok(r, "chown to the owner it already has")


def test_chown_to_other_uid_is_eperm(w):
    w.put("f", b"x\n")
    mnt = w.mount()
    r = pycall("os.chown(path, 4242, -1)", path=mnt / "f")
    assert r.errname == "EPERM"


def test_uid_gid_options_set_the_shown_owner(w):
    # A root mount from fstab shown as a user's own files (git refuses repositories owned by
    # someone else): existing, new and renamed files all show that owner; chown to it is
    # accepted, to anyone else refused.
    w.put("f", b"x\n")
    w.put("d/g", b"y\n")
    mnt = w.mount("uid=4321", "gid=8765")
    r = pycall("""
        with open(d + "/new", "w") as f:
            f.write("new")
        os.rename(d + "/f", d + "/f2")
        os.chown(d + "/f2", 4321, 8765)
        result = [[os.stat(d + "/" + n).st_uid, os.stat(d + "/" + n).st_gid]
                  for n in (".", "f2", "d", "d/g", "new")]
        stage = "chown to another"
        os.chown(d + "/f2", 1, -1)
    """, d=mnt)
    assert r.errname == "EPERM" and r.stage == "chown to another", r.error
    assert r.result == [[4321, 8765]] * 5


def test_symlinks_created_on_proftpd_point_where_asked(ftp_server, mounted):
    # SITE SYMLINK resolves a relative target against the connection's working directory
    # and stores it absolute; ftpsfs sends the target resolved from the link's directory, so
    # the link points where the program asked, and reads back relative - also in a fresh
    # mount that knows it only from the server's listing. ProFTPD links only to existing
    # files: the rest is EPERM, as are targets outside the mount.
    srv = ftp_server("proftpd")
    srv.put("a/f1", b"one\n")
    srv.put("a/b/keep", b"")
    look = """
        result = {"l1": os.readlink(d + "/a/b/l1"), "l2": os.readlink(d + "/a/l2"),
                  "via": open(d + "/a/b/l1").read()}
    """
    r = pycall("""
        import errno
        os.symlink("../f1", d + "/a/b/l1")
        os.symlink("f1", d + "/a/l2")
        errs = {}
        for name, target in [("l3", "nowhere"), ("l4", "/etc/passwd"), ("l5", "../../x")]:
            try:
                os.symlink(target, d + "/a/" + name)
                errs[name] = "success"
            except OSError as e:
                errs[name] = errno.errorcode[e.errno]
        result = errs
    """, d=mounted(srv).mountpoint)
    assert r.errno is None, r.error
    assert r.result == {"l3": "EPERM", "l4": "EPERM", "l5": "EPERM"}
    # on the server's disk: absolute within its chroot, as ProFTPD stores every link
    assert os.readlink(srv.root_dir / "a" / "b" / "l1") == "/a/f1"
    fresh = pycall(look, d=mounted(srv).mountpoint)
    assert fresh.errno is None, fresh.error
    assert fresh.result == {"l1": "../f1", "l2": "f1", "via": "one\n"}


def test_symlink_is_eperm_on_vsftpd(w):
    w.put("f", b"x\n")
    mnt = w.mount()
    r = pycall("os.symlink('f', path)", path=mnt / "link")
    assert r.errname == "EPERM"
    assert os.listdir(w.sdir) == ["f"]


def test_hard_link_is_eperm(w):
    w.put("f", b"x\n")
    mnt = w.mount()
    r = pycall("os.link(src, dst)", src=mnt / "f", dst=mnt / "hard")
    assert r.errname == "EPERM"
    assert os.listdir(w.sdir) == ["f"]


# --- programs writing: editor save, random writes, big sequential writes ----------------------

EDITOR_SAVE = """
    # What an editor does on save: write a temporary file next to the original with the
    # original's mode, fsync it, rename it over the original.
    stage = "write temp"
    perm = os.stat(path).st_mode & 0o7777
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, data.encode())
    os.fchmod(fd, perm)
    stage = "fsync"
    os.fsync(fd)
    stage = "close"
    os.close(fd)
    stage = "rename"
    os.rename(tmp, path)
    stage = "done"
"""


@on_all_servers
def test_editor_save_replaces_file_via_temp_and_rename(w):
    w.put("doc.txt", b"old text\n" * 10, perm=0o640)
    new = "new text, saved by an editor\n" * 50
    mnt = w.mount()
    r = pycall(EDITOR_SAVE, tmp=mnt / ".doc.txt.swp", path=mnt / "doc.txt", data=new)
    expect_ok(r, "editor save")
    assert os.listdir(w.sdir) == ["doc.txt"]
    assert (w.sdir / "doc.txt").read_bytes() == new.encode()
    assert server_perm(w.sdir / "doc.txt") == "0o640"


# One random write: an offset up to 2 MiB past the end (so the file grows and gets holes), a
# size from the edge cases or anywhere up to ~400 KB, random bytes; the same to both files.
_PWRITE_BOTH = """
    def pwrite_all(fd, buf, off):
        view = memoryview(buf)
        while view:
            n = os.pwrite(fd, view, off)
            view, off = view[n:], off + n

    def pread_all(fd, n, off):
        out = b""
        while len(out) < n:
            chunk = os.pread(fd, n - len(out), off + len(out))
            if not chunk:
                break
            out += chunk
        return out

    def random_write(rnd, size):
        off = rnd.randrange(0, size + 2 * MIB)
        if rnd.random() < 0.5:
            n = rnd.choice([1, 3, 512, 4095, 4096, 4097, 65536, 131073, 262144, MIB])
        else:
            n = rnd.randrange(1, 400000)
        buf = rnd.randbytes(n)
        pwrite_all(fm, buf, off)
        pwrite_all(fl, buf, off)
        return max(size, off + n)
"""

RANDOM_WRITES = _PWRITE_BOTH + """
    rnd = random.Random(seed)
    stage = "open"
    fm = os.open(mnt_path, os.O_RDWR)
    fl = os.open(local_path, os.O_RDWR)
    size = os.fstat(fl).st_size
    stage = "pwrite"
    for i in range(count):
        size = random_write(rnd, size)
    os.close(fl)
    stage = "close"
    os.close(fm)
    stage = "done"
"""

PENDING_READS = _PWRITE_BOTH + """
    rnd = random.Random(seed)
    stage = "open"
    fm = os.open(mnt_path, os.O_RDWR)
    fl = os.open(local_path, os.O_RDWR)
    size = os.fstat(fl).st_size
    mismatches = []
    for i in range(count):
        stage = "pwrite"
        size = random_write(rnd, size)
        if i % 5 == 4:
            stage = "fstat/pread before close"
            sm, sl = os.fstat(fm).st_size, os.fstat(fl).st_size
            if sm != sl:
                mismatches.append(["size", i, sm, sl])
            off, n = rnd.randrange(0, sl), rnd.randrange(1, 300000)
            if pread_all(fm, n, off) != pread_all(fl, n, off):
                mismatches.append(["pread", i, off, n])
    stage = "whole read before close"
    hm, hl, off = hashlib.sha256(), hashlib.sha256(), 0
    while True:
        a, b = pread_all(fm, MIB, off), pread_all(fl, MIB, off)
        hm.update(a)
        hl.update(b)
        if not a and not b:
            break
        off += MIB
    result = {"mismatches": mismatches[:20], "count": len(mismatches),
              "whole_equal": hm.hexdigest() == hl.hexdigest()}
    os.close(fl)
    stage = "close"
    os.close(fm)
    stage = "done"
"""


def _file_pair(w, tmp_path, size, seed):
    """The same random content as `f.bin` on the server and as a local file; returns the
    local path."""
    data = random_bytes(size, seed)
    w.put("f.bin", data)
    local = tmp_path / "local.bin"
    local.write_bytes(data)
    return local


@on_all_servers
def test_random_pwrites_match_local_file(w, tmp_path):
    local = _file_pair(w, tmp_path, 50 * MIB, "random-writes")
    mnt = w.mount()
    r = pycall(RANDOM_WRITES, timeout=300, mnt_path=mnt / "f.bin", local_path=local,
               seed=11, count=300)
    expect_ok(r, "random writes")
    assert os.stat(w.sdir / "f.bin").st_size == local.stat().st_size
    assert sha256_file(w.sdir / "f.bin") == sha256_file(local)


def test_reads_before_close_see_pending_writes(w, tmp_path):
    local = _file_pair(w, tmp_path, 4 * MIB, "pending-reads")
    mnt = w.mount()
    r = pycall(PENDING_READS, timeout=300, mnt_path=mnt / "f.bin", local_path=local,
               seed=12, count=100)
    expect_ok(r, "random writes with reads in between")
    assert r.result["count"] == 0, f"reads differed from the local file: {r.result}"
    assert r.result["whole_equal"]


BIG_WRITE = """
    # `count` MiB of a deterministic pattern (every MiB distinct), written sequentially to a
    # new file; result: the sha256 of what was written.
    base = random.Random(seed).randbytes(MIB)
    h = hashlib.sha256()
    stage = "open"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    stage = "write"
    for i in range(count):
        chunk = i.to_bytes(8, "little") + base[8:]
        h.update(chunk)
        view = memoryview(chunk)
        while view:
            view = view[os.write(fd, view):]
    stage = "close"
    os.close(fd)
    stage = "done"
    result = h.hexdigest()
"""
RSS_GROWTH_LIMIT = 100 * MIB


@on_vsftpd_tls13
def test_1gib_sequential_write_arrives_exact_with_bounded_memory(w):
    mnt = w.mount()
    with RssSampler(w.m.proc.pid) as rss:
        r = pycall(BIG_WRITE, timeout=600, path=mnt / "big.bin", count=1024, seed=5)
    expect_ok(r, "1 GiB write")
    # Growth over the idle RSS, so that a sanitizer build's larger baseline does not count.
    assert rss.samples > 10
    print(f"1 GiB write: ftpsfs RSS {rss.baseline / MIB:.1f} MiB idle, "
          f"{rss.peak / MIB:.1f} MiB peak")
    assert rss.peak - rss.baseline < RSS_GROWTH_LIMIT, (
        f"ftpsfs RSS grew from {rss.baseline // MIB} MiB to {rss.peak // MIB} MiB")
    assert os.stat(w.sdir / "big.bin").st_size == 1024 * MIB
    assert sha256_file(w.sdir / "big.bin") == r.result


# --- what the program sees right after writing -------------------------------------------------

@pytest.mark.parametrize("new", [b"new, longer content than before\n", b"new\n"],
                         ids=["longer", "shorter"])
def test_cat_after_overwrite_shows_new_content(w, new):
    w.put("f.txt", b"old content\n")
    mnt = w.mount()
    assert w.run(["cat", mnt / "f.txt"]).stdout == "old content\n"  # now cached
    expect_ok(write_file(mnt / "f.txt", data=new), "overwrite")
    assert w.run(["cat", mnt / "f.txt"]).stdout == new.decode()


def test_stat_after_close_shows_new_size(w):
    w.put("f.bin", b"x" * 10)
    mnt = w.mount()
    assert w.run(["stat", "-c", "%s", mnt / "f.bin"]).stdout.strip() == "10"  # now cached
    expect_ok(write_file(mnt / "f.bin", data=b"y" * 1000, mode="ab"), "append")
    assert w.run(["stat", "-c", "%s", mnt / "f.bin"]).stdout.strip() == "1010"


@pytest.mark.parametrize("atomic", [False, True], ids=["plain", "atomic_upload"])
def test_file_deleted_while_written_leaves_nothing_on_server(w, atomic):
    # The stream already sent part of the file: deleting it must remove that part (or the
    # temporary file of atomic_upload) from the server; later writes succeed and go nowhere.
    mnt = w.mount(*(["atomic_upload"] if atomic else []))
    r = pycall("""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        stage = "write"
        os.write(fd, b"x" * 300000)
        stage = "unlink"
        os.unlink(path)
        stage = "write after unlink"
        os.write(fd, b"y" * 1000)
        stage = "close"
        os.close(fd)
        result = os.path.exists(path)
    """, path=mnt / "f")
    expect_ok(r, "write, unlink, write, close")
    assert r.result is False
    assert os.listdir(w.sdir) == []


@pytest.mark.parametrize("msync", [True, False], ids=["msync", "munmap-only"])
def test_mmap_writes_reach_the_server(w, msync):
    # Writes through a shared mapping arrive as page writebacks at any offset (into the
    # spool), before close() returns - with or without msync.
    w.put("f.bin", b"a" * 100000)
    mnt = w.mount()
    r = pycall("""
        import mmap
        fd = os.open(path, os.O_RDWR)
        m = mmap.mmap(fd, 0)
        m[5000:5005] = b"HELLO"
        m[99990:100000] = b"0123456789"
        if msync:
            m.flush()
        m.close()
        stage = "close"
        os.close(fd)
    """, path=mnt / "f.bin", msync=msync)
    expect_ok(r, "write through mmap")
    want = bytearray(b"a" * 100000)
    want[5000:5005] = b"HELLO"
    want[99990:] = b"0123456789"
    assert (w.sdir / "f.bin").read_bytes() == bytes(want)


@pytest.mark.parametrize("how", ["stream", "spool"])
def test_upload_while_a_read_of_the_file_is_open_does_not_stall(w, how):
    # vsftpd (lock_upload_files=YES, its default) makes an upload wait while a download of
    # the file is open: the reader's parked RETR must give way, and the reader then sees
    # the new content.
    w.put("f.bin", b"o" * (8 * MIB))
    mnt = w.mount("timeout=5")
    r = pycall("""
        rd = os.open(path, os.O_RDONLY)
        os.read(rd, 65536)
        stage = "write"
        if how == "stream":
            with open(path, "wb") as f:
                f.write(b"new content")
        else:
            with open(path, "r+b") as f:
                f.seek(100)
                f.write(b"NEW")
        stage = "read again"
        result = os.pread(rd, 16, 96).decode()
        os.close(rd)
    """, path=mnt / "f.bin", how=how)
    expect_ok(r, "read, write, read")
    if how == "stream":
        assert r.result == "" and (w.sdir / "f.bin").read_bytes() == b"new content"
    else:
        assert r.result == "ooooNEWooooooooo"
        assert (w.sdir / "f.bin").read_bytes()[96:112] == b"ooooNEWooooooooo"


def test_sqlite_database_in_the_mount_survives_a_remount(w):
    # Page-sized random writes, fsync, a rollback journal created and deleted per
    # transaction: the database on the server must be whole and consistent.
    mnt = w.mount()
    r = pycall("""
        import sqlite3
        db = sqlite3.connect(path)
        db.execute("create table t (k integer primary key, v text)")
        for i in range(20):
            with db:
                db.executemany("insert into t (v) values (?)",
                               [(f"row {i}-{j} " + "x" * 200,) for j in range(50)])
        with db:
            db.execute("delete from t where k % 3 = 0")
        db.close()
    """, path=mnt / "app.db")
    expect_ok(r, "sqlite writes")
    w.m.stop()
    r = pycall("""
        import sqlite3
        db = sqlite3.connect(path)
        result = [db.execute("pragma integrity_check").fetchone()[0],
                  db.execute("select count(*) from t").fetchone()[0]]
    """, path=w.sdir / "app.db")
    expect_ok(r, "sqlite read on the server")
    assert r.result == ["ok", 1000 - 333]
    assert sorted(os.listdir(w.sdir)) == ["app.db"]  # no journal left behind


def test_o_excl_create_of_existing_file_is_eexist(w):
    w.put("f", b"keep\n")
    mnt = w.mount()
    r = pycall("os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)", path=mnt / "f")
    assert r.errname == "EEXIST"
    assert (w.sdir / "f").read_bytes() == b"keep\n"


RO_OPS = {
    "create": "os.close(os.open(d + '/new', os.O_WRONLY | os.O_CREAT, 0o644))",
    "truncate": "os.close(os.open(d + '/f', os.O_WRONLY | os.O_TRUNC))",
    "append": "os.close(os.open(d + '/f', os.O_WRONLY | os.O_APPEND))",
    "mkdir": "os.mkdir(d + '/newdir')",
    "unlink": "os.unlink(d + '/f')",
    "rename": "os.rename(d + '/f', d + '/g')",
    "chmod": "os.chmod(d + '/f', 0o600)",
    "utime": "os.utime(d + '/f', (1, 1))",
}


@on_vsftpd_tls13
@pytest.mark.parametrize("op", list(RO_OPS))
def test_ro_mount_refuses_changes_with_erofs(w, op):
    w.put("f", b"unchanged\n")
    mnt = w.mount("ro")
    r = pycall(RO_OPS[op], d=str(mnt))
    assert r.errname == "EROFS"
    assert os.listdir(w.sdir) == ["f"]
    assert (w.sdir / "f").read_bytes() == b"unchanged\n"


# --- git ---------------------------------------------------------------------------------------

@on_all_servers
def test_git_commit_in_mount_gives_valid_repository_on_server(w, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = dict(TOOL_ENV, HOME=str(home), GIT_CONFIG_NOSYSTEM="1", GIT_TERMINAL_PROMPT="0")
    git = ["git", "-c", "user.name=ftpsfs test", "-c", "user.email=test@ftpsfs.invalid",
           "-c", "init.defaultBranch=main", "-c", "core.fsync=all"]
    src = make_small_files(tmp_path / "src", count=30)
    mnt = w.mount()
    repo = mnt / "repo"
    # Lock files (O_EXCL), temporary objects renamed into place (git falls back to rename when
    # link() fails), fsyncs, small writes, chmod probes.
    w.run(git + ["init", "-q", repo], env=env)
    w.run(["cp", "-r", f"{src}/.", repo])
    w.run(git + ["-C", repo, "add", "."], env=env)
    w.run(git + ["-C", repo, "commit", "-q", "-m", "initial"], env=env)
    assert len(w.run(git + ["-C", repo, "log", "--oneline"], env=env).stdout.splitlines()) == 1
    w.run(git + ["-C", repo, "fsck", "--full", "--strict"], env=env)
    # The oracle: the repository as the server stores it.
    sgit = git + ["-c", "safe.directory=*", "--no-optional-locks", "-C", w.sdir / "repo"]
    run(sgit + ["fsck", "--full", "--strict"], env=env)
    tracked = run(sgit + ["ls-files"], env=env).stdout.split()
    assert sorted(tracked) == sorted(str(p.relative_to(src)) for p in src.rglob("*")
                                     if p.is_file())
    assert run(sgit + ["status", "--porcelain"], env=env).stdout == ""


# --- disk full ---------------------------------------------------------------------------------

@pytest.fixture
def small_fs(roots_base, test_user):
    """An 8 MiB tmpfs (owned by the test user) to serve as a server root: a full disk."""
    d = Path(tempfile.mkdtemp(dir=roots_base, prefix="tmpfs-"))
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m,mode=0755", "tmpfs", str(d)],
                         capture_output=True, text=True, timeout=30)
    if res.returncode != 0:
        d.rmdir()
        pytest.skip(f"mounting a tmpfs is not permitted here ({res.stderr.strip()}): "
                    "no small filesystem for the disk-full tests")
    os.chown(d, test_user.uid, test_user.gid)
    yield d
    subprocess.run(["umount", "-l", str(d)], capture_output=True, timeout=30)
    d.rmdir()


@pytest.fixture
def full_disk(small_fs, ftp_server, workspace):
    """Factory: full_disk(*mount options) -> mounted Workspace on a vsftpd whose root is the
    8 MiB tmpfs."""
    def make(*options):
        ws = workspace(ftp_server("vsftpd", root=small_fs))
        ws.mount(*options)
        return ws
    return make


@pytest.fixture
def big_source(tmp_path):
    """A local 20 MiB file: more than the small filesystem holds."""
    path = tmp_path / "20mib.bin"
    path.write_bytes(random_bytes(20 * MIB, "too-big"))
    return path


def test_disk_full_fails_the_writer_at_write_or_close(full_disk, big_source):
    ws = full_disk()
    r = write_file(ws.mnt / "big.bin", source=big_source)
    assert r.errno in DISK_FULL_ERRNOS, f"{r.errname} at {r.stage}: the upload can't fit"
    assert r.stage in ("write", "close")


def test_disk_full_with_interleaved_writers_never_reports_lost_data(full_disk):
    # One transfer connection (max_conns=2) for three writers taking turns: uploads are ended
    # and continued with APPE in between, and the 8 MiB disk fills up on the way. Whatever
    # each program was told must be true: a file whose writes and close all succeeded is
    # complete on the server (the small one should be); the others got an error.
    ws = full_disk("max_conns=2")
    sizes = {"small.bin": 1 * MIB, "big1.bin": 5 * MIB, "big2.bin": 5 * MIB}
    r = pycall("""
        data = {n: random.Random(n).randbytes(size) for n, size in sizes.items()}
        fds = {n: os.open(os.path.join(d, n), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
               for n in sizes}
        errs = {}
        for off in range(0, max(sizes.values()), chunk):
            for n in sizes:
                if n not in errs and off < sizes[n]:
                    try:
                        os.write(fds[n], data[n][off:off + chunk])
                    except OSError as e:
                        errs[n] = ["write", e.errno]
        for n, fd in fds.items():
            try:
                os.close(fd)
            except OSError as e:
                errs.setdefault(n, ["close", e.errno])
        result = errs
    """, d=ws.mnt, sizes=sizes, chunk=256 * 1024)
    expect_ok(r, "interleaved writes")
    assert r.result, "11 MiB can't fit on an 8 MiB disk: some writer must get an error"
    for name, (stage, err) in r.result.items():
        assert err in DISK_FULL_ERRNOS, f"{name}: {errno.errorcode.get(err)} at {stage}"
    for name, size in sizes.items():
        if name not in r.result:
            want = random_bytes(size, name)
            assert sha256((ws.sdir / name).read_bytes()) == sha256(want), name
    assert "small.bin" not in r.result


def _overwrite_on_full_disk(full_disk, big_source, tmp_path):
    """With atomic_upload: a 1 MiB file uploaded, then overwritten with 20 MiB (which fails).
    Returns (workspace, old content)."""
    ws = full_disk("atomic_upload")
    old = random_bytes(MIB, "old-content")
    (tmp_path / "old.bin").write_bytes(old)
    expect_ok(write_file(ws.mnt / "f.bin", source=tmp_path / "old.bin"), "1 MiB upload")
    r = write_file(ws.mnt / "f.bin", source=big_source)
    assert r.errno in DISK_FULL_ERRNOS, f"{r.errname} at {r.stage}: the upload can't fit"
    return ws, old


def test_disk_full_atomic_upload_keeps_previous_content(full_disk, big_source, tmp_path):
    ws, old = _overwrite_on_full_disk(full_disk, big_source, tmp_path)
    assert sha256_file(ws.sdir / "f.bin") == sha256(old)


def test_disk_full_atomic_upload_leaves_no_temporary_file(full_disk, big_source, tmp_path):
    ws, _ = _overwrite_on_full_disk(full_disk, big_source, tmp_path)
    # The failed upload's hidden temporary file must be deleted (a moment's grace for it).
    assert wait_for(lambda: os.listdir(ws.sdir) == ["f.bin"], timeout=3), os.listdir(ws.sdir)


def test_disk_full_atomic_upload_mount_still_reads_previous_content(full_disk, big_source,
                                                                     tmp_path):
    ws, old = _overwrite_on_full_disk(full_disk, big_source, tmp_path)
    r = read_file(ws.mnt / "f.bin")
    expect_ok(r, "read after the failed upload")
    assert r.result["size"] == len(old)
    assert r.result["sha256"] == sha256(old)


# --- server killed during an upload -------------------------------------------------------------

KILL_TIMEOUT = 5  # ftpsfs -o timeout and connect_timeout for these tests, seconds

SLOW_WRITER = """
    # A new file written in 64 KiB chunks with small pauses, until `stop_flag` exists or an
    # error; touches `started_flag` once the upload is under way.
    chunk = bytes(range(256)) * 256
    stage = "open"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    stage = "write"
    result = 0
    for i in range(max_chunks):
        if os.path.exists(stop_flag):
            break
        view = memoryview(chunk)
        while view:
            view = view[os.write(fd, view):]
        result += len(chunk)
        if i == 16:
            open(started_flag, "w").close()
        time.sleep(pause)
    stage = "close"
    os.close(fd)
    stage = "done"
"""


def _kill_server_during_upload(srv, ws, tmp_path):
    """Start a slow writer into the mount, kill the server while it writes, let the writer
    finish (it stops writing 2 s after the kill and closes). Returns (outcome, t_kill)."""
    started, stop = tmp_path / "started", tmp_path / "stop"
    writer = pystart(SLOW_WRITER, path=ws.mnt / "upload.bin", started_flag=started,
                     stop_flag=stop, max_chunks=4000, pause=0.01)
    try:
        wait_for(lambda: started.exists() or writer.proc.poll() is not None, timeout=30)
        if not started.exists():
            r = writer.finish(timeout=10)
            pytest.fail(f"the writer did not get going before the kill: {r.errname} at "
                        f"{r.stage}: {r.error}")
        # The upload streams: wait (briefly) until the server has some of it.
        wait_for(lambda: (ws.sdir / "upload.bin").exists()
                 and (ws.sdir / "upload.bin").stat().st_size > 0, timeout=5)
        srv.stop()
        t_kill = time.monotonic()
        time.sleep(2)
        stop.touch()
        outcome = writer.finish(timeout=KILL_TIMEOUT * 4 + 30)
    finally:
        writer.kill()
    return outcome, t_kill


@pytest.fixture
def upload_killed(ftp_server, workspace, tmp_path):
    """-> (server, workspace, writer outcome, kill time) after _kill_server_during_upload; the
    mount uses timeout=connect_timeout=op_timeout=KILL_TIMEOUT: the server stays away longer
    than an operation waits for it (test_outage.py: when it comes back in time)."""
    def make():
        srv = ftp_server("vsftpd")
        ws = workspace(srv)
        ws.mount(f"timeout={KILL_TIMEOUT}", f"connect_timeout={KILL_TIMEOUT}",
                 f"op_timeout={KILL_TIMEOUT}")
        outcome, t_kill = _kill_server_during_upload(srv, ws, tmp_path)
        return srv, ws, outcome, t_kill
    return make


def test_server_killed_mid_upload_fails_the_writer_in_bounded_time(upload_killed):
    _, _, r, t_kill = upload_killed()
    assert r.errno is not None, "the upload reported success although the server died in it"
    assert r.stage in ("write", "close"), f"{r.errname} at {r.stage}"
    # Waiting for the server (op_timeout), then one reply's timeout at most.
    assert r.t_end - t_kill < 2 * KILL_TIMEOUT + 10, f"error only {r.t_end - t_kill:.1f}s after"


def test_mount_answers_while_server_is_down(upload_killed):
    _, ws, _, _ = upload_killed()
    # A listing must return (the cached names, or an error) within op_timeout, not hang.
    pycall("result = sorted(os.listdir(d))", timeout=2 * KILL_TIMEOUT + 10, d=ws.mnt)
    assert ws.m.proc.poll() is None, "ftpsfs exited:\n" + ws.m.log_text()[-3000:]
    assert is_fuse_mounted(ws.mnt)


def test_write_after_server_restart_succeeds(upload_killed):
    srv, ws, _, _ = upload_killed()
    port = srv.port
    srv.start()  # the same root, on the same port (servers.py keeps it across restarts)
    assert srv.port == port
    r = write_file(ws.mnt / "after.txt", data=b"written after the restart\n", timeout=60)
    expect_ok(r, "write after the server came back")
    assert (ws.sdir / "after.txt").read_bytes() == b"written after the restart\n"


def test_directory_time_on_vsftpd_is_eperm_by_default(w):
    """No fake success: a directory time the server cannot store is refused."""
    w.put("d/x", b"x")
    mnt = w.mount("strict_dir_times")
    with pytest.raises(PermissionError):
        os.utime(mnt / "d", (1600000000, 1600000000))
    os.utime(mnt / "d" / "x", (1600000000, 1600000000))  # files work
    assert int((w.sdir / "d" / "x").stat().st_mtime) == 1600000000
