"""ftpsfs --stats MOUNTPOINT [SECONDS]: a vmstat-like view of a running mount, read from its
statistics attribute."""

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from writehelpers import MIB, pycall, wait_for  # noqa: E402

HEADER = ["ops/s", "in/s", "out/s", "rtt/s", "busy", "idle", "retry", "error", "upl",
          "state"]


def _start_view(ftpsfs_bin, mnt, interval="0.5"):
    return subprocess.Popen([str(ftpsfs_bin), "--stats", str(mnt), interval],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _rows(out):
    """The data lines of the output, as lists of columns (headers left out)."""
    return [line.split() for line in out.splitlines() if line.split() and
            line.split() != HEADER]


def _bytes(text):
    units = {"k": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    return float(text[:-1]) * units[text[-1]] if text[-1] in units else float(text)


def test_stats_shows_rates_and_ends_on_sigint(ftp_server, mounted, ftpsfs_bin):
    srv = ftp_server("vsftpd")
    srv.put("big", b"z" * (4 * MIB))
    m = mounted(srv)
    view = _start_view(ftpsfs_bin, m.mountpoint)
    try:
        time.sleep(0.8)
        r = pycall("result = len(open(p, 'rb').read())", p=m.mountpoint / "big")
        assert r.result == 4 * MIB
        time.sleep(1.2)
        view.send_signal(signal.SIGINT)
        out, err = view.communicate(timeout=10)
    finally:
        if view.poll() is None:
            view.kill()
    assert view.returncode == 0, err
    lines = out.splitlines()
    assert lines[0].split() == HEADER
    rows = _rows(out)
    assert len(rows) >= 2, out
    assert all(len(row) == len(HEADER) and row[-1] == "up" for row in rows), out
    # The 4 MiB read shows as bytes in, over the intervals it spanned: rates x 0.5 s add
    # up to it, less what intervals stretched by a busy machine take off (a third).
    assert sum(_bytes(row[1]) * 0.5 for row in rows) >= 2.5 * MIB, out
    assert all(_bytes(row[1]) <= 8 * MIB / 0.5 for row in rows), out
    assert any(_bytes(row[0]) > 0 for row in rows), out


def test_stats_repeats_the_header(ftp_server, mounted, ftpsfs_bin):
    m = mounted(ftp_server("vsftpd"))
    view = _start_view(ftpsfs_bin, m.mountpoint, "0.1")
    lines = []
    reader = threading.Thread(target=lambda: lines.extend(iter(view.stdout.readline, "")),
                              daemon=True)
    reader.start()
    try:
        # > 20 lines, however slow the machine is: wait for them, not for a time.
        assert wait_for(lambda: len(lines) > 22, timeout=60), lines
        view.send_signal(signal.SIGINT)
        view.wait(timeout=10)
        reader.join(timeout=10)
    finally:
        if view.poll() is None:
            view.kill()
    headers = [i for i, line in enumerate(lines) if line.split() == HEADER]
    assert headers[:2] == [0, 21], lines


def test_stats_ends_when_the_mount_goes_away(ftp_server, mounted, ftpsfs_bin):
    m = mounted(ftp_server("vsftpd"))
    view = _start_view(ftpsfs_bin, m.mountpoint, "0.2")
    try:
        assert wait_for(lambda: view.poll() is None and m.proc.poll() is None, timeout=2)
        time.sleep(0.5)
        m.stop()
        out, err = view.communicate(timeout=10)
    finally:
        if view.poll() is None:
            view.kill()
    assert view.returncode == 0, err
    assert "the mount went away" in err


def test_stats_of_a_directory_that_is_no_mount_is_an_error(ftpsfs_bin, tmp_path):
    res = subprocess.run([str(ftpsfs_bin), "--stats", str(tmp_path)], capture_output=True,
                         text=True, timeout=10)
    assert res.returncode == 1
    assert "not an ftpsfs mount point" in res.stderr
    res = subprocess.run([str(ftpsfs_bin), "--stats", str(tmp_path / "missing")],
                         capture_output=True, text=True, timeout=10)
    assert res.returncode == 1
    assert "No such file or directory" in res.stderr
    res = subprocess.run([str(ftpsfs_bin), "--stats", str(tmp_path), "zero"],
                         capture_output=True, text=True, timeout=10)
    assert res.returncode == 1
    assert "usage:" in res.stderr
