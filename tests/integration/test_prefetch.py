"""Listings fetched ahead (fs_prefetch.c) are a guess, and a wrong guess must be cheap: listing
one directory fetches none of its subdirectories; once a walk is under way (a directory opened
whose parent was opened just before) its subdirectories are listed ahead, but none bigger than
the budget of entries (20,000), which is read and dropped, not cached."""

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from writehelpers import mount_stats  # noqa: E402

AHEAD_ENTRIES = 20000  # PF_AHEAD_ENTRIES in src/fs/fs_prefetch.c


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
    assert sorted(os.listdir(data)) == ["a", "b", "c"]
    time.sleep(2)  # what the workers would have done by now
    s = mount_stats(m.mountpoint)
    assert s["cached_listings"] == 2, s  # the root's and data's

    # A walk: data/a opened right after data.  Its subdirectories are listed ahead; the big
    # one is read and dropped, not cached.
    assert sorted(os.listdir(data / "a")) == ["big", "file.txt", "sub1", "sub2"]
    s = wait_stats(m.mountpoint, lambda s: s["cached_listings"] >= 5 and
                   s["connections_busy"] == 0)
    assert s["cached_listings"] == 5, s  # root, data, a, sub1, sub2: not big
    # The walk goes on: sub1 and sub2 come from the cache, big costs a listing now.
    trips = s["op_readdir_round_trips"]
    assert os.listdir(data / "a" / "sub1") == ["f"]
    assert os.listdir(data / "a" / "sub2") == ["f"]
    assert mount_stats(m.mountpoint)["op_readdir_round_trips"] == trips
    assert len(os.listdir(data / "a" / "big")) == AHEAD_ENTRIES + 1
    assert mount_stats(m.mountpoint)["op_readdir_round_trips"] > trips
