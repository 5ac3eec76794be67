"""Listings fetched ahead (fs_prefetch.c) are a guess, and a wrong guess must be cheap: listing
one directory fetches none of its subdirectories; once a walk is under way (a directory opened
whose parent was opened just before) its subdirectories are listed ahead, and the next few of
its siblings (a window of 8 in the walk's order, several at once), but none bigger than the
budget of entries (20,000), which is read and dropped, not cached."""

import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from conftest import require_ftpsfs_binary as require_binary  # noqa: E402
from mount import Mount  # noqa: E402
from tcpproxy import PROXY_HOST, Proxy  # noqa: E402
from writehelpers import mount_stats  # noqa: E402

AHEAD_ENTRIES = 20000  # PF_AHEAD_ENTRIES in src/fs/fs_prefetch.c
SIBLINGS_AHEAD = 8  # PF_SIBLINGS_AHEAD in src/fs/fs_prefetch.c
LIST_WORKERS = 3  # PFQ_LIST_WORKERS in include/ftpsfs/prefetch_queue.h


def wait_stats(mnt, pred, timeout=20):
    """Statistics once `pred` holds for them (the workers run in the background); the last
    ones seen when it never does."""
    deadline = time.monotonic() + timeout
    while True:
        s = mount_stats(mnt)
        if pred(s) or time.monotonic() > deadline:
            return s
        time.sleep(0.2)


def test_fetching_ahead_waits_for_a_walk_and_skips_big_directories(ftp_server, mounted):
    srv = ftp_server("vsftpd")
    for d in ("a", "b", "c"):
        srv.put(f"data/{d}/file.txt", b"x")
    srv.put("data/a/sub1/f", b"1")
    srv.put("data/a/sub2/f", b"2")
    big = srv.root_dir / "data" / "a" / "big"
    srv.put("data/a/big/f00000", b"")
    for i in range(1, AHEAD_ENTRIES + 1):
        (big / f"f{i:05d}").touch()
    m = mounted(srv, ["dir_timeout=3600", "attr_timeout=3600"])
    data = m.mountpoint / "data"

    # One directory listed alone: its three subdirectories are not listed ahead.
    os.stat(data)
    assert os.listdir(data) == ["a", "b", "c"]  # vsftpd sorts: b and c follow a
    time.sleep(2)  # what the workers would have done by now
    s = mount_stats(m.mountpoint)
    assert s["cached_listings"] == 2, s  # the root's and data's

    # A walk: data/a opened right after data.  Its subdirectories are listed ahead, and its
    # siblings that follow it; the big one is read and dropped, not cached.
    assert sorted(os.listdir(data / "a")) == ["big", "file.txt", "sub1", "sub2"]
    s = wait_stats(m.mountpoint, lambda s: s["cached_listings"] >= 7 and
                   s["connections_busy"] == 0)
    assert s["cached_listings"] == 7, s  # root, data, a, b, c, sub1, sub2: not big
    # The walk goes on: sub1 and sub2 come from the cache, big costs a listing now.
    trips = s["op_readdir_round_trips"]
    assert os.listdir(data / "a" / "sub1") == ["f"]
    assert os.listdir(data / "a" / "sub2") == ["f"]
    assert mount_stats(m.mountpoint)["op_readdir_round_trips"] == trips
    assert len(os.listdir(data / "a" / "big")) == AHEAD_ENTRIES + 1
    assert mount_stats(m.mountpoint)["op_readdir_round_trips"] > trips


def make_tree(srv, n):
    """tree/s00 .. tree/s{n-1}, a file in each; their names in the listing's order."""
    names = [f"s{i:02d}" for i in range(n)]
    for d in names:
        srv.put(f"tree/{d}/f", d.encode())
    return names


def test_a_walk_lists_the_next_siblings_ahead_in_a_window(ftp_server, mounted):
    srv = ftp_server("vsftpd")
    names = make_tree(srv, SIBLINGS_AHEAD + 4)
    m = mounted(srv, ["dir_timeout=3600", "attr_timeout=3600"])
    tree = m.mountpoint / "tree"
    assert os.listdir(tree) == names  # find's order: vsftpd sorts
    # The walk goes down into the first: the next SIBLINGS_AHEAD are listed ahead, no more
    # (root, tree, s00 and the window).
    assert os.listdir(tree / names[0]) == ["f"]
    want = 3 + SIBLINGS_AHEAD
    s = wait_stats(m.mountpoint, lambda s: s["cached_listings"] >= want and
                   s["connections_busy"] == 0)
    assert s["cached_listings"] == want, s
    time.sleep(1)  # nothing more comes
    assert mount_stats(m.mountpoint)["cached_listings"] == want
    # The walk finds them in the cache, and the window moves with it.
    trips = s["op_readdir_round_trips"]
    for d in names[1:SIBLINGS_AHEAD + 1]:
        assert os.listdir(tree / d) == ["f"]
    assert mount_stats(m.mountpoint)["op_readdir_round_trips"] == trips
    s = wait_stats(m.mountpoint, lambda s: s["cached_listings"] >= 2 + len(names) and
                   s["connections_busy"] == 0)
    trips = s["op_readdir_round_trips"]
    for d in names[SIBLINGS_AHEAD + 1:]:
        assert os.listdir(tree / d) == ["f"]
    assert mount_stats(m.mountpoint)["op_readdir_round_trips"] == trips


def test_a_walk_fetches_several_listings_at_once(ftp_server, certs, test_user, tmp_path):
    """With the proxy holding every data connection's download, the listings the walk's
    workers started all wait at once: the data connections open at the proxy count them."""
    srv = ftp_server("vsftpd")
    names = make_tree(srv, SIBLINGS_AHEAD + 1)
    px = Proxy(srv.port, srv.pasv_range).start()
    url = srv.url("/").replace("127.0.0.1", PROXY_HOST)
    m = Mount(require_binary(), url, tmp_path / "mnt", test_user.password,
              options=["dir_timeout=3600", "attr_timeout=3600", "timeout=30"],
              cafile=certs.ca_file).start()
    try:
        tree = m.mountpoint / "tree"
        assert os.listdir(tree) == names
        px.stall_data.set()
        # The walk's own listing of s00 waits too, in the background.
        reader = threading.Thread(target=lambda: os.listdir(tree / names[0]), daemon=True)
        reader.start()
        deadline = time.monotonic() + 20
        most = 0
        while time.monotonic() < deadline and most < 1 + LIST_WORKERS:
            most = max(most, len(px.links("data")))
            time.sleep(0.1)
        px.stall_data.clear()
        reader.join(30)
        assert not reader.is_alive()
        # The walk's own, and at least two ahead (as many as the workers may run once the
        # pool has logged in enough spares).
        assert most >= 3, most
        for d in names:
            assert os.listdir(tree / d) == ["f"]
    finally:
        px.stall_data.clear()
        m.stop()
        px.stop()
