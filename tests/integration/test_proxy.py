"""-o proxy=: mounts through real proxies (microsocks for SOCKS5, tinyproxy for HTTP CONNECT)
against a real vsftpd (require_ssl_reuse=YES), and through a scripted hostile proxy.

The mount is given BEHIND_PROXY as the server's name, which only the proxy can resolve
(proxies.py): nothing can reach the server except through the proxy, the control connection
and every passive data connection alike. TLS stays end to end: the server's key is pinned
(fingerprint=), since its certificate does not name BEHIND_PROXY.
"""

import errno
import os
import socket
import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from mount import Mount  # noqa: E402
from fscall import errname, fs_call  # noqa: E402
from proxies import BEHIND_PROXY, HostileProxy, Microsocks, Tinyproxy, resolves_here  # noqa: E402
from servers import LOCALHOST, free_port  # noqa: E402
from test_probe import run_probe, spki_fingerprint  # noqa: E402
from writehelpers import mount_stats  # noqa: E402

PROXY_USER = "pxuser"
PROXY_PASSWORD = "Px-s3cret-w0rd"
FRESH = ("attr_timeout=0", "dir_timeout=0", "negative_timeout=0")
TIMEOUTS = ("timeout=5", "connect_timeout=5")


@pytest.fixture
def proxy(tmp_path):
    """Factory: proxy(cls, user=None, password=None) -> a started Microsocks or Tinyproxy,
    stopped at teardown."""
    started = []

    def make(cls, user=None, password=None):
        p = cls(tmp_path / f"{cls.kind}{len(started)}", user, password)
        started.append(p)
        return p.start()

    yield make
    for p in reversed(started):
        p.stop()


@pytest.fixture
def hostile(request):
    """Factory: hostile(answer, expect=1) -> a started HostileProxy, stopped at teardown."""
    started = []

    def make(answer, expect=1, hold=30.0):
        p = HostileProxy(answer, expect, hold).start()
        started.append(p)
        return p

    yield make
    for p in started:
        p.stop()


@pytest.fixture
def vsftpd(ftp_server):
    srv = ftp_server("vsftpd")
    srv.put("hello.txt", b"hello through the proxy\n")
    srv.put("sub/big.bin", os.urandom(300_000))
    return srv


def behind_proxy_url(srv, path="/"):
    return srv.url(path).replace(f"@{LOCALHOST}:", f"@{BEHIND_PROXY}:")


def netrc_for(tmp_path, px, password=PROXY_PASSWORD):
    """A netrc file with the proxy's machine entry (the login's password comes from stdin)."""
    path = tmp_path / "netrc"
    path.write_text(f"machine {LOCALHOST} login {px.user} password {password}\n")
    path.chmod(0o600)
    return path


@pytest.fixture
def proxied(ftp_server, certs, test_user, tmp_path):
    """Factory: proxied(srv, proxy_url, *options, password=<login's>, start=True, url=None)
    -> a Mount of srv's root named BEHIND_PROXY (or `url`), through proxy_url, the server's key
    pinned. Depends on
    ftp_server so that teardown unmounts before the servers stop."""
    mounts = []
    assert not resolves_here(BEHIND_PROXY), f"{BEHIND_PROXY} must not resolve outside the proxy"

    def make(srv, proxy_url, *options, password=test_user.password, start=True, url=None):
        opts = [f"proxy={proxy_url}", f"fingerprint={spki_fingerprint(certs.cert_file)}",
                *TIMEOUTS, *options]
        m = Mount(None, url or behind_proxy_url(srv), tmp_path / f"mnt{len(mounts)}", password,
                  options=opts)
        mounts.append(m)
        return m.start() if start else m

    yield make
    for m in reversed(mounts):
        m.stop()


def start_fails(m):
    """Start `m`, expecting ftpsfs to exit before mounting; its log (free of sanitizer
    reports: an ASan build's exit is checked here, since stop() has no process left)."""
    with pytest.raises(RuntimeError):
        m.start()
    assert not m.sanitizer_report(), m.sanitizer_report()
    return m.log_text()


def assert_reads_lists_writes(m, srv):
    mnt = m.mountpoint
    assert sorted(os.listdir(mnt)) == ["hello.txt", "sub"]
    assert (mnt / "hello.txt").read_bytes() == b"hello through the proxy\n"
    assert (mnt / "sub/big.bin").read_bytes() == (srv.root_dir / "sub/big.bin").read_bytes()
    data = os.urandom(100_000)
    (mnt / "sub/up.bin").write_bytes(data)
    assert (srv.root_dir / "sub/up.bin").read_bytes() == data
    assert sorted(os.listdir(mnt / "sub")) == ["big.bin", "up.bin"]
    stats = mount_stats(mnt)
    # Listings, reads and the upload each needed a data connection through the proxy.
    assert stats["data_connections"] >= 4, stats
    return stats


# --- through real proxies ------------------------------------------------------------------------

def test_socks5_with_authentication_reads_lists_and_writes(vsftpd, proxy, proxied, tmp_path):
    px = proxy(Microsocks, PROXY_USER, PROXY_PASSWORD)
    m = proxied(vsftpd, px.url(), f"netrc={netrc_for(tmp_path, px)}", *FRESH)
    assert_reads_lists_writes(m, vsftpd)
    # The proxy password is never logged (the debug log included).
    assert PROXY_PASSWORD not in m.log_text()


def test_socks5h_without_authentication(vsftpd, proxy, proxied):
    px = proxy(Microsocks)
    m = proxied(vsftpd, px.url("socks5h"), *FRESH)
    assert_reads_lists_writes(m, vsftpd)


def test_http_connect_with_authentication_every_connection_through_it(vsftpd, proxy, proxied,
                                                                      tmp_path, test_user):
    px = proxy(Tinyproxy, PROXY_USER, PROXY_PASSWORD)
    # Both passwords from one credentials file (no password_stdin).
    cred = tmp_path / "cred"
    cred.write_text(f"password={test_user.password}\nproxy_password={PROXY_PASSWORD}\n")
    cred.chmod(0o600)
    m = proxied(vsftpd, px.url(), f"credentials={cred}", *FRESH, password=None)
    stats = assert_reads_lists_writes(m, vsftpd)
    # The proxy opened a connection to the server for each login and each data connection.
    opened = px.connections_to(BEHIND_PROXY)
    assert opened >= stats["logins"] + stats["data_connections"], (opened, stats)
    assert PROXY_PASSWORD not in m.log_text()


@pytest.mark.parametrize("cls", [Microsocks, Tinyproxy], ids=["socks5", "http"])
def test_proftpd_implicit_tls_through_a_proxy(ftp_server, proxy, proxied, tmp_path, cls):
    """Implicit TLS (the TLS handshake is the first thing after the proxy's answer) against
    ProFTPD, which insists that data connections resume the control connection's session."""
    srv = ftp_server("proftpd", implicit=True)
    srv.put("hello.txt", b"hello through the proxy\n")
    srv.put("sub/big.bin", os.urandom(300_000))
    px = proxy(cls, PROXY_USER, PROXY_PASSWORD)
    m = proxied(srv, px.url(), f"netrc={netrc_for(tmp_path, px)}", *FRESH)
    assert_reads_lists_writes(m, srv)
    assert srv.count_rejected_data() == 0


@pytest.mark.parametrize("cls", [Microsocks, Tinyproxy], ids=["socks5", "http"])
def test_ipv6_server_address_through_a_proxy(ftp_server, proxy, proxied, cls):
    """An IPv6 literal goes to the proxy as an address (SOCKS5 address type 4; [::1]:port in
    CONNECT); data connections resume the control connection's TLS session through it."""
    srv = ftp_server("vsftpd", ipv6=True)
    srv.put("hello.txt", b"hello through the proxy\n")
    srv.put("sub/big.bin", os.urandom(300_000))
    px = proxy(cls)
    m = proxied(srv, px.url(), *FRESH, url=srv.url("/"))
    assert "[::1]" in m.url
    assert_reads_lists_writes(m, srv)
    assert srv.count_resumed_data() >= 4


def test_proxy_password_from_askpass(vsftpd, proxy, proxied, tmp_path, test_user):
    """askpass= answers both prompts: the login's and the proxy user's."""
    px = proxy(Microsocks, PROXY_USER, PROXY_PASSWORD)
    prog = tmp_path / "askpass.sh"
    prog.write_text("#!/bin/sh\n"
                    f'echo "$1" >> {tmp_path}/prompts\n'
                    'case "$1" in\n'
                    f'  "Password for proxy user "*) echo "{PROXY_PASSWORD}" ;;\n'
                    f'  *) echo "{test_user.password}" ;;\n'
                    "esac\n")
    prog.chmod(0o700)
    empty = tmp_path / "netrc-empty"
    empty.write_text("")
    m = proxied(vsftpd, px.url(), f"askpass={prog}", f"netrc={empty}", *FRESH, password=None)
    assert (m.mountpoint / "hello.txt").read_bytes() == b"hello through the proxy\n"
    prompts = (tmp_path / "prompts").read_text().splitlines()
    assert f"Password for proxy user {PROXY_USER}@{LOCALHOST}: " in prompts, prompts
    assert len(prompts) == 2, prompts


def test_parallel_reads_and_writes_through_a_proxy(vsftpd, proxy, proxied, tmp_path):
    """Several programs at once: the pool's connections and their data connections all go
    through the proxy, each to its own passive port."""
    px = proxy(Tinyproxy)
    files = {f"p{i}.bin": os.urandom(150_000 + i) for i in range(12)}
    for name, data in files.items():
        vsftpd.put(f"par/{name}", data)
    m = proxied(vsftpd, px.url(), "max_conns=5", *FRESH)
    errors = []

    def work(name, data):
        try:
            if (m.mountpoint / "par" / name).read_bytes() != data:
                errors.append(f"{name}: wrong content")
            (m.mountpoint / "par" / f"{name}.copy").write_bytes(data[::-1])
        except OSError as e:
            errors.append(f"{name}: {e}")

    threads = [threading.Thread(target=work, args=item) for item in files.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    for name, data in files.items():
        assert (vsftpd.root_dir / "par" / f"{name}.copy").read_bytes() == data[::-1]
    stats = mount_stats(m.mountpoint)
    assert px.connections_to(BEHIND_PROXY) >= stats["logins"] + stats["data_connections"]


def probe_through(px, srv, certs, test_user, tmp_path, proxy_password=PROXY_PASSWORD):
    """ftpsfs --probe of srv (named BEHIND_PROXY) through px, the proxy password in netrc."""
    return run_probe(behind_proxy_url(srv), test_user.password,
                     [f"proxy={px.url()}", f"netrc={netrc_for(tmp_path, px, proxy_password)}",
                      f"fingerprint={spki_fingerprint(certs.cert_file)}", "probe_readonly"])


def test_probe_through_a_proxy_says_so_and_works(vsftpd, proxy, certs, test_user, tmp_path):
    px = proxy(Microsocks, PROXY_USER, PROXY_PASSWORD)
    r = probe_through(px, vsftpd, certs, test_user, tmp_path)
    assert r.rc == 0, str(r)
    assert r["proxy"].startswith(f"socks5 proxy {LOCALHOST} port {px.port}, user {PROXY_USER}")
    assert r["passive EPSV"] == "works", str(r)
    assert r["active EPRT"].startswith("not tried"), str(r)
    assert r["suggested options"] == "none", str(r)
    assert f"proxy={px.url()}" in r.fstab()[3].split(","), str(r)
    assert "proxy_password=" in r["fstab note"], str(r)
    assert PROXY_PASSWORD not in r.stdout + r.stderr


def test_probe_through_a_proxy_that_refuses_us(vsftpd, proxy, certs, test_user, tmp_path):
    """The proxy's refusal is the probe's "cannot connect" (exit 2), with the proxy's reason."""
    px = proxy(Tinyproxy, PROXY_USER, PROXY_PASSWORD)
    r = probe_through(px, vsftpd, certs, test_user, tmp_path, proxy_password="Wr0ng-Px-pw")
    assert r.rc == 2, str(r)
    assert "proxy refused: authentication failed" in r["login"], str(r)
    assert "Wr0ng-Px-pw" not in r.stdout + r.stderr


# --- refusals and failures -----------------------------------------------------------------------

@pytest.mark.parametrize("cls", [Microsocks, Tinyproxy], ids=["socks5", "http"])
def test_wrong_proxy_password_is_a_clear_error(vsftpd, proxy, proxied, tmp_path, cls):
    px = proxy(cls, PROXY_USER, PROXY_PASSWORD)
    m = proxied(vsftpd, px.url(), f"netrc={netrc_for(tmp_path, px, 'Wr0ng-Px-pw')}",
                start=False)
    log = start_fails(m)
    assert "proxy refused: authentication failed" in log, log
    assert "Wr0ng-Px-pw" not in log


@pytest.mark.parametrize("cls", [Microsocks, Tinyproxy], ids=["socks5", "http"])
def test_proxy_wanting_authentication_we_lack_says_so(vsftpd, proxy, proxied, cls):
    px = proxy(cls, PROXY_USER, PROXY_PASSWORD)
    log = start_fails(proxied(vsftpd, px.url(user=""), start=False))
    assert "proxy refused: authentication required" in log, log


def test_proxy_user_without_a_password_is_refused_before_connecting(vsftpd, proxied, tmp_path):
    empty = tmp_path / "netrc-empty"
    empty.write_text("")
    m = proxied(vsftpd, f"socks5://{PROXY_USER}@{LOCALHOST}:1", f"netrc={empty}", start=False)
    m.env = {k: v for k, v in os.environ.items() if k not in ("FTPSFS_ASKPASS", "SSH_ASKPASS")}
    log = start_fails(m)
    assert f"no password for proxy user {PROXY_USER}" in log, log


def test_proxy_down_is_a_clear_error(vsftpd, proxied):
    port = free_port()
    log = start_fails(proxied(vsftpd, f"socks5://{LOCALHOST}:{port}", start=False))
    assert f"cannot connect to the proxy {LOCALHOST} port {port}: Connection refused" in log, log


def test_server_down_behind_the_proxy_counts_as_an_outage(vsftpd, proxy, proxied):
    """The proxy refuses because the server is down (SOCKS5 reply 5): for the mount that is
    the server being unreachable, as a refused direct connect would be; it is back when the
    server is."""
    px = proxy(Microsocks)
    m = proxied(vsftpd, px.url(), "soft", *FRESH)
    assert fs_call("listdir", m.mountpoint).names == ["hello.txt", "sub"]
    vsftpd.stop()
    # The first failure may be the old connections closing; the mount's reconnects (with
    # back-off) then meet the proxy's refusal.
    deadline = time.monotonic() + 30
    while "connection refused by the server" not in m.log_text():
        r = fs_call("read", m.mountpoint / "hello.txt", limit=60)
        assert r.errno in (errno.EIO, errno.ETIMEDOUT, errno.ECONNREFUSED), errname(r)
        assert time.monotonic() < deadline, m.log_text()[-3000:]
        time.sleep(0.5)
    assert "server unreachable" in m.log_text()
    vsftpd.start()
    deadline = time.monotonic() + 30
    while True:
        r = fs_call("read", m.mountpoint / "hello.txt", limit=60)
        if r.errno is None or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert r.size == len(b"hello through the proxy\n"), errname(r)
    assert mount_stats(m.mountpoint)["outages"] >= 1


def test_a_name_the_proxy_cannot_resolve_fails_at_once(vsftpd, proxy, proxied):
    """microsocks answers "general failure" for a name it cannot resolve: like a name that
    does not resolve for a direct mount, that fails the mount at once (no waiting for an
    outage to end)."""
    px = proxy(Microsocks)
    url = vsftpd.url("/").replace(f"@{LOCALHOST}:", "@nowhere.invalid:")
    start = time.monotonic()
    log = start_fails(proxied(vsftpd, px.url(), url=url, start=False))
    assert "proxy: general failure" in log, log
    assert time.monotonic() - start < 15


def test_active_mode_with_a_proxy_is_refused(vsftpd, proxied):
    log = start_fails(proxied(vsftpd, f"socks5://{LOCALHOST}:1080", "active", start=False))
    assert "active cannot work through proxy=" in log, log


@pytest.mark.parametrize("value,says", [
    ("socks5://u:pw@127.0.0.1:1080", "a password in proxy= is refused"),
    ("socks5://127.0.0.1", "proxy= needs a port"),
    ("https://127.0.0.1:3128", "https:// is not supported"),
    ("ftp://127.0.0.1:21", "must start with socks5://"),
])
def test_bad_proxy_values_are_refused(vsftpd, proxied, value, says):
    log = start_fails(proxied(vsftpd, value, start=False))
    assert says in log, log


# --- a hostile proxy -------------------------------------------------------------------------------

HOSTILE = [
    # SOCKS5: not a SOCKS5 server at all
    ("socks5", 3, b"HTTP/1.1 400 Bad Request\r\n\r\n", "not a SOCKS5 proxy"),
    # SOCKS5: chooses a method we did not offer
    ("socks5", 3, b"\x05\x02", "method we did not offer"),
    # HTTP: garbage instead of a status line
    ("http", 1, b"\x00\xff\xfe garbage", "not an HTTP proxy"),
    # HTTP: a header that never ends (more than the 8 KiB we read)
    ("http", 1, b"HTTP/1.1 200 OK\r\n" + b"X-Pad: " + b"a" * 100_000, "too long"),
    # HTTP: a proxy that refuses with a status we do not know
    ("http", 1, b"HTTP/1.1 418 I'm a teapot\r\n\r\n", "proxy refused the CONNECT request"),
]


def _socks_bad_connect_reply(reply):
    """A SOCKS5 proxy for one connection: accepts the greeting ("no authentication"), then
    answers CONNECT with `reply` (HostileProxy answers only once)."""
    srv = socket.socket()
    srv.bind((LOCALHOST, 0))
    srv.listen(4)

    def serve():
        srv.settimeout(30)
        try:
            conn, _ = srv.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(10)
            try:
                conn.recv(3)
                conn.sendall(b"\x05\x00")
                conn.recv(600)
                conn.sendall(reply)
                conn.recv(1)
            except OSError:
                pass

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return srv, t


@pytest.mark.parametrize("reply,says", [
    (b"\x05\x00\x00\x09" + b"\x00" * 8, "unknown address type"),
    (b"\x05\x00\x07\x01" + b"\x00" * 6, "reserved byte not zero"),
    (b"\x05\x04\x00\x01" + b"\x00" * 6, "proxy: host unreachable"),
    (b"\x05\x00\x00\x03\x00", "empty name"),
])
def test_hostile_socks5_connect_replies(vsftpd, proxied, reply, says):
    srv, t = _socks_bad_connect_reply(reply)
    try:
        port = srv.getsockname()[1]
        start = time.monotonic()
        log = start_fails(proxied(vsftpd, f"socks5://{LOCALHOST}:{port}", start=False))
        assert says in log, log
        assert time.monotonic() - start < 30
    finally:
        srv.close()
        t.join(timeout=15)


@pytest.mark.parametrize("scheme,expect,answer,says",
                         HOSTILE,
                         ids=["socks5-not-socks", "socks5-bad-method", "http-garbage",
                              "http-endless-header", "http-unknown-status"])
def test_hostile_proxy_replies_are_clear_errors(vsftpd, proxied, hostile, scheme, expect, answer,
                                                says):
    px = hostile(answer, expect)
    start = time.monotonic()
    log = start_fails(proxied(vsftpd, px.url(scheme), start=False))
    assert says in log, log
    assert px.connections >= 1
    assert time.monotonic() - start < 30


@pytest.mark.parametrize("scheme", ["socks5", "http"])
def test_silent_proxy_times_out_within_connect_timeout(vsftpd, proxied, hostile, scheme):
    """A proxy that accepts the connection and never answers: each connect (the handshake
    included) ends after connect_timeout. soft: the mount gives up after the first attempt and
    its one retry instead of waiting op_timeout for the "server" to come back."""
    px = hostile(b"", expect=1, hold=30.0)
    m = proxied(vsftpd, px.url(scheme), "connect_timeout=2", "soft", start=False)
    start = time.monotonic()
    log = start_fails(m)
    elapsed = time.monotonic() - start
    assert "Connection timed out" in log, log
    assert 2 <= elapsed < 15, elapsed
