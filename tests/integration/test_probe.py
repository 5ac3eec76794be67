"""ftpsfs --probe through the real binary: against vsftpd (require_ssl_reuse=YES), ProFTPD and
Pure-FTPd started by the fixtures, and against the scripted fake server for what real servers
won't do on demand (FileZilla Server's session rule, passive mode blocked, a connection limit,
no EPSV, a hostile FEAT).

The report is read as its "key: value" lines; the tests assert the facts it states, the
suggested options, the fstab line and the exit status - and, where the server keeps a log, that
the server saw what the report says (one data connection refused for not resuming).
"""

import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from conftest import require_ftpsfs_binary  # noqa: E402
from fakeserver import FILEZILLA_REFUSAL  # noqa: E402
from mount import Mount  # noqa: E402
from servers import SERVER_KINDS  # noqa: E402

PROBE_TIMEOUT = 240  # 8 logins on a loaded vsftpd take seconds each
HELLO = b"hello from the server\n" * 40

# Exit status (include/ftpsfs/probe.h)
OK, USAGE, CONNECT, TLS, LOGIN, PATH, DATA = 0, 1, 2, 3, 4, 5, 6


class Report:
    """The probe's output: exit status, stdout, stderr, and the facts of its lines."""

    def __init__(self, res, argv):
        self.rc = res.returncode
        self.stdout = res.stdout
        self.stderr = res.stderr
        self.argv = argv
        self.facts = {}
        for line in self.stdout.splitlines():
            key, sep, value = line.partition(": ")
            if sep:
                self.facts.setdefault(key, []).append(value)

    def __str__(self):
        return (f"$ {' '.join(self.argv)}\nexit {self.rc}\n--- stdout\n{self.stdout}"
                f"--- stderr\n{self.stderr}")

    def __getitem__(self, key):
        values = self.facts.get(key, [])
        assert len(values) == 1, f"{len(values)} '{key}:' lines in the report\n{self}"
        return values[0]

    def all(self, key):
        return self.facts.get(key, [])

    def suggested(self):
        value = self["suggested options"]
        return [] if value == "none" else value.split(",")

    def fstab(self):
        """The fstab line's six fields."""
        fields = self["fstab"].split()
        assert len(fields) == 6, str(self)
        return fields


def run_probe(url, password, options=(), extra_args=(), stdin=None):
    argv = [str(require_ftpsfs_binary()), "--probe", url, *extra_args]
    opts = list(options) + (["password_stdin"] if password is not None else [])
    if opts:
        argv += ["-o", ",".join(opts)]
    res = subprocess.run(argv, input=stdin if stdin is not None else f"{password}\n",
                         capture_output=True, text=True, timeout=PROBE_TIMEOUT)
    report = Report(res, argv)
    # An ASan/UBSan build (FTPSFS_BIN) reports on stderr: that fails the test.
    assert not any(m in res.stderr for m in Mount.SANITIZER_MARKERS), str(report)
    return report


def spki_fingerprint(cert_file):
    """sha256:HEX of the certificate's public key, as the openssl tools compute it."""
    pub = subprocess.run(["openssl", "x509", "-in", str(cert_file), "-pubkey", "-noout"],
                         capture_output=True, check=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=pub,
                         capture_output=True, check=True).stdout
    import hashlib
    return "sha256:" + hashlib.sha256(der).hexdigest()


def assert_nothing_left(root, before):
    assert sorted(os.listdir(root)) == sorted(before), "the probe left files behind"


# --- real servers -----------------------------------------------------------------------------

# name: (server kind, server keyword arguments, extra probe options)
SCENARIOS = {
    "vsftpd": ("vsftpd", {}, []),
    "proftpd": ("proftpd", {}, []),
    "pureftpd": ("pureftpd", {}, []),
    "vsftpd-limit": ("vsftpd", {"extra": {"max_per_ip": "3"}}, []),
    "proftpd-no-passive": ("proftpd",
                           {"extra_lines": ["<Limit EPSV PASV>", "  DenyAll", "</Limit>"]}, []),
    "proftpd-readonly": ("proftpd", {}, ["probe_readonly"]),
    "vsftpd-implicit": ("vsftpd", {"implicit": True}, []),
}


class Probed:
    """A started server and the report of one probe of it."""

    def __init__(self, server, report, root_before):
        self.server = server
        self.report = report
        self.root_before = root_before


@pytest.fixture(scope="module")
def probed(certs, test_user, roots_base, tmp_path_factory):
    """get(name) -> Probed: the SCENARIOS server, started and probed once per module."""
    done, servers = {}, []

    def get(name):
        if name not in done:
            kind, kw, options = SCENARIOS[name]
            root = Path(tempfile.mkdtemp(dir=roots_base, prefix=f"probe-{name}-"))
            root.chmod(0o755)
            test_user.chown_tree(root)
            srv = SERVER_KINDS[kind](root, certs, test_user,
                                     workdir=tmp_path_factory.mktemp(name), **kw)
            servers.append(srv.start())
            srv.put("hello.txt", HELLO)
            before = os.listdir(root)
            report = run_probe(srv.url("/"), test_user.password,
                               [f"cafile={certs.ca_file}", *options])
            done[name] = Probed(srv, report, before)
        return done[name]

    yield get
    for srv in servers:
        srv.stop()


REAL = ["vsftpd", "proftpd", "pureftpd"]


@pytest.mark.parametrize("name", REAL)
def test_a_mount_would_work(probed, name):
    r = probed(name).report
    assert r.rc == OK, str(r)
    assert r["result"] == "a mount with these options would work"
    assert r["exit status"] == "0"


@pytest.mark.parametrize("name", REAL)
def test_greeting_and_every_feat_line(probed, name):
    r = probed(name).report
    assert r.all("greeting")[0].startswith("220"), str(r)
    feat = r.all("feat")
    assert feat[0].startswith("211-") and feat[-1].startswith("211 "), str(r)
    assert " EPSV" in feat and " PBSZ" in feat, str(r)


@pytest.mark.parametrize("name", REAL)
def test_tls_facts(probed, certs, name):
    r = probed(name).report
    assert r["tls version"] == "TLSv1.3", str(r)
    assert r["certificate 1 subject"] == "CN=localhost"
    assert r["certificate 1 issuer"] == "CN=ftpsfs test CA"
    assert "IP:127.0.0.1" in r["certificate 1 names"].split(", ")
    assert r["name checked"] == "127.0.0.1 (as an IP address): in the certificate"
    assert r["fingerprint"].split()[0] == spki_fingerprint(certs.cert_file)
    assert r["verification"].startswith("passed"), str(r)


@pytest.mark.parametrize("name", REAL)
def test_every_data_connection_mode_works(probed, name):
    r = probed(name).report
    for mode in ("passive EPSV", "passive PASV", "active EPRT", "active PORT"):
        assert r[mode] == "works", str(r)


@pytest.mark.parametrize("name", ["vsftpd", "proftpd"])
def test_list_retr_stor_resume_the_session(probed, name):
    p = probed(name)
    for verb in ("LIST", "RETR", "STOR"):
        assert p.report[f"resumed {verb}"].startswith("yes "), str(p.report)
    # The server saw it: every data connection but the deliberate one resumed.
    assert p.server.count_resumed_data() >= 6


def test_vsftpd_enforces_reuse_with_522_and_closes_the_session(probed):
    p = probed("vsftpd")
    enforced = p.report["reuse enforced"]
    assert enforced.startswith("yes "), str(p.report)
    assert "522 SSL connection failed: session reuse required" in enforced
    assert "closed the control connection" in enforced
    assert p.server.count_rejected_data() == 1  # exactly the deliberate one


def test_proftpd_enforces_reuse_with_425_and_keeps_the_session(probed):
    p = probed("proftpd")
    enforced = p.report["reuse enforced"]
    assert enforced.startswith("yes "), str(p.report)
    assert "425 Unable to build data connection: Operation not permitted" in enforced
    assert "closed the control connection" not in enforced
    assert p.server.wait_for_log("rejecting data connection")
    assert p.server.count_rejected_data() == 1


def test_pureftpd_does_not_enforce_reuse(probed):
    r = probed("pureftpd").report
    assert r["reuse enforced"].startswith("no "), str(r)
    # Pure-FTPd issues no TLS 1.3 session ticket: nothing to resume, and it does not mind.
    assert r["resumed LIST"].startswith("no (the server issued no session"), str(r)
    assert "no TLS 1.3 session ticket" in r["resumed LIST"]


def test_vsftpd_commands(probed):
    r = probed("vsftpd").report
    assert r["MLSD"].startswith("no "), str(r)
    for yes in ("SIZE", "MDTM", "APPE", "MDTM with a time", "SITE CHMOD"):
        assert r[yes] == "yes", f"{yes}\n{r}"
    assert r["REST STREAM"].startswith("yes "), str(r)
    for no in ("MFMT", "SITE UTIME", "SITE SYMLINK"):
        assert r[no].startswith("no ("), f"{no}\n{r}"
    assert r["file times"] == "can be set (with MDTM time path)"
    assert r["HASH"].startswith("no ")


def test_vsftpd_directory_times_suggest_ignore_dir_times(probed):
    r = probed("vsftpd").report
    assert r["directory times"].startswith("cannot be set (550 "), str(r)
    assert "ignore_dir_times" in r.suggested()
    assert "ignore_dir_times" in r.fstab()[3].split(",")


def test_proftpd_commands(probed):
    r = probed("proftpd").report
    assert re.fullmatch(r"yes \(\d+ entr(y|ies)\)", r["MLSD"]), str(r)
    for yes in ("MLST", "SIZE", "MDTM", "APPE", "MFMT", "SITE UTIME", "SITE CHMOD",
                "SITE SYMLINK", "UTF8"):
        assert r[yes].startswith("yes"), f"{yes}\n{r}"
    assert r["file times"] == "can be set (with MFMT)"
    assert r["directory times"] == "can be set"
    assert r.suggested() == [], str(r)


def test_learned_what_a_mount_learns(probed):
    """The Learned section reads the struct a mount learns into (ftp_learned.h): commands go
    in flights; vsftpd lists with LIST in UTC (hello.txt is recent: MDTM agrees), ProFTPD
    and Pure-FTPd list with MLSD, whose times need no zone."""
    r = probed("vsftpd").report
    assert r["pipelining"].startswith("yes: "), str(r)
    assert r["list time zone"] == "UTC+0:00", str(r)
    for name in ("proftpd", "pureftpd"):
        r = probed(name).report
        assert r["pipelining"].startswith("yes: "), str(r)
        assert r["list time zone"] == "not needed (MLSD times are UTC)", str(r)


@pytest.mark.parametrize("name", REAL)
def test_nothing_is_left_on_the_server(probed, name):
    p = probed(name)
    assert p.report["temporary files"].endswith("created and deleted"), str(p.report)
    assert_nothing_left(p.server.root_dir, p.root_before)


def test_fstab_line(probed, certs):
    p = probed("vsftpd")
    source, mnt, fstype, options, freq, passno = p.report.fstab()
    assert source == p.server.url("/")
    assert (mnt, fstype, freq, passno) == ("/mnt/ftp", "fuse.ftpsfs", "0", "0")
    opts = options.split(",")
    assert opts[0] == "_netdev"
    assert f"cafile={certs.ca_file}" in opts
    assert "password_stdin" not in opts  # no stdin at boot ...
    assert "credentials=/etc/ftpsfs/127.0.0.1.cred" in opts  # ... a credentials file instead


@pytest.mark.parametrize("name", REAL)
def test_the_password_is_never_printed(probed, test_user, name):
    r = probed(name).report
    assert test_user.password not in r.stdout + r.stderr


def test_connection_limit_suggests_max_conns(probed):
    r = probed("vsftpd-limit").report
    assert r["connection limit"].startswith("3 (connection 4 was refused: "), str(r)
    assert "too many connections" in r["connection limit"].lower()
    assert "max_conns=2" in r.suggested()
    assert r.rc == OK  # a mount copes (its pool shrinks); the suggestion spares the refusals


def test_passive_mode_refused_suggests_active(probed):
    r = probed("proftpd-no-passive").report
    assert not r["passive EPSV"] == "works" and not r["passive PASV"] == "works", str(r)
    assert r["active EPRT"] == "works"
    assert "active" in r.suggested()
    assert "active" in r.fstab()[3].split(",")
    assert r.rc == DATA
    assert r["result"].startswith("a mount with these options would fail: passive mode")
    # The other checks ran in active mode.
    assert r["resumed STOR"].startswith("yes "), str(r)


def test_probe_readonly_changes_nothing(probed):
    p = probed("proftpd-readonly")
    r = p.report
    assert r.rc == OK, str(r)
    assert r["resumed STOR"] == "not checked (probe_readonly)"
    assert r["resumed RETR"].startswith("yes "), str(r)  # hello.txt was read
    assert r["SIZE"] == "yes" and r["REST STREAM"].startswith("yes ")
    assert "temporary files" not in r.facts
    log = p.server.log_text()
    for verb in ("STOR", "APPE", "MKD", "DELE", "RMD", "MFMT", "SITE"):
        assert not re.search(rf"dispatching CMD command '{verb}\b", log), verb
    assert_nothing_left(p.server.root_dir, p.root_before)


def test_implicit_tls(probed):
    r = probed("vsftpd-implicit").report
    assert r.rc == OK, str(r)
    assert r["server"].endswith(", implicit TLS")
    assert r.all("greeting")[0].startswith("220")
    assert r["resumed LIST"].startswith("yes ") and r["reuse enforced"].startswith("yes ")
    assert r.fstab()[0].startswith("ftps://")


def test_unknown_option_refused_before_any_traffic(fake_server):
    srv = fake_server()
    r = run_probe(srv.url("/"), srv.password, ["no_such_option=1"])
    assert r.rc == USAGE, str(r)
    assert srv.commands() == []


def test_a_mount_point_is_refused(fake_server, tmp_path):
    srv = fake_server()
    r = run_probe(srv.url("/"), srv.password, extra_args=[str(tmp_path)])
    assert r.rc == USAGE and "no mount point" in r.stderr, str(r)


# --- the fake server ----------------------------------------------------------------------------

def probe_fake(srv, certs, *options):
    return run_probe(srv.url("/"), srv.password,
                     [f"cafile={certs.ca_file}", "timeout=5", "connect_timeout=5", *options])


def test_filezilla_rule_reported_with_450(fake_server, certs):
    srv = fake_server(files={"/f.bin": HELLO}, session_rule=FILEZILLA_REFUSAL)
    r = probe_fake(srv, certs)
    assert r.rc == OK, str(r)
    assert r["resumed LIST"].startswith("yes ")
    enforced = r["reuse enforced"]
    assert enforced.startswith("yes ") and "%d %s" % FILEZILLA_REFUSAL in enforced, str(r)
    assert srv.data_refused == 1
    assert srv.data_resumed == srv.data_connections - 1


def test_no_tls13_ticket_and_reuse_enforced_suggests_tls12(fake_server, certs):
    """TLS 1.3 without session tickets: nothing can resume, and the server refuses every data
    connection. With TLS 1.2 (session IDs) they resume: the probe says so."""
    srv = fake_server(files={"/f.bin": HELLO}, session_rule=FILEZILLA_REFUSAL, tls13_tickets=0)
    r = probe_fake(srv, certs)
    assert r.rc == DATA, str(r)
    # What the options given (TLS 1.3) get, then what TLS 1.2 changes.
    assert r["passive EPSV"] == ("the data connection was made; then transfer failed: "
                                 "%d %s" % FILEZILLA_REFUSAL)
    assert r["with tls_max=1.2"].startswith("passive EPSV works and its data connection "
                                            "resumed"), str(r)
    assert r["resumed LIST"].startswith("yes ")
    assert "tls_max=1.2" in r.suggested()
    assert "tls_max=1.2" in r.fstab()[3].split(",")
    assert r["result"].startswith("a mount with these options would fail: with TLS 1.3")


def test_tls13_handshake_failure_suggests_tls12(fake_server, certs):
    """A TLS 1.3 suite the server does not have: the 1.3 handshake fails, 1.2 works; the probe
    goes on with 1.2 and says a mount needs tls_max=1.2."""
    srv = fake_server(files={"/f.bin": HELLO})
    r = probe_fake(srv, certs, "tls13_ciphersuites=TLS_AES_128_CCM_8_SHA256")
    assert r.rc == TLS, str(r)
    assert r["tls 1.3"].startswith("the handshake failed ("), str(r)
    assert r["tls version"] == "TLSv1.2"
    assert r["resumed LIST"].startswith("yes ")
    assert r.suggested() == ["tls_max=1.2"]
    assert r["result"] == "a mount with these options would fail: the TLS 1.3 handshake fails"


def _closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _block_passive(srv):
    """Passive replies name a port nothing listens on: a firewall in between."""
    srv.on("EPSV", lambda s, arg: s.reply(229, f"Extended Passive Mode (|||{_closed_port()}|)"))
    srv.on("PASV", lambda s, arg: s.reply(
        227, "Entering Passive Mode (127,0,0,1,%d,%d)." % divmod(_closed_port(), 256)))


def test_passive_blocked_by_a_firewall_suggests_active(fake_server, certs):
    srv = fake_server(files={"/f.bin": HELLO}, setup=_block_passive)
    r = probe_fake(srv, certs)
    assert r["passive EPSV"].startswith("fails: cannot open data connection"), str(r)
    assert r["passive PASV"].startswith("fails: cannot open data connection")
    assert r["active EPRT"] == "works"
    assert r.suggested() == ["active"]
    assert r.rc == DATA


def test_with_active_given_and_passive_blocked_a_mount_works(fake_server, certs):
    srv = fake_server(files={"/f.bin": HELLO}, setup=_block_passive)
    r = probe_fake(srv, certs, "active")
    assert r.rc == OK, str(r)
    assert r.suggested() == []
    assert "active" in r.fstab()[3].split(",")


def test_without_epsv_pasv_is_used(fake_server, certs):
    srv = fake_server(files={"/f.bin": HELLO}, epsv=False)
    r = probe_fake(srv, certs)
    assert r["passive EPSV"].startswith("not supported by the server"), str(r)
    assert r["passive PASV"] == "works"
    assert r.rc == OK


def test_fake_connection_limit(fake_server, certs):
    srv = fake_server(files={"/f.bin": HELLO}, max_sessions=2)
    r = probe_fake(srv, certs)
    assert r["connection limit"].startswith("2 (connection 3 was refused: "), str(r)
    assert "421 Too many connections" in r["connection limit"]
    assert srv.sessions_refused >= 1
    assert "max_conns=1" in r.suggested()


def test_unverified_certificate_exit_3_with_fingerprint_and_no_login(fake_server, certs):
    """Without the CA, the certificate does not verify: exit 3, the key's fingerprint as the
    suggested pin, and nothing after the TLS handshake - no USER, no password."""
    srv = fake_server()
    r = run_probe(srv.url("/"), srv.password, ["timeout=5"])
    fp = spki_fingerprint(certs.cert_file)
    assert r.rc == TLS, str(r)
    assert r["fingerprint"].split()[0] == fp
    assert r["verification"].startswith("FAILED: "), str(r)
    assert r.suggested() == [f"fingerprint={fp}"]
    assert f"fingerprint={fp}" in r.fstab()[3].split(",")
    assert r["login"].startswith("not attempted")
    assert srv.commands("USER") == [] and srv.commands("PASS") == []


def test_pinned_fingerprint_verifies(fake_server, certs):
    srv = fake_server(files={"/f.bin": HELLO})
    fp = spki_fingerprint(certs.cert_file)
    r = run_probe(srv.url("/"), srv.password, [f"fingerprint={fp}", "timeout=5"])
    assert r.rc == OK, str(r)
    assert r["verification"] == "passed (the key matches -o fingerprint)"
    assert r["name checked"].startswith("none, the pin is the identity")


def test_login_refused_exit_4(fake_server, certs):
    srv = fake_server()
    r = run_probe(srv.url("/"), "wrong-password", [f"cafile={certs.ca_file}"])
    assert r.rc == LOGIN, str(r)
    assert r["login"].startswith("FAILED: login refused: 530")


def test_missing_remote_directory_exit_5(fake_server, certs):
    srv = fake_server()
    r = run_probe(srv.url("//no/such/dir"), srv.password, [f"cafile={certs.ca_file}"])
    assert r.rc == PATH, str(r)
    assert r["remote directory"].startswith("FAILED: remote directory /no/such/dir: 550")


def test_unreachable_server_exit_2(certs):
    r = run_probe(f"ftp://u@127.0.0.1:{_closed_port()}/", "pw", [f"cafile={certs.ca_file}"])
    assert r.rc == CONNECT, str(r)
    assert "Connection refused" in r["login"]


def test_hostile_server_text_is_escaped(fake_server, certs):
    """Server text reaches the report escaped: in FEAT, and in a refusal it quotes."""
    def hostile_feat(session, arg):
        session.send_raw(b"211-Features:\r\n \x1b[2J\x07EVIL\xff\r\n EPSV\r\n"
                         b" MLST type*;size*;\r\n211 End\r\n")

    def hostile_mlsd(session, arg):
        session.send_raw(b"550 \x1b]0;pwned\x07 no\r\n")

    srv = fake_server(files={"/f.bin": HELLO})
    srv.on("FEAT", hostile_feat)
    srv.on("MLSD", hostile_mlsd)
    r = probe_fake(srv, certs)
    assert " \\x1b[2J\\x07EVIL\\xff" in r.all("feat"), str(r)
    assert r["MLSD"].startswith("offered, but fails: ") and "550 \\x1b]0;pwned\\x07 no" in r["MLSD"]
    assert "\x1b" not in r.stdout and "\x07" not in r.stdout


def _ls_time(t):
    """(month, day, "HH:MM") as ls shows epoch second `t` read as UTC."""
    tm = time.gmtime(t)
    months = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
    return (months[tm.tm_mon - 1], tm.tm_mday, f"{tm.tm_hour:02d}:{tm.tm_min:02d}")


def test_list_time_zone_learnt_as_a_mount_learns_it(fake_server, certs):
    """A server whose LIST shows local time in UTC+2 while MDTM answers in UTC: the probe
    learns the zone the mount's way (ftp_zone_learn()) and reports it."""
    file_t = int(time.time()) - 3 * 86400 + 37  # recent: listed to the minute
    srv = fake_server(files={"/f.bin": HELLO}, mlst=False, mdtm=True,
                      list_times={"/f.bin": _ls_time(file_t + 7200)})
    srv.mtimes["/f.bin"] = time.strftime("%Y%m%d%H%M%S", time.gmtime(file_t))
    r = probe_fake(srv, certs, "probe_readonly")
    assert r["list time zone"] == "UTC+2:00 (a mount corrects LIST times by it)", str(r)
