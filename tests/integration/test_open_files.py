"""Files that are open while things happen to them: a file exists from create() on, whatever the
cache timeouts; metadata changes never cost pending data; link counts tell the truth.

Every access to the mount runs in a child process with a time limit (writehelpers.pycall); the
oracle is the server's directory read directly.
"""

import os
import stat
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from workspace import expect_ok, on_all_servers, server_perm  # noqa: E402
from writehelpers import pycall, run  # noqa: E402

# Caches that expire at once: every question goes to the server.
NO_CACHE = ("attr_timeout=0", "dir_timeout=0", "negative_timeout=0")


_NEW_FILE_WHILE_OPEN = """
    p = os.path.join(d, "new.txt")
    stage = "create"
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    seen = []
    stage = "fstat"
    seen.append(os.fstat(fd).st_size)
    stage = "stat"
    seen.append(os.stat(p).st_size)
    stage = "listdir"
    seen.append(sorted(os.listdir(d)))
    stage = "pwrite"
    os.pwrite(fd, b"world", 6)  # out of order: into the spool, nothing uploaded yet
    time.sleep(1.2)
    stage = "fstat after a pause"
    seen.append(os.fstat(fd).st_size)
    stage = "stat after a pause"
    seen.append(os.stat(p).st_size)
    seen.append(sorted(os.listdir(d)))
    stage = "close"
    os.close(fd)
    result = seen
"""


@on_all_servers
def test_new_file_exists_while_open_whatever_the_timeouts(w):
    mnt = w.mount(*NO_CACHE)
    r = pycall(_NEW_FILE_WHILE_OPEN, d=str(mnt))
    expect_ok(r, "a new file open for writing")
    assert r.result == [0, 0, ["new.txt"], 11, 11, ["new.txt"]]
    assert (w.sdir / "new.txt").read_bytes() == b"\0" * 6 + b"world"


def test_new_file_unlinked_before_upload_never_reaches_the_server(w):
    mnt = w.mount(*NO_CACHE)
    r = pycall("""
        p = os.path.join(d, "gone.txt")
        fd = os.open(p, os.O_WRONLY | os.O_CREAT, 0o644)
        os.pwrite(fd, b"data", 10)
        time.sleep(0.5)
        stage = "unlink"
        os.unlink(p)
        stage = "fstat"
        st = os.fstat(fd)
        os.pwrite(fd, b"more", 0)
        stage = "close"
        os.close(fd)
        result = [st.st_nlink, sorted(os.listdir(d))]
    """, d=str(mnt))
    expect_ok(r, "unlink of a new file")
    assert r.result == [0, []]
    assert not (w.sdir / "gone.txt").exists()


def test_cp_install_and_cp_p_without_caches(w, tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(300_000))
    os.chmod(src, 0o640)
    os.utime(src, (1600000000, 1600000000))
    mnt = w.mount(*NO_CACHE)
    w.run(["cp", src, mnt / "cp.bin"])
    w.run(["cp", "-p", src, mnt / "cp-p.bin"])
    w.run(["install", "-m", "0755", src, mnt / "install.bin"])
    for name in ("cp.bin", "cp-p.bin", "install.bin"):
        assert (w.sdir / name).read_bytes() == src.read_bytes(), name
    assert server_perm(w.sdir / "install.bin") == "0o755"
    assert server_perm(w.sdir / "cp-p.bin") == "0o640"
    assert int((w.sdir / "cp-p.bin").stat().st_mtime) == 1600000000


_FCHMOD_READ_ONLY = """
    import stat
    fd = os.open(p, flags)
    stage = "fchmod"
    os.fchmod(fd, 0o400)
    stage = "ftruncate"
    os.ftruncate(fd, 3)
    stage = "pwrite"
    os.pwrite(fd, b"new", 0)
    stage = "close"
    os.close(fd)
    result = oct(stat.S_IMODE(os.stat(p).st_mode))
"""


@on_all_servers
def test_fchmod_read_only_while_writing_keeps_the_data(w):
    w.put("f.txt", b"old content\n", perm=0o644)
    mnt = w.mount()
    r = pycall(_FCHMOD_READ_ONLY, p=str(mnt / "f.txt"), flags=os.O_WRONLY)
    expect_ok(r, "writing after fchmod 0400")
    assert r.result == "0o400"
    assert (w.sdir / "f.txt").read_bytes() == b"new"
    assert server_perm(w.sdir / "f.txt") == "0o400"


def test_fchmod_read_only_on_a_new_file_keeps_the_data(w):
    mnt = w.mount()
    r = pycall(_FCHMOD_READ_ONLY, p=str(mnt / "n.txt"),
               flags=os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    expect_ok(r, "writing a new file after fchmod 0400")
    assert (w.sdir / "n.txt").read_bytes() == b"new"
    assert server_perm(w.sdir / "n.txt") == "0o400"


def test_chmod_back_to_writable_before_close_wins(w):
    w.put("f.txt", b"x", perm=0o644)
    mnt = w.mount()
    r = pycall("""
        import stat
        fd = os.open(p, os.O_WRONLY)
        os.fchmod(fd, 0o400)
        os.write(fd, b"y")
        os.fchmod(fd, 0o664)
        os.close(fd)
    """, p=str(mnt / "f.txt"))
    expect_ok(r, "fchmod there and back")
    assert server_perm(w.sdir / "f.txt") == "0o664"
    assert (w.sdir / "f.txt").read_bytes() == b"y"


def test_unlinked_open_files_show_no_links(w):
    w.put("r.txt", b"read me")
    w.put("w.txt", b"write me")
    mnt = w.mount()
    r = pycall("""
        fr = os.open(os.path.join(d, "r.txt"), os.O_RDONLY)
        fw = os.open(os.path.join(d, "w.txt"), os.O_WRONLY)
        os.write(fw, b"W")
        os.unlink(os.path.join(d, "r.txt"))
        os.unlink(os.path.join(d, "w.txt"))
        result = [os.fstat(fr).st_nlink, os.fstat(fw).st_nlink]
        os.close(fr)
        os.close(fw)
    """, d=str(mnt))
    expect_ok(r, "fstat after unlink")
    assert r.result == [0, 0]
    assert not (w.sdir / "w.txt").exists()


def _nlink(p):
    return pycall("result = os.stat(p).st_nlink", p=str(p)).result


def test_directory_link_counts_follow_subdirectories(w):
    w.put("d/a/x", b"x")
    w.put("d/b/x", b"x")
    w.put("d/file", b"f")
    w.put("e/file", b"f")
    mnt = w.mount()
    run(["ls", "-l", mnt / "d", mnt / "e"])
    assert _nlink(mnt / "d") == 4  # ., .. and two subdirectories
    assert _nlink(mnt / "e") == 2
    os.mkdir(mnt / "d" / "c")
    assert _nlink(mnt / "d") == 5
    os.rename(mnt / "d" / "c", mnt / "e" / "c")
    assert (_nlink(mnt / "d"), _nlink(mnt / "e")) == (4, 3)
    os.rmdir(mnt / "e" / "c")
    assert _nlink(mnt / "e") == 2
    # and what a fresh mount reads from the server agrees
    assert stat.S_ISDIR(os.stat(w.sdir / "d").st_mode)
