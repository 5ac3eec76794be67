"""Security: the server proves its identity, logins follow policy, secrets never leak, and a
hostile server cannot reach outside the mount.

Real vsftpd and ProFTPD servers on loopback (servers.py) for verification, pinning, trust on
first use, client certificates, plaintext policy, secret sources and symlinks; the scripted fake
server (fakeserver.py) for what real servers won't do on demand (self-signed servers that never
resume TLS sessions, hostile listings, anonymous logins). Every filesystem call on a mount runs
in a child process with a time limit, so a hang fails a test instead of blocking the run.
"""

import errno
import fcntl
import json
import os
import re
import select
import stat
import subprocess
import sys
import termios
import textwrap
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from mount import Mount, is_fuse_mounted  # noqa: E402
from securityhelpers import (CASignedServerCert, ClientCert, SelfSignedCerts, cert_sha256, fp_text,  # noqa: E402
                             self_signed_client_cert, spki_sha256, visible_process_text,
                             vm_hwm_kib, wait_for, write_executable)

HARD_LIMIT = 60
CONTENT = b"hello through a verified channel\n"


# --- fixtures ----------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def self_signed(tmp_path_factory):
    """A self-signed server certificate (the common case pinning is for)."""
    return SelfSignedCerts(tmp_path_factory.mktemp("self-signed"))


@pytest.fixture(scope="session")
def other_self_signed(tmp_path_factory):
    """Another self-signed certificate: the same names, a different key."""
    return SelfSignedCerts(tmp_path_factory.mktemp("other-self-signed"), name="other")


@pytest.fixture(scope="session")
def dns_only_certs(certs, tmp_path_factory):
    """A server certificate from the test CA naming only DNS:localhost."""
    return CASignedServerCert(tmp_path_factory.mktemp("dns-only"), certs.ca_file,
                              certs.ca_key_file, san="DNS:localhost")


@pytest.fixture
def mount(ftp_server, ftpsfs_bin, tmp_path):
    """Factory: mount(url, options=(), password=None, cafile=None, env=None, start=True)
    -> Mount at a fresh mount point. Unlike conftest's `mounted`, nothing is added: no CA file,
    no password unless given. Depends on ftp_server so that teardown unmounts first."""
    mounts = []

    def make(url, options=(), password=None, cafile=None, env=None, start=True):
        m = Mount(ftpsfs_bin, url, tmp_path / f"mnt{len(mounts)}", password,
                  options=options, cafile=cafile, env=env)
        mounts.append(m)
        return m.start() if start else m

    yield make
    for m in reversed(mounts):
        m.stop()


def _xdg_env(tmp_path):
    return dict(os.environ, XDG_CONFIG_HOME=str(tmp_path / "xdg"))


# --- helpers -----------------------------------------------------------------------------------

_CALL = textwrap.dedent("""
    import json, os, sys
    op, path = sys.argv[1], sys.argv[2]
    out = {}
    try:
        if op == "read":
            with open(path, "rb") as f:
                out["data"] = f.read().decode("latin-1")
        elif op == "readlink":
            out["target"] = os.readlink(path)
        elif op == "listdir":
            out["names"] = sorted(os.listdir(path))
        elif op == "write":
            with open(path, "wb") as f:
                f.write(sys.argv[3].encode())
    except OSError as e:
        out["errno"] = e.errno
    print(json.dumps(out))
""")


def fs(op, path, arg=None):
    """Run one filesystem call in a child process (hard time limit). Returns a dict: data,
    target, names, or errno."""
    argv = [sys.executable, "-c", _CALL, op, str(path)] + ([arg] if arg is not None else [])
    out = subprocess.run(argv, stdout=subprocess.PIPE, text=True, timeout=HARD_LIMIT,
                         check=True).stdout
    return json.loads(out)


def errname(result):
    e = result.get("errno")
    return "success" if e is None else errno.errorcode.get(e, str(e))


def failed_start(m):
    """Start `m`, expect ftpsfs to exit before mounting; returns its log."""
    with pytest.raises(RuntimeError) as exc:
        m.start()
    assert re.search(r"ftpsfs exited with -?\d+ before mounting", str(exc.value)), exc.value
    assert not is_fuse_mounted(m.mountpoint)
    return m.log_text()


def vsftpd_commands(srv, verb):
    """The `verb` commands vsftpd logged (log_ftp_protocol=YES)."""
    return re.findall(rf'FTP command: Client "[^"]*", "{verb}\b[^"]*"', srv.log_text())


def start_vsftpd(ftp_server, server_certs=None, content=CONTENT, **kw):
    srv = ftp_server("vsftpd", server_certs=server_certs, **kw)
    srv.put("hello.txt", content)
    return srv


# --- server identity: CA and host name ---------------------------------------------------------

def test_wrong_ca_refuses_naming_the_error_before_sending_anything(ftp_server, mount, certs,
                                                                   test_user):
    srv = start_vsftpd(ftp_server)
    m = mount(srv.url(), password=test_user.password, cafile=certs.other_ca_file, start=False)
    log = failed_start(m)
    assert "certificate verification failed: unable to get local issuer certificate" in log
    # The comfortable path: the message shows what to pin.
    assert fp_text(spki_sha256(certs.cert_file)) in log
    assert vsftpd_commands(srv, "USER") == []


def test_wrong_host_name_refuses(ftp_server, mount, certs, test_user):
    """"vm" resolves to 127.0.0.1 here, but the certificate names localhost/127.0.0.1."""
    srv = start_vsftpd(ftp_server)
    url = srv.url().replace("127.0.0.1", "vm")
    log = failed_start(mount(url, password=test_user.password, cafile=certs.ca_file,
                             start=False))
    assert "certificate verification failed: hostname mismatch" in log
    assert vsftpd_commands(srv, "USER") == []


def test_ip_literal_is_checked_as_an_ip(ftp_server, mount, certs, dns_only_certs, test_user):
    """A certificate for "localhost" only (no IP address in it): 127.0.0.1 must not match,
    although it is the same server."""
    srv = start_vsftpd(ftp_server, server_certs=dns_only_certs)
    log = failed_start(mount(srv.url(), password=test_user.password, cafile=certs.ca_file,
                             start=False))
    assert "certificate verification failed: IP address mismatch" in log
    m = mount(srv.url().replace("127.0.0.1", "localhost"), password=test_user.password,
              cafile=certs.ca_file)
    assert fs("read", m.mountpoint / "hello.txt")["data"].encode() == CONTENT


def test_self_signed_server_is_refused_by_default(ftp_server, mount, self_signed, test_user):
    srv = start_vsftpd(ftp_server, server_certs=self_signed)
    log = failed_start(mount(srv.url(), password=test_user.password, start=False))
    assert "certificate verification failed: self-signed certificate" in log
    assert f"-o fingerprint={fp_text(spki_sha256(self_signed.cert_file))}" in log


# --- pinning -----------------------------------------------------------------------------------

PIN_FORMS = {
    "spki": lambda c: fp_text(spki_sha256(c)),
    "cert-openssl-colons": lambda c: fp_text(cert_sha256(c), colons=True, upper=True),
}


@pytest.mark.parametrize("tls", ["1.2", "1.3"])
@pytest.mark.parametrize("form", PIN_FORMS)
def test_matching_pin_works(ftp_server, mount, self_signed, test_user, form, tls):
    srv = start_vsftpd(ftp_server, server_certs=self_signed, tls_max=tls if tls == "1.2" else None)
    pin = PIN_FORMS[form](self_signed.cert_file)
    m = mount(srv.url(), options=[f"fingerprint={pin}"], password=test_user.password)
    assert fs("read", m.mountpoint / "hello.txt")["data"].encode() == CONTENT
    assert srv.count_resumed_data() >= 1


def test_pin_is_the_identity_host_name_not_checked(ftp_server, mount, self_signed, test_user):
    """With a pin, the host name need not match: the pin IS the identity (documented)."""
    srv = start_vsftpd(ftp_server, server_certs=self_signed)
    pin = fp_text(spki_sha256(self_signed.cert_file))
    m = mount(srv.url().replace("127.0.0.1", "vm"), options=[f"fingerprint={pin}"],
              password=test_user.password)
    assert fs("listdir", m.mountpoint)["names"] == ["hello.txt"]


def test_changed_pin_refuses_showing_the_actual_fingerprint(ftp_server, mount, self_signed,
                                                            other_self_signed, test_user):
    srv = start_vsftpd(ftp_server, server_certs=self_signed)
    wrong = fp_text(spki_sha256(other_self_signed.cert_file))
    log = failed_start(mount(srv.url(), options=[f"fingerprint={wrong}"],
                             password=test_user.password, start=False))
    assert "the server's certificate does not match -o fingerprint" in log
    assert fp_text(spki_sha256(self_signed.cert_file)) in log
    assert fp_text(cert_sha256(self_signed.cert_file)) in log
    assert vsftpd_commands(srv, "USER") == []


def test_malformed_fingerprint_is_refused(mount, ftp_server, test_user):
    srv = start_vsftpd(ftp_server)
    log = failed_start(mount(srv.url(), options=["fingerprint=sha256:abcd"],
                             password=test_user.password, start=False))
    assert "fingerprint must be sha256: and 64 hex digits" in log


def _no_resumption(srv):
    """A server that never resumes TLS sessions: TLS 1.3 only, no tickets. Every data
    connection is a full handshake, which must present the pinned certificate again."""
    import ssl
    srv.ssl_ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    srv.ssl_ctx.num_tickets = 0


def test_pin_checked_on_non_resumed_data_connections(fake_server, mount, self_signed):
    srv = fake_server(server_certs=self_signed, setup=_no_resumption,
                      files={"/a.txt": CONTENT})
    pin = fp_text(spki_sha256(self_signed.cert_file))
    m = mount(srv.url(), options=[f"fingerprint={pin}"], password=srv.password)
    assert fs("read", m.mountpoint / "a.txt")["data"].encode() == CONTENT
    assert srv.data_connections >= 1 and srv.data_resumed == 0


# --- trust on first use ------------------------------------------------------------------------

def test_tofu_records_then_refuses_a_changed_key(ftp_server, mount, self_signed,
                                                 other_self_signed, test_user, tmp_path):
    env = _xdg_env(tmp_path)
    known_hosts = tmp_path / "xdg" / "ftpsfs" / "known_hosts"
    srv = start_vsftpd(ftp_server, server_certs=self_signed)
    key = f"127.0.0.1:{srv.port}"
    pin = fp_text(spki_sha256(self_signed.cert_file))

    m = mount(srv.url(), options=["tofu"], password=test_user.password, env=env)
    assert fs("read", m.mountpoint / "hello.txt")["data"].encode() == CONTENT
    m.stop()
    assert f"first connection to {key}: trusting its public key {pin}" in m.log_text()
    assert known_hosts.read_text() == f"{key} {pin}\n"
    assert stat.S_IMODE(known_hosts.stat().st_mode) == 0o600
    assert stat.S_IMODE(known_hosts.parent.stat().st_mode) == 0o700

    m = mount(srv.url(), options=["tofu"], password=test_user.password, env=env)
    assert fs("listdir", m.mountpoint)["names"] == ["hello.txt"]
    m.stop()
    assert "first connection" not in m.log_text()
    users = len(vsftpd_commands(srv, "USER"))

    # Same host and port, another key: refused, loudly, naming file and line.
    srv.stop()
    srv.certs = other_self_signed
    srv.start()
    log = failed_start(mount(srv.url(), options=["tofu"], password=test_user.password,
                             env=env, start=False))
    assert "THE SERVER'S KEY HAS CHANGED" in log
    assert f"{known_hosts} line 1 records {pin}" in log
    assert fp_text(spki_sha256(other_self_signed.cert_file)) in log
    assert len(vsftpd_commands(srv, "USER")) == users  # nothing sent to the impostor
    assert known_hosts.read_text() == f"{key} {pin}\n"


def test_tofu_refuses_a_known_hosts_file_others_may_write(ftp_server, mount, self_signed,
                                                         test_user, tmp_path):
    known_hosts = tmp_path / "xdg" / "ftpsfs" / "known_hosts"
    known_hosts.parent.mkdir(parents=True)
    known_hosts.write_text("")
    known_hosts.chmod(0o666)
    srv = start_vsftpd(ftp_server, server_certs=self_signed)
    log = failed_start(mount(srv.url(), options=["tofu"], password=test_user.password,
                             env=_xdg_env(tmp_path), start=False))
    assert "may be written by group or others (mode 0666)" in log


def test_tofu_checks_non_resumed_data_connections(fake_server, mount, self_signed, tmp_path):
    srv = fake_server(server_certs=self_signed, setup=_no_resumption,
                      files={"/a.txt": CONTENT})
    m = mount(srv.url(), options=["tofu"], password=srv.password, env=_xdg_env(tmp_path))
    assert fs("read", m.mountpoint / "a.txt")["data"].encode() == CONTENT
    assert srv.data_connections >= 1 and srv.data_resumed == 0


# --- no_verify ---------------------------------------------------------------------------------

def test_no_verify_works_and_warns_at_every_mount(ftp_server, mount, self_signed, test_user):
    srv = start_vsftpd(ftp_server, server_certs=self_signed)
    for _ in range(2):
        m = mount(srv.url(), options=["no_verify"], password=test_user.password)
        assert fs("read", m.mountpoint / "hello.txt")["data"].encode() == CONTENT
        m.stop()
        assert "no_verify: the server's certificate is NOT checked" in m.log_text()


class _DataCertSwap:
    """Stands in for a fake server's SSLContext: control connections (to the server's port)
    get the server's own certificate, data connections another one."""

    def __init__(self, srv, data_certs):
        import ssl
        self.srv, self.control = srv, srv.ssl_ctx
        self.data = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.data.load_cert_chain(str(data_certs.cert_file), str(data_certs.key_file))

    def wrap_socket(self, sock, server_side):
        ctx = self.control if sock.getsockname()[1] == self.srv.port else self.data
        return ctx.wrap_socket(sock, server_side=server_side)


def test_no_verify_still_binds_data_connections(fake_server, mount, self_signed,
                                                other_self_signed):
    """A data connection presenting another certificate than the control one is refused,
    even with no_verify."""
    def setup(srv):
        _no_resumption(srv)
        srv.ssl_ctx = _DataCertSwap(srv, other_self_signed)

    srv = fake_server(server_certs=self_signed, setup=setup, files={"/a.txt": CONTENT})
    m = mount(srv.url(), options=["no_verify", "timeout=5"], password=srv.password)
    r = fs("read", m.mountpoint / "a.txt")
    assert r.get("errno") in (errno.EIO, errno.EPERM, errno.EACCES), errname(r)
    assert "data connection presented a different certificate" in m.log_text()


@pytest.mark.parametrize("combo", [["no_verify", "tofu"], ["tofu", "fingerprint=sha256:" + "0" * 64],
                                   ["no_verify", "cafile=/etc/hostname"]])
def test_contradicting_trust_options_are_refused(ftp_server, mount, test_user, combo):
    srv = start_vsftpd(ftp_server)
    log = failed_start(mount(srv.url(), options=combo, password=test_user.password,
                             start=False))
    assert re.search(r"exclude each other|have no effect with", log), log


# --- ciphers -----------------------------------------------------------------------------------

@pytest.mark.parametrize("tls_max,option,cipher", [
    ("1.2", "ciphers", "ECDHE-ECDSA-AES256-GCM-SHA384"),
    (None, "tls13_ciphersuites", "TLS_CHACHA20_POLY1305_SHA256"),
], ids=["tls12_cipher", "tls13_ciphersuite"])
def test_cipher_option_is_used(ftp_server, mount, certs, test_user, tls_max, option, cipher):
    srv = start_vsftpd(ftp_server, tls_max=tls_max)
    m = mount(srv.url(), options=[f"{option}={cipher}"],
              password=test_user.password, cafile=certs.ca_file)
    assert fs("read", m.mountpoint / "hello.txt")["data"].encode() == CONTENT
    assert f"SSL cipher: {cipher}" in srv.log_text()


def test_unusable_cipher_list_is_refused(ftp_server, mount, certs, test_user):
    srv = start_vsftpd(ftp_server)
    log = failed_start(mount(srv.url(), options=["ciphers=NO-SUCH-CIPHER"],
                             password=test_user.password, cafile=certs.ca_file, start=False))
    assert "ciphers=NO-SUCH-CIPHER: no usable TLS 1.2 cipher" in log


# --- client certificates -----------------------------------------------------------------------

@pytest.fixture(scope="session")
def client_certs(certs, tmp_path_factory):
    """Client certificates: one from the test CA (plain key), one with an encrypted key, one
    from an unrelated CA, and a self-signed one."""
    d = tmp_path_factory.mktemp("client-certs")
    other_key = Path(certs.other_ca_file).with_name("other-ca.key")
    return {
        "good": ClientCert(d, certs.ca_file, certs.ca_key_file, name="good"),
        "encrypted": ClientCert(d, certs.ca_file, certs.ca_key_file, name="enc",
                                passphrase="k3y-Passphrase"),
        "other-ca": ClientCert(d, certs.other_ca_file, other_key, name="foreign"),
        "self-signed": self_signed_client_cert(d),
    }


def _cert_vsftpd(ftp_server, certs, tls):
    """vsftpd that requires a client certificate from the test CA (and still USER/PASS:
    vsftpd has no certificate login)."""
    return start_vsftpd(ftp_server, tls_max="1.2" if tls == "1.2" else None,
                        extra={"require_cert": "YES", "validate_cert": "YES",
                               "ca_certs_file": certs.ca_file})


@pytest.mark.parametrize("tls", ["1.2", "1.3"])
def test_client_certificate_login(ftp_server, mount, certs, client_certs, test_user, tls):
    srv = _cert_vsftpd(ftp_server, certs, tls)
    c = client_certs["good"]
    m = mount(srv.url(), options=[f"cert={c.cert_file}", f"key={c.key_file}"],
              password=test_user.password, cafile=certs.ca_file)
    # Reading needs data connections: vsftpd checks they carry the same client certificate.
    assert fs("read", m.mountpoint / "hello.txt")["data"].encode() == CONTENT
    assert fs("write", m.mountpoint / "up.txt", "uploaded")  == {}
    assert (srv.root_dir / "up.txt").read_bytes() == b"uploaded"


@pytest.mark.parametrize("tls", ["1.2", "1.3"])
def test_missing_client_certificate_is_refused(ftp_server, mount, certs, test_user, tls):
    srv = _cert_vsftpd(ftp_server, certs, tls)
    log = failed_start(mount(srv.url(), password=test_user.password, cafile=certs.ca_file,
                             start=False, options=["timeout=5"]))
    # TLS 1.2: the handshake fails; TLS 1.3: the alert comes after it, on the first read -
    # or is lost to a reset.  Either way the server's request was seen during the handshake.
    assert "the server asked for a client certificate and none was given" in log, log
    assert not re.search(r"FTP response: .*\"230 ", srv.log_text())


@pytest.mark.parametrize("which", ["other-ca", "self-signed"])
@pytest.mark.parametrize("tls", ["1.2", "1.3"])
def test_wrong_client_certificate_is_refused(ftp_server, mount, certs, client_certs, test_user,
                                             which, tls):
    srv = _cert_vsftpd(ftp_server, certs, tls)
    c = client_certs[which]
    cert, key = (c.cert_file, c.key_file) if hasattr(c, "cert_file") else c
    log = failed_start(mount(srv.url(), options=[f"cert={cert}", f"key={key}", "timeout=5"],
                             password=test_user.password, cafile=certs.ca_file, start=False))
    assert ("alert unknown ca (the server did not accept our client certificate" in log), log
    assert not re.search(r"FTP response: .*\"230 ", srv.log_text())


def test_encrypted_client_key_with_passphrase_on_stdin(ftp_server, mount, certs, client_certs,
                                                       test_user):
    srv = _cert_vsftpd(ftp_server, certs, "1.3")
    c = client_certs["encrypted"]
    m = mount(srv.url(), options=[f"cert={c.cert_file}", f"key={c.key_file}",
                                  "key_password_stdin"],
              password=test_user.password + "\nk3y-Passphrase", cafile=certs.ca_file)
    assert fs("read", m.mountpoint / "hello.txt")["data"].encode() == CONTENT
    assert "k3y-Passphrase" not in m.log_text()


def test_encrypted_client_key_with_passphrase_in_credentials_file(ftp_server, mount, certs,
                                                                  client_certs, test_user,
                                                                  tmp_path):
    srv = _cert_vsftpd(ftp_server, certs, "1.2")
    c = client_certs["encrypted"]
    cred = tmp_path / "cred"
    cred.write_text(f"user={test_user.name}\npassword={test_user.password}\n"
                    "key_password=k3y-Passphrase\n")
    cred.chmod(0o600)
    m = mount(srv.url(), options=[f"cert={c.cert_file}", f"key={c.key_file}",
                                  f"credentials={cred}"], cafile=certs.ca_file)
    assert fs("listdir", m.mountpoint)["names"] == ["hello.txt"]


def test_encrypted_client_key_with_wrong_passphrase_is_refused(ftp_server, mount, certs,
                                                               client_certs, test_user):
    srv = _cert_vsftpd(ftp_server, certs, "1.3")
    c = client_certs["encrypted"]
    log = failed_start(mount(srv.url(), options=[f"cert={c.cert_file}", f"key={c.key_file}",
                                                 "key_password_stdin"],
                             password=test_user.password + "\nwrong-one",
                             cafile=certs.ca_file, start=False))
    assert f"cannot load client key {c.key_file}" in log
    assert "wrong-one" not in log


def test_encrypted_client_key_without_passphrase_says_how(ftp_server, mount, certs,
                                                          client_certs, test_user):
    srv = _cert_vsftpd(ftp_server, certs, "1.3")
    c = client_certs["encrypted"]
    log = failed_start(mount(srv.url(), options=[f"cert={c.cert_file}", f"key={c.key_file}"],
                             password=test_user.password, cafile=certs.ca_file, start=False))
    assert f"client key {c.key_file} is encrypted" in log
    assert "key_password_stdin" in log


# --- plaintext policy --------------------------------------------------------------------------

def _plain_vsftpd(ftp_server):
    """vsftpd without TLS at all: AUTH TLS is refused."""
    return start_vsftpd(ftp_server, extra={"ssl_enable": "NO"})


def test_plain_ftp_without_allow_plaintext_refuses_before_user(ftp_server, mount, certs,
                                                               test_user):
    srv = _plain_vsftpd(ftp_server)
    log = failed_start(mount(srv.url(), password=test_user.password, cafile=certs.ca_file,
                             start=False))
    assert "does not offer TLS" in log
    assert vsftpd_commands(srv, "AUTH")
    assert vsftpd_commands(srv, "USER") == [] and vsftpd_commands(srv, "PASS") == []


def test_allow_plaintext_alone_never_sends_a_password(ftp_server, mount, certs, test_user):
    srv = _plain_vsftpd(ftp_server)
    log = failed_start(mount(srv.url(), options=["allow_plaintext"],
                             password=test_user.password, cafile=certs.ca_file, start=False))
    assert f"refusing to log in as {test_user.name} in the clear" in log
    assert vsftpd_commands(srv, "USER") == [] and vsftpd_commands(srv, "PASS") == []


def test_allow_plaintext_password_works_and_warns(ftp_server, mount, certs, test_user):
    srv = _plain_vsftpd(ftp_server)
    m = mount(srv.url(), options=["allow_plaintext", "allow_plaintext_password"],
              password=test_user.password, cafile=certs.ca_file)
    assert fs("read", m.mountpoint / "hello.txt")["data"].encode() == CONTENT
    assert fs("write", m.mountpoint / "up.txt", "plain") == {}
    assert (srv.root_dir / "up.txt").read_bytes() == b"plain"
    assert "continuing WITHOUT encryption" in m.log_text()
    assert vsftpd_commands(srv, "PROT") == []


def test_allow_plaintext_still_uses_tls_when_offered(ftp_server, mount, certs, test_user):
    srv = start_vsftpd(ftp_server)
    m = mount(srv.url(), options=["allow_plaintext"], password=test_user.password,
              cafile=certs.ca_file)
    assert fs("read", m.mountpoint / "hello.txt")["data"].encode() == CONTENT
    assert "WITHOUT encryption" not in m.log_text()
    assert srv.count_resumed_data() >= 1


# --- anonymous ---------------------------------------------------------------------------------

def test_anonymous_only_when_asked(fake_server, mount, certs):
    srv = fake_server(user="anonymous", password="anonymous@", files={"/pub.txt": CONTENT})
    # No user name and nothing in a netrc: an error, never a silent anonymous login.
    url = srv.url().replace("anonymous@", "")
    env = dict(os.environ, HOME="/nonexistent")
    log = failed_start(mount(url, cafile=certs.ca_file, env=env, start=False))
    assert "no user name" in log and "-o anonymous" in log
    assert srv.commands("USER") == []
    # Asked for: USER anonymous, PASS "anonymous@" (no secret of the user's).
    m = mount(url, options=["anonymous"], cafile=certs.ca_file, env=env)
    assert fs("read", m.mountpoint / "pub.txt")["data"].encode() == CONTENT
    assert [a for _, _, a in srv.commands("USER")][:1] == ["anonymous"]
    assert {a for _, _, a in srv.commands("PASS")} == {"anonymous@"}


def test_anonymous_conflicting_with_a_user_is_refused(fake_server, mount, certs):
    srv = fake_server()
    log = failed_start(mount(srv.url(), options=["anonymous"], cafile=certs.ca_file,
                             start=False))
    assert "-o anonymous but user faker" in log


# --- secret sources ----------------------------------------------------------------------------

def test_credentials_file_readable_by_others_is_refused(ftp_server, mount, certs, test_user,
                                                        tmp_path):
    srv = start_vsftpd(ftp_server)
    cred = tmp_path / "cred"
    cred.write_text(f"password={test_user.password}\n")
    cred.chmod(0o644)
    log = failed_start(mount(srv.url(), options=[f"credentials={cred}"],
                             cafile=certs.ca_file, start=False))
    assert (f"credentials file {cred} is accessible by group or others (mode 0644): "
            f"refusing to use it; run chmod 600 {cred}") in log
    assert test_user.password not in log
    assert vsftpd_commands(srv, "USER") == []


def test_credentials_file_supplies_user_and_password(ftp_server, mount, certs, test_user,
                                                     tmp_path):
    srv = start_vsftpd(ftp_server)
    cred = tmp_path / "cred"
    cred.write_text(f"# for the test server\nuser={test_user.name}\n"
                    f"password={test_user.password}\n")
    cred.chmod(0o600)
    url = srv.url().replace(f"{test_user.name}@", "")
    m = mount(url, options=[f"credentials={cred}"], cafile=certs.ca_file)
    assert fs("read", m.mountpoint / "hello.txt")["data"].encode() == CONTENT


def test_credentials_file_typo_names_the_line(ftp_server, mount, certs, test_user, tmp_path):
    srv = start_vsftpd(ftp_server)
    cred = tmp_path / "cred"
    cred.write_text(f"user={test_user.name}\npasswd={test_user.password}\n")
    cred.chmod(0o600)
    log = failed_start(mount(srv.url(), options=[f"credentials={cred}"],
                             cafile=certs.ca_file, start=False))
    assert f"credentials file {cred} line 2" in log
    assert test_user.password not in log


def test_askpass_program(ftp_server, mount, certs, test_user, tmp_path):
    srv = start_vsftpd(ftp_server)
    prompts = tmp_path / "prompts"
    prog = write_executable(tmp_path / "askpass.sh",
                            f'#!/bin/sh\necho "$1" >> {prompts}\n'
                            f"printf '%s\\n' '{test_user.password}'\n")
    m = mount(srv.url(), options=[f"askpass={prog}"], cafile=certs.ca_file)
    assert fs("read", m.mountpoint / "hello.txt")["data"].encode() == CONTENT
    assert prompts.read_text() == f"Password for {test_user.name}@127.0.0.1: \n"


def test_askpass_program_that_fails_is_refused(ftp_server, mount, certs, tmp_path):
    srv = start_vsftpd(ftp_server)
    prog = write_executable(tmp_path / "cancel.sh", "#!/bin/sh\necho nope\nexit 1\n")
    log = failed_start(mount(srv.url(), options=[f"askpass={prog}"], cafile=certs.ca_file,
                             start=False))
    assert f"askpass={prog}: Operation canceled" in log


def test_askpass_environment_fallback_without_terminal(ftp_server, mount, certs, test_user,
                                                       tmp_path):
    srv = start_vsftpd(ftp_server)
    prog = write_executable(tmp_path / "askpass.sh",
                            f"#!/bin/sh\nprintf '%s\\n' '{test_user.password}'\n")
    env = dict(os.environ, HOME=str(tmp_path), FTPSFS_ASKPASS=str(prog))
    m = mount(srv.url(), cafile=certs.ca_file, env=env)
    assert fs("listdir", m.mountpoint)["names"] == ["hello.txt"]


def test_password_prompt_on_the_terminal_without_echo(ftp_server, ftpsfs_bin, certs, test_user,
                                                      tmp_path):
    srv = start_vsftpd(ftp_server)
    mnt = tmp_path / "mnt-tty"
    mnt.mkdir()
    m = Mount(ftpsfs_bin, srv.url(), mnt, None, cafile=certs.ca_file)
    master, slave = os.openpty()

    def controlling_tty():
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    env = dict(os.environ, HOME=str(tmp_path))
    env.pop("FTPSFS_ASKPASS", None)
    env.pop("SSH_ASKPASS", None)
    with open(m.log_path, "ab") as log:
        m.proc = subprocess.Popen(m.argv(), stdin=slave, stdout=log, stderr=subprocess.STDOUT,
                                  env=env, preexec_fn=controlling_tty)
    os.close(slave)
    seen = b""
    try:
        end = time.monotonic() + 20
        while b"Password for" not in seen and time.monotonic() < end:
            if select.select([master], [], [], 0.5)[0]:
                seen += os.read(master, 4096)
        assert f"Password for {test_user.name}@127.0.0.1: ".encode() in seen, seen
        os.write(master, test_user.password.encode() + b"\n")
        assert wait_for(lambda: is_fuse_mounted(mnt), timeout=20), m.log_text()
        while select.select([master], [], [], 0.5)[0]:
            try:
                seen += os.read(master, 4096)
            except OSError:
                break
        assert test_user.password.encode() not in seen  # no echo
        assert fs("listdir", mnt)["names"] == ["hello.txt"]
    finally:
        m.stop()
        os.close(master)


# --- secrets never visible ---------------------------------------------------------------------

@pytest.mark.parametrize("source", ["password_stdin", "credentials", "askpass"])
def test_password_never_in_ps_or_debug_log(ftp_server, mount, certs, test_user, tmp_path,
                                           source):
    srv = start_vsftpd(ftp_server)
    password = None
    if source == "password_stdin":
        options, password = [], test_user.password
    elif source == "credentials":
        cred = tmp_path / "cred"
        cred.write_text(f"password={test_user.password}\n")
        cred.chmod(0o600)
        options = [f"credentials={cred}"]
    else:
        prog = write_executable(tmp_path / "askpass.sh",
                                f"#!/bin/sh\nprintf '%s\\n' '{test_user.password}'\n")
        options = [f"askpass={prog}"]
    m = mount(srv.url(), options=options, password=password, cafile=certs.ca_file)
    assert fs("read", m.mountpoint / "hello.txt")["data"].encode() == CONTENT
    assert fs("write", m.mountpoint / "new.txt", "x") == {}
    assert test_user.password.encode() not in visible_process_text(m.proc.pid)
    m.stop()
    log = m.log_text()
    assert "> PASS ****" in log  # the debug log shows the dialogue, redacted
    assert test_user.password not in log


# --- symlinks ----------------------------------------------------------------------------------

SYMLINKS = {
    "inside": "sub/file",
    "abs_inside": "/sub/file",
    "abs_etc": "/etc/passwd",
    "up": "../../..",
    "sub/ok": "../top.txt",
    "sub/up2": "../../x",
    "sub/abs_in": "/sub/file",
    "sub/sneaky": "file/../../../etc",
}


def _symlink_server(ftp_server, kind):
    srv = ftp_server(kind)
    srv.put("top.txt", b"top\n")
    srv.put("sub/file", b"in sub\n")
    for name, target in SYMLINKS.items():
        os.symlink(target, srv.root_dir / name)
        os.chown(srv.root_dir / name, srv.user.uid, srv.user.gid, follow_symlinks=False)
    return srv


@pytest.mark.parametrize("kind", ["vsftpd", "proftpd"])
def test_symlinks_are_contained_by_default(ftp_server, mounted, kind):
    srv = _symlink_server(ftp_server, kind)
    m = mounted(srv)
    mnt = m.mountpoint
    # Listed first, as ls would: ProFTPD's MLST of a single symlink describes its target.
    assert "inside" in fs("listdir", mnt)["names"]
    assert "ok" in fs("listdir", mnt / "sub")["names"]
    assert fs("readlink", mnt / "inside") == {"target": "sub/file"}
    assert fs("read", mnt / "inside")["data"] == "in sub\n"
    # An absolute target in the server's (chrooted) tree points into the mount.
    assert fs("readlink", mnt / "abs_inside") == {"target": "sub/file"}
    assert fs("read", mnt / "abs_inside")["data"] == "in sub\n"
    assert fs("readlink", mnt / "sub/abs_in") == {"target": "file"}
    # /etc/passwd of the chroot: inside the mount (and absent), never this machine's.
    assert fs("readlink", mnt / "abs_etc") == {"target": "etc/passwd"}
    assert fs("read", mnt / "abs_etc").get("errno") == errno.ENOENT
    assert fs("readlink", mnt / "sub/ok") == {"target": "../top.txt"}
    assert fs("read", mnt / "sub/ok")["data"] == "top\n"
    for name in ("sub/up2", "sub/sneaky"):
        r = fs("readlink", mnt / name)
        assert r.get("errno") == errno.EPERM, (name, r)
        assert fs("read", mnt / name).get("errno") == errno.EPERM
    assert "symlink /sub/up2 -> ../../x points outside the mount" in m.log_text()
    # ProFTPD's LIST leaves out a link that climbs above its chroot, and its MLSD gives
    # no target: no target known is ENOENT, which is just as contained.
    r = fs("readlink", mnt / "up")
    assert r.get("errno") in ((errno.EPERM,) if kind == "vsftpd"
                              else (errno.EPERM, errno.ENOENT)), r


def test_symlinks_contained_in_a_subdirectory_mount(ftp_server, mounted):
    srv = _symlink_server(ftp_server, "vsftpd")
    m = mounted(srv, path="/sub")
    mnt = m.mountpoint
    assert fs("readlink", mnt / "abs_in") == {"target": "file"}
    assert fs("read", mnt / "abs_in")["data"] == "in sub\n"
    for name in ("ok", "up2", "sneaky"):  # ../top.txt now leaves the mount
        assert fs("readlink", mnt / name).get("errno") == errno.EPERM, name


def test_no_contain_symlinks_shows_server_targets(ftp_server, mounted):
    srv = _symlink_server(ftp_server, "vsftpd")
    mnt = mounted(srv, options=["no_contain_symlinks"]).mountpoint
    assert fs("readlink", mnt / "up") == {"target": "../../.."}
    assert fs("readlink", mnt / "sub/sneaky") == {"target": "file/../../../etc"}
    assert fs("readlink", mnt / "abs_inside") == {"target": "sub/file"}


def test_no_transform_symlinks_refuses_absolute_targets(ftp_server, mounted):
    srv = _symlink_server(ftp_server, "vsftpd")
    mnt = mounted(srv, options=["no_transform_symlinks"]).mountpoint
    assert fs("readlink", mnt / "abs_inside").get("errno") == errno.EPERM
    assert fs("readlink", mnt / "inside") == {"target": "sub/file"}


# --- hostile listings --------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["mlsd", "list"])
def test_names_with_nul_bytes_are_dropped(fake_server, mount, certs, fmt):
    def line(name):
        if fmt == "mlsd":
            return b"type=file;size=6;modify=20240101000000; " + name
        return b"-rw-r--r--    1 ftp      ftp             6 Jan 01  2024 " + name

    listing = [line(b"bad\x00name"), line(b"\x00"), line(b"nul\x00/../escape"),
               line(b"normal.txt")]
    srv = fake_server(files={"/normal.txt": b"hello\n"}, listings={"/": listing},
                      mlst=fmt == "mlsd")
    m = mount(srv.url(), password=srv.password, cafile=certs.ca_file)
    assert fs("listdir", m.mountpoint)["names"] == ["normal.txt"]
    log = m.log_text()
    assert len(re.findall("dropped a directory entry with an unusable name", log)) == 3, log
    assert fs("read", m.mountpoint / "normal.txt")["data"] == "hello\n"
    assert m.proc.poll() is None


HUGE_ENTRIES = 1_200_000  # beyond the 1,000,000-entry limit of one listing
BIG_ENTRIES = 200_000     # within it
# Measured: ~200 MiB at the moment the 1,000,000th entry is refused (ASan: ~2x). Without the
# limit, 1.2 M entries would be kept and cost ~1.2 GiB.
RSS_LIMIT_MIB = 300


def _is_sanitized(binary):
    out = subprocess.run(["ldd", str(binary)], stdout=subprocess.PIPE, text=True).stdout
    return "libasan" in out


def _mlsd_lines(n, prefix):
    return [b"type=file;size=1;modify=20240101000000; %s%07d" % (prefix, i) for i in range(n)]


def test_huge_listing_fails_cleanly_with_bounded_memory(fake_server, mount, certs, ftpsfs_bin):
    srv = fake_server(files={"/small/x": b"x"}, dirs=["/huge", "/big"],
                      listings={"/huge": _mlsd_lines(HUGE_ENTRIES, b"f"),
                                "/big": _mlsd_lines(BIG_ENTRIES, b"g")})
    m = mount(srv.url(), password=srv.password, cafile=certs.ca_file,
              options=["timeout=30", "dir_timeout=0", "attr_timeout=0"])
    before = vm_hwm_kib(m.proc.pid)
    r = fs("listdir", m.mountpoint / "huge")
    assert r.get("errno") == errno.EIO, errname(r)
    peak = vm_hwm_kib(m.proc.pid)
    limit = RSS_LIMIT_MIB * 1024 * (2.5 if _is_sanitized(ftpsfs_bin) else 1)
    assert peak < limit, f"ftpsfs peak RSS {peak} KiB (was {before} KiB)"
    # Still up and useful, also for a large listing within the limit.
    big = fs("listdir", m.mountpoint / "big")
    assert len(big.get("names", [])) == BIG_ENTRIES, errname(big)
    assert fs("listdir", m.mountpoint / "small")["names"] == ["x"]
    assert m.proc.poll() is None
