"""Workspaces for write tests: one directory per test on a server shared by the module, mounted
with its own ftpsfs (stdlib + pytest only).

The fixtures (shared_servers, workspace, w) are imported into conftest.py so that every test
module can use them; the markers choose the servers a test runs on.
"""

import itertools
import os
import re
import shutil
import stat
import tempfile
from pathlib import Path

import pytest

from servers import SERVER_KINDS
from writehelpers import run

VSFTPD = [("vsftpd", "1.2"), ("vsftpd", "1.3")]
ALL_SERVERS = VSFTPD + [("proftpd", "1.3"), ("pyftpdlib", "1.3"), ("ftpsrv", "1.3")]

# What a server truly cannot do. A test that needs it is skipped there with the reason
# (see require()); the honest error instead is checked by a test of its own.
SERVER_LIMITS = {
    "ftpsrv": {"set_times": "ftp-srv has no MFMT, no MDTM with a time, no SITE UTIME: "
                            "it cannot set any time (test_utime_is_eperm_where_server_"
                            "cannot_set_times)"},
}
# Servers that cannot set a directory's time: mounted with ignore_dir_times by the tool
# tests, and directory times are not compared there (vsftpd: MDTM answers 550 for
# directories; pyftpdlib: its MFMT refuses directories; ftp-srv: no times at all).
NO_DIR_TIMES = {"vsftpd", "pyftpdlib", "ftpsrv"}


def require(w, what):
    """Skip the test on a server that cannot do `what` (SERVER_LIMITS), saying why."""
    reason = SERVER_LIMITS.get(w.kind, {}).get(what)
    if reason:
        pytest.skip(reason)


def _cell_id(cell):
    kind, tls = cell
    return f"{kind}-tls{tls}"


# `w` runs on VSFTPD unless a test says otherwise with one of these.
on_all_servers = pytest.mark.parametrize("w", ALL_SERVERS, indirect=True, ids=_cell_id)
on_vsftpd_tls13 = pytest.mark.parametrize("w", [("vsftpd", "1.3")], indirect=True,
                                          ids=_cell_id)

@pytest.fixture(scope="module")
def shared_servers(certs, test_user, roots_base, tmp_path_factory):
    """get(kind) -> the module's started server of that kind (started on first use)."""
    started = {}

    def get(kind):
        if kind not in started:
            root = Path(tempfile.mkdtemp(dir=roots_base, prefix=f"write-{kind}-"))
            root.chmod(0o755)
            test_user.chown_tree(root)
            srv = SERVER_KINDS[kind](root, certs, test_user,
                                     workdir=tmp_path_factory.mktemp(f"write-{kind}"))
            started[kind] = srv.start()
        return started[kind]

    yield get
    for srv in started.values():
        srv.stop()


_names = itertools.count()


class Workspace:
    """One test's own directory on a server, and (after mount()) an ftpsfs mount of just that
    directory.

    sdir: the directory on the server (the oracle; put files there before mount(), the mount
    caches what it has seen). mnt: the mount point. m: the Mount."""

    def __init__(self, server, tls, test_user, mounted, label):
        self.server = server
        self.tls = tls
        self.user = test_user
        self._mounted = mounted
        self.name = f"w{next(_names)}-" + re.sub(r"[^A-Za-z0-9_-]+", "-", label)[:50]
        self.sdir = server.root_dir / self.name
        self.sdir.mkdir(mode=0o755)
        os.chown(self.sdir, test_user.uid, test_user.gid)
        self.m = None
        self.mnt = None

    @property
    def kind(self):
        return self.server.name

    def put(self, rel, data=b"", perm=None, mtime=None):
        """A file on the server (before mount()); returns its server path."""
        path = self.sdir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        if perm is not None:
            path.chmod(perm)
        if mtime is not None:
            os.utime(path, (mtime, mtime))
        return path

    def mount(self, *options):
        """Mount the directory (the TLS cap of the cell first, then `options`); returns the
        mount point. Everything put below sdir so far is given to the server's user."""
        self.user.chown_tree(self.sdir)
        opts = (["tls_max=1.2"] if self.tls == "1.2" else []) + list(options)
        # vsftpd cannot set directory times; by default ftpsfs says so with EPERM (see
        # test_directory_time_on_vsftpd_is_eperm_by_default), which makes tar, unzip and
        # rsync -a exit non-zero.  The tools' tests use the documented opt-out.
        if self.kind in NO_DIR_TIMES and "strict_dir_times" not in opts:
            opts.append("ignore_dir_times")
        opts = [o for o in opts if o != "strict_dir_times"]
        self.m = self._mounted(self.server, options=opts, path=f"/{self.name}/")
        self.mnt = self.m.mountpoint
        return self.mnt

    def run(self, cmd, **kw):
        """run() a tool; a failure message carries the tail of the ftpsfs log."""
        return run(cmd, log=self.m.log_text if self.m else None, **kw)

    def close(self):
        if self.m is not None:
            self.m.stop()
        shutil.rmtree(self.sdir, ignore_errors=True)


@pytest.fixture
def workspace(mounted, test_user, request):
    """Factory: workspace(server, tls="1.3") -> Workspace; unmounted and removed at teardown."""
    made = []

    def make(server, tls="1.3"):
        ws = Workspace(server, tls, test_user, mounted, request.node.name)
        made.append(ws)
        return ws

    yield make
    for ws in reversed(made):
        ws.close()


@pytest.fixture(params=VSFTPD, ids=_cell_id)
def w(request, shared_servers, workspace):
    """A Workspace on the module's server of the cell (kind, tls), not yet mounted."""
    kind, tls = request.param
    return workspace(shared_servers(kind), tls)


def server_perm(path):
    return oct(stat.S_IMODE(os.stat(path).st_mode))


def expect_ok(outcome, what):
    assert outcome.errno is None, f"{what}: {outcome.errname} at {outcome.stage}: {outcome.error}"
