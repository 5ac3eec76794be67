"""Read-ahead across files (src/fs/fs_readahead.c) against real servers.

A reader that opens a directory's files one after another (cat *, grep -r, tar c) has the
next few small files fetched ahead on idle connections and served from memory.  What these
tests hold it to:
- the bytes read are always exactly one version of a file, never a mix;
- a fetched copy is served only while the file's cached attributes (size and mtime) are the
  ones its listing gave when the fetch was decided: like the kernel's page cache, it is what
  the cached attributes promise.  Once they change (a refresh), the server's new content is
  read instead;
- a local write always wins over a fetched copy;
- nothing is fetched unless the opens follow the directory's order (listing or sorted names).
The oracle is the server's own directory.  Statistics: user.ftpsfs.stats.
"""

import os
import random
import signal
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from writehelpers import mount_stats, pycall, wait_for  # noqa: E402

NFILES = 20
LONG_CACHE = ["attr_timeout=600", "dir_timeout=600"]

# Read `names` of directory `d` one after another (open, read whole, close, sleep `pause`
# seconds): hex of each.
READ_IN_ORDER = """
    out = []
    for n in names:
        stage = n
        with open(os.path.join(d, n), "rb") as f:
            out.append(f.read().hex())
        time.sleep(pause)
    result = out
"""
# On loopback a reader that does nothing with the bytes can catch up with the fetches ahead
# (then it reads the files itself, as it should): a little work per file, as a checksum or a
# grep does, lets the background win.
WORK_PER_FILE = 0.02



def put_files(srv, count=NFILES, size=None, seed=1):
    """Files d/f00.. with random content (sizes 1..20000 unless `size`): {name: bytes}."""
    rnd = random.Random(seed)
    files = {}
    for i in range(count):
        data = rnd.randbytes(size if size is not None else rnd.randint(1, 20000))
        files[f"f{i:02d}"] = data
        srv.put(f"d/f{i:02d}", data)
    return files


def listing_order(mnt):
    """The directory's names in the order the mount lists them."""
    r = pycall("result = os.listdir(d)", timeout=30, d=mnt / "d")
    assert r.errno is None, r.error
    return r.result


def read_in_order(mnt, names, pause=0):
    r = pycall(READ_IN_ORDER, timeout=60, d=mnt / "d", names=names, pause=pause)
    assert r.errno is None, f"reading {r.stage}: {r.error}"
    return [bytes.fromhex(h) for h in r.result]


def wait_fetched(mnt, count, timeout=15):
    """Wait until `count` files were fetched ahead; returns the statistics."""
    s = wait_for(lambda: (st := mount_stats(mnt))["readahead_files"] >= count and st, timeout,
                 interval=0.1)
    assert s, f"fewer than {count} files fetched ahead: {mount_stats(mnt)}"
    return s


@pytest.mark.parametrize("kind", ["vsftpd", "proftpd"])
def test_files_read_in_listing_order_are_served_from_memory(ftp_server, mounted, kind):
    srv = ftp_server(kind)
    files = put_files(srv)
    m = mounted(srv)
    names = listing_order(m.mountpoint)
    assert sorted(names) == sorted(files)
    got = read_in_order(m.mountpoint, names, pause=WORK_PER_FILE)
    for name, data in zip(names, got):
        assert data == files[name], f"{name}: wrong bytes"
    s = mount_stats(m.mountpoint)
    assert s["readahead_files"] > 0, s
    assert s["readahead_used"] > 0, s


def test_files_read_in_sorted_order_are_served_from_memory(ftp_server, mounted):
    srv = ftp_server("vsftpd")
    files = put_files(srv, seed=2)
    m = mounted(srv)
    listing_order(m.mountpoint)  # like a shell glob: list, then open sorted
    names = sorted(files)
    assert read_in_order(m.mountpoint, names, pause=WORK_PER_FILE) == [files[n] for n in names]
    assert mount_stats(m.mountpoint)["readahead_used"] > 0


def test_no_readahead_fetches_nothing(ftp_server, mounted):
    srv = ftp_server("vsftpd")
    files = put_files(srv, seed=3)
    m = mounted(srv, options=["no_readahead"])
    names = listing_order(m.mountpoint)
    assert read_in_order(m.mountpoint, names) == [files[n] for n in names]
    s = mount_stats(m.mountpoint)
    assert (s["readahead_files"], s["readahead_used"], s["readahead_wasted_bytes"]) == (0, 0, 0)


def _fetch_ahead(srv, mounted, **kw):
    """Mount with long caches, open the first two files in listing order (the pattern) and
    wait until all the others (RA_WINDOW of them) are fetched ahead: a test that changes one
    on the server must know its copy was fetched before (waiting for only some let a busy
    machine fetch the changed file after the change).  Returns (mount, files, names)."""
    files = put_files(srv, count=10, **kw)
    m = mounted(srv, options=LONG_CACHE)
    names = listing_order(m.mountpoint)
    assert read_in_order(m.mountpoint, names[:2]) == [files[n] for n in names[:2]]
    wait_fetched(m.mountpoint, len(names) - 2, timeout=30)
    return m, files, names


def _change_on_server(srv, name, data):
    path = srv.root_dir / "d" / name
    path.write_bytes(data)
    t = time.time() + 3600  # a different mtime, whatever the clock's resolution
    os.utime(path, (t, t))


# Like READ_IN_ORDER, with the attributes each file showed once read: [hex, mtime, size].
READ_WITH_MTIME = """
    out = []
    for n in names:
        stage = n
        with open(os.path.join(d, n), "rb") as f:
            data = f.read().hex()
            st = os.fstat(f.fileno())
            out.append([data, st.st_mtime, st.st_size])
    result = out
"""


def test_change_on_server_is_read_whole_as_the_attributes_say(ftp_server, mounted):
    """Files changed on the server after they were fetched ahead, one to the same size, one to
    another size, their listing still cached.  Each read gives one version whole: the
    fetched (old) one while the file's attributes show the old mtime - what the cached
    attributes promise - and the new one once they show the new mtime (vsftpd: asking the
    exact times with MDTM may learn it), cut at the size they show (the read path without
    read-ahead: the kernel reads up to the size it knows)."""
    srv = ftp_server("vsftpd")
    m, files, names = _fetch_ahead(srv, mounted, size=3000)
    old_mtime = (srv.root_dir / "d" / names[3]).stat().st_mtime
    new = {names[3]: b"N" * 3000, names[4]: b"M" * 5000}
    for name, data in new.items():
        _change_on_server(srv, name, data)
    used = mount_stats(m.mountpoint)["readahead_used"]
    r = pycall(READ_WITH_MTIME, timeout=60, d=m.mountpoint / "d", names=names[2:5])
    assert r.errno is None, f"reading {r.stage}: {r.error}"
    served_old = 0
    for name, (data, mtime, size) in zip(names[2:5], r.result):
        data = bytes.fromhex(data)
        if mtime < old_mtime + 1800:
            assert data == files[name], f"{name}: not the version its attributes show"
            served_old += 1
        else:
            assert data == new[name][:size], f"{name}: not the version its attributes show"
    assert served_old >= 2  # names[2] was not changed
    assert mount_stats(m.mountpoint)["readahead_used"] >= used + served_old


def test_change_seen_in_attributes_reads_the_new_version(ftp_server, mounted):
    srv = ftp_server("vsftpd")
    m, files, names = _fetch_ahead(srv, mounted, size=3000)
    same_size, other_size = names[3], names[4]
    _change_on_server(srv, same_size, b"N" * 3000)
    _change_on_server(srv, other_size, b"M" * 5000)
    m.proc.send_signal(signal.SIGUSR1)  # forget the cached attributes and listings

    def sizes_seen():
        r = pycall("result = [os.stat(os.path.join(d, n)).st_mtime for n in ns]",
                   timeout=30, d=m.mountpoint / "d", ns=[same_size, other_size])
        return r.errno is None and all(t > time.time() + 1800 for t in r.result)

    assert wait_for(sizes_seen, 15, interval=0.2), "the refresh did not show the new mtimes"
    got = read_in_order(m.mountpoint, [same_size, other_size])
    # The mtime (and the size) disagree with the fetched copies: the new content, by RETR.
    assert got == [b"N" * 3000, b"M" * 5000]


# Write `data` over the start of d/name while it stays open, read it through another
# descriptor, close, read it again: [read while open, read after close] as hex.
WRITE_THEN_READ = """
    p = os.path.join(d, name)
    fd = os.open(p, os.O_RDWR)
    os.pwrite(fd, data.encode(), 0)
    with open(p, "rb") as f:
        during = f.read().hex()
    os.close(fd)
    with open(p, "rb") as f:
        after = f.read().hex()
    result = [during, after]
"""


def test_local_write_wins_over_a_fetched_copy(ftp_server, mounted):
    srv = ftp_server("vsftpd")
    m, files, names = _fetch_ahead(srv, mounted, size=3000)
    name = names[2]
    r = pycall(WRITE_THEN_READ, timeout=60, d=m.mountpoint / "d", name=name, data="LOCAL")
    assert r.errno is None, f"{r.stage}: {r.error}"
    expect = b"LOCAL" + files[name][5:]
    assert [bytes.fromhex(h) for h in r.result] == [expect, expect]
    assert (srv.root_dir / "d" / name).read_bytes() == expect


def test_write_while_fetching_never_serves_the_fetched_bytes(ftp_server, mounted):
    """The write comes right after the pattern, while the fetches may be under way."""
    srv = ftp_server("vsftpd")
    files = put_files(srv, count=10, size=100000, seed=5)
    m = mounted(srv, options=LONG_CACHE)
    names = listing_order(m.mountpoint)
    code = READ_IN_ORDER.replace("result = out", "") + WRITE_THEN_READ + """
    result = [out, result]
"""
    r = pycall(code, timeout=60, d=m.mountpoint / "d", names=names[:2], name=names[3],
               data="LOCAL", pause=0)
    assert r.errno is None, f"{r.stage}: {r.error}"
    expect = b"LOCAL" + files[names[3]][5:]
    assert [bytes.fromhex(h) for h in r.result[1]] == [expect, expect]
    # and the files after it are still exact
    assert read_in_order(m.mountpoint, names[4:]) == [files[n] for n in names[4:]]


def _shuffled_without_successors(names, seed):
    """`names` shuffled so that no open is the next name of the previous one, neither in
    listing order nor sorted."""
    by_listing = {a: b for a, b in zip(names, names[1:])}
    s = sorted(names)
    by_name = {a: b for a, b in zip(s, s[1:])}
    rnd = random.Random(seed)
    while True:
        order = names[:]
        rnd.shuffle(order)
        if all(by_listing.get(a) != b and by_name.get(a) != b for a, b in zip(order, order[1:])):
            return order


def test_random_order_fetches_nothing_ahead(ftp_server, mounted):
    srv = ftp_server("vsftpd")
    files = put_files(srv, seed=4)
    m = mounted(srv)
    names = listing_order(m.mountpoint)
    order = _shuffled_without_successors(names, seed=7)
    assert read_in_order(m.mountpoint, order) == [files[n] for n in order]
    s = mount_stats(m.mountpoint)
    assert (s["readahead_files"], s["readahead_used"]) == (0, 0), s


def test_rename_over_a_fetched_file_reads_the_renamed_content(ftp_server, mounted):
    """All files have the same size and (LIST) time: only the rename's drop tells the fetched
    copy of the replaced name from the file now under it."""
    srv = ftp_server("vsftpd")
    m, files, names = _fetch_ahead(srv, mounted, size=3000)
    target, source = names[2], names[5]
    r = pycall("os.rename(os.path.join(d, a), os.path.join(d, b))", timeout=30,
               d=m.mountpoint / "d", a=source, b=target)
    assert r.errno is None, r.error
    assert read_in_order(m.mountpoint, [target]) == [files[source]]


def test_unlink_and_create_over_a_fetched_file_reads_the_new_content(ftp_server, mounted):
    srv = ftp_server("vsftpd")
    m, files, names = _fetch_ahead(srv, mounted, size=3000)
    name = names[3]
    code = """
        p = os.path.join(d, name)
        os.unlink(p)
        with open(p, "wb") as f:
            f.write(b"Z" * 3000)
    """
    r = pycall(code, timeout=30, d=m.mountpoint / "d", name=name)
    assert r.errno is None, r.error
    assert read_in_order(m.mountpoint, names[2:5]) == [files[names[2]], b"Z" * 3000,
                                                        files[names[4]]]
