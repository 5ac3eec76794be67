"""pytest fixtures: certificates, the test user, FTPS servers and ftpsfs mounts.

Run as root with /usr/bin/python3 -m pytest (tests/deps.sh installs what is needed).
Everything a fixture starts is stopped in its teardown, also when the test fails.
"""

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fakeserver import FakeFtpsServer  # noqa: E402
from mount import Mount, default_binary  # noqa: E402
from servers import SERVER_KINDS, Certs, TestUser  # noqa: E402
# Workspace fixtures for the write tests, usable by every module.
from workspace import shared_servers, w, workspace  # noqa: E402,F401

# The {vsftpd, proftpd} x {explicit, implicit} matrix of the `server` fixture.
SERVER_MATRIX = [(kind, implicit) for kind in ("vsftpd", "proftpd") for implicit in (False, True)]


def _matrix_id(param):
    kind, implicit = param
    return f"{kind}-{'implicit' if implicit else 'explicit'}"


@pytest.fixture(scope="session")
def certs(tmp_path_factory):
    """Certs: test CA, server cert for localhost/127.0.0.1/::1, an unrelated CA."""
    return Certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="session")
def test_user():
    """TestUser: the system account `ftpsfstest` the servers log in."""
    if os.geteuid() != 0:
        pytest.fail("the integration tests must run as root (servers, useradd, FUSE)")
    return TestUser()


@pytest.fixture(scope="session")
def roots_base():
    """Parent of all server roots. Not under pytest's tmp dir: that one is mode 0700, and the
    servers chdir into the root as the test user, so every directory above must be
    traversable by it."""
    base = Path(tempfile.mkdtemp(prefix="ftpsfs-roots-"))
    base.chmod(0o755)
    yield base
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def new_root(roots_base, test_user):
    """Factory: a fresh, empty server root directory owned by the test user."""
    def make():
        root = Path(tempfile.mkdtemp(dir=roots_base, prefix="root-"))
        root.chmod(0o755)
        test_user.chown_tree(root)
        return root
    return make


@pytest.fixture
def ftp_server(certs, test_user, new_root, tmp_path_factory):
    """Factory: ftp_server(kind="vsftpd", implicit=False, root=None, server_certs=None, **kw)
    -> started server.

    kind is "vsftpd" or "proftpd"; kw goes to the server class (tls_max="1.2", extra={...} for
    vsftpd, extra_lines=[...] for ProFTPD). The root defaults to a fresh directory, the
    certificates to the session's `certs`. Configs and logs live in pytest's tmp dir (kept for
    the last runs). All are stopped at teardown."""
    started = []

    def make(kind="vsftpd", implicit=False, root=None, server_certs=None, **kw):
        cls = SERVER_KINDS[kind]
        workdir = tmp_path_factory.mktemp(f"{kind}-{'implicit' if implicit else 'explicit'}")
        srv = cls(root or new_root(), server_certs or certs, test_user, implicit=implicit,
                  workdir=workdir, **kw)
        started.append(srv)
        return srv.start()

    yield make
    for srv in reversed(started):
        srv.stop()


@pytest.fixture(params=SERVER_MATRIX, ids=_matrix_id)
def server(request, ftp_server):
    """A started server for each of vsftpd/ProFTPD x explicit/implicit TLS."""
    kind, implicit = request.param
    return ftp_server(kind, implicit)


def require_ftpsfs_binary():
    """Path of the ftpsfs binary ($FTPSFS_BIN or build/ftpsfs); fails the test if missing."""
    path = default_binary()
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"ftpsfs binary not found at {path}: build it (meson setup build && "
                    "ninja -C build) or point FTPSFS_BIN at it", pytrace=False)
    if not os.path.exists("/dev/fuse"):
        pytest.fail("/dev/fuse is missing: FUSE is not available here", pytrace=False)
    return path


@pytest.fixture
def ftpsfs_bin():
    """The ftpsfs binary; the test fails with a clear message if it is not built."""
    return require_ftpsfs_binary()


@pytest.fixture
def mounted(ftp_server, certs, test_user, tmp_path):
    """Factory: mounted(server, options=(), debug=True, path="/", password=None, cafile=None,
    binary=None) -> started Mount of `server` at a fresh mount point (tmp_path/mntN).

    password defaults to the test user's, cafile to the test CA, binary to ftpsfs (the test
    fails if it is not built). Depends on ftp_server so that teardown unmounts before the
    servers stop."""
    mounts = []

    def make(server, options=(), debug=True, path="/", password=None, cafile=None,
             binary=None):
        mnt = tmp_path / f"mnt{len(mounts)}"
        m = Mount(binary or require_ftpsfs_binary(), server.url(path), mnt,
                  test_user.password if password is None else password,
                  options=options, debug=debug, cafile=cafile or certs.ca_file)
        mounts.append(m)
        return m.start()

    yield make
    for m in reversed(mounts):
        m.stop()


@pytest.fixture
def fake_server(certs):
    """Factory: fake_server(server_certs=None, setup=None, **kw) -> started FakeFtpsServer (kw
    as for FakeFtpsServer); `setup` (a function of the server) runs before start. Teardown
    stops every server (it raises if a server thread survives) and fails the test if a
    session thread met an unexpected exception (a bug in a hook or the fake server)."""
    started = []

    def make(server_certs=None, setup=None, **kw):
        srv = FakeFtpsServer(server_certs or certs, **kw)
        if setup:
            setup(srv)
        started.append(srv.start())
        return srv

    yield make
    for srv in reversed(started):
        srv.stop()
    errors = [e for srv in started for e in srv.errors()]
    assert not errors, "fake server errors:\n" + "\n".join(errors)


FAKE_TIMEOUT = 3  # -o timeout and connect_timeout of fake_mount, seconds


@pytest.fixture
def fake_mount(fake_server, ftpsfs_bin, certs, tmp_path):
    """Factory: fake_mount(srv, *options, password=None, start=True, timeout=FAKE_TIMEOUT) ->
    Mount of the fake server `srv` at a fresh mount point, with -o timeout and connect_timeout
    set to `timeout` and the other -o `options`. start=False returns it unstarted (for start-up
    failures). Depends on fake_server so that teardown unmounts before the servers stop."""
    mounts = []

    def make(srv, *options, password=None, start=True, timeout=FAKE_TIMEOUT):
        m = Mount(ftpsfs_bin, srv.url("/"), tmp_path / f"mnt{len(mounts)}",
                  srv.password if password is None else password,
                  options=(f"timeout={timeout}", f"connect_timeout={timeout}", *options),
                  cafile=certs.ca_file)
        mounts.append(m)
        return m.start() if start else m

    yield make
    for m in reversed(mounts):
        m.stop()
