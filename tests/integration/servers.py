"""Real FTPS servers on 127.0.0.1 for the integration tests (stdlib only).

vsftpd is the installed Debian package; ProFTPD and Pure-FTPd run from the private prefix
that tests/deps.sh unpacks with `dpkg -x` (the packages conflict, see shared/SERVERS.md).
Every server gets its own config, logs and pid in a private work directory, a free
control port, a private passive-port range and its own root directory; stop() ends the
listener and every per-connection process it forked.
"""

import ctypes
import json
import os
import pwd
import random
import re
import signal
import shutil
import socket
import stat
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

PREFIX = Path(os.environ.get("FTPSFS_TEST_PREFIX", "/var/tmp/ftpsfs-test-prefix"))
LOCALHOST = "127.0.0.1"
LOCALHOST6 = "::1"


# --- ports --------------------------------------------------------------------------------------

def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago (the kernel picks it)."""
    with socket.socket() as s:
        s.bind((LOCALHOST, 0))
        return s.getsockname()[1]


# Passive ranges handed out by this process and not yet released: (low, high) inclusive.
_reserved_ranges = set()

# Passive ranges are taken below the kernel's ephemeral range (32768-60999 by default), so that
# neither free_port() nor the client side of any connection can land inside one.
_PASV_LOW, _PASV_HIGH = 20000, 32000


def _bindable(port):
    with socket.socket() as s:
        try:
            s.bind((LOCALHOST, port))
            return True
        except OSError:
            return False


def reserve_port_range(size=16):
    """A free range of `size` ports (low, high) that no other live server of ours uses.

    Release it with release_port_range() when the server stops."""
    for _ in range(200):
        low = random.randrange(_PASV_LOW, _PASV_HIGH - size, size)
        high = low + size - 1
        if any(low <= h and l <= high for l, h in _reserved_ranges):
            continue
        if all(_bindable(p) for p in range(low, high + 1)):
            _reserved_ranges.add((low, high))
            return low, high
    raise RuntimeError("no free passive port range found")


def release_port_range(rng):
    _reserved_ranges.discard(rng)


def is_listening(port, addr=LOCALHOST):
    """True if something listens on addr:port (read from /proc, without connecting: a probe
    connection would show up in the server's log and could spoil log-line counts). addr is
    127.0.0.1 or ::1."""
    if addr == LOCALHOST6:
        want, table = "00000000000000000000000001000000:%04X" % port, "/proc/net/tcp6"
    else:
        want = "%s:%04X" % ("".join("%02X" % int(b) for b in reversed(addr.split("."))), port)
        table = "/proc/net/tcp"
    with open(table) as f:
        next(f)
        for line in f:
            fields = line.split()
            if fields[1] == want and fields[3] == "0A":  # 0A = TCP_LISTEN
                return True
    return False


# --- processes ----------------------------------------------------------------------------------
#
# A server's processes can't all be reached through its process group: vsftpd's per-connection
# process calls setsid(), so a logged-in session outlives a killpg() of the listener. stop()
# therefore kills the listener's whole process tree. This process becomes a "child subreaper"
# so that orphaned server processes are re-parented to it (not to PID 1) and stay findable, and
# it reaps them itself (PID 1 on these machines reaps lazily: `pgrep` would show zombies).

_server_leaders = set()  # PIDs of running server listeners (reaped by their Popen, not here)


def _proc_table():
    """{pid: (comm, state, ppid)} for all processes."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may contain spaces and ")", so split at the last ")"
        head, _, rest = stat.rpartition(")")
        state, ppid = rest.split()[:2]
        table[int(entry)] = (head.partition("(")[2], state, int(ppid))
    return table


def process_tree(pid, table=None):
    """`pid` and all its descendants that have not exited (zombies excluded)."""
    table = table or _proc_table()
    tree, todo = set(), [pid]
    while todo:
        p = todo.pop()
        if p in table and table[p][1] not in ("Z", "X"):
            tree.add(p)
        todo += [c for c, (_, _, ppid) in table.items() if ppid == p and c not in tree]
    return tree


def _become_subreaper():
    PR_SET_CHILD_SUBREAPER = 36
    ctypes.CDLL(None).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def _reap_orphaned_servers():
    """Reap zombie server processes that were re-parented to us (never a running server's
    listener: its Popen does that)."""
    me = os.getpid()
    for pid, (comm, state, ppid) in _proc_table().items():
        if (ppid == me and state == "Z" and comm in ("vsftpd", "proftpd", "pure-ftpd")
                and pid not in _server_leaders):
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass


def _kill_tree(root_pid, term_grace=2.0, timeout=5.0):
    """SIGTERM the process tree under root_pid, SIGKILL it after term_grace seconds, until no
    process of it is left."""
    victims = process_tree(root_pid)
    started = time.monotonic()
    while True:
        table = _proc_table()
        alive = set()
        for p in victims:  # re-walk: also catches children forked since the last look
            alive |= process_tree(p, table)
        victims |= alive
        if not alive:
            return
        elapsed = time.monotonic() - started
        if elapsed > timeout:
            raise RuntimeError(f"processes {sorted(alive)} survive SIGKILL")
        for p in alive:
            try:
                os.kill(p, signal.SIGTERM if elapsed < term_grace else signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.05)


# --- certificates -------------------------------------------------------------------------------

def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


class Certs:
    """A private CA, a server certificate it signed (CN=localhost, SAN localhost/127.0.0.1/::1)
    and a second, unrelated CA (for wrong-CA tests). key_type: "ec" (P-256) or "rsa" (2048)."""

    def __init__(self, dirpath, key_type="ec"):
        self.dir = Path(dirpath)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.key_type = key_type
        self.ca_file = self.dir / "ca.pem"
        self.ca_key_file = self.dir / "ca.key"
        self.cert_file = self.dir / "server.pem"
        self.key_file = self.dir / "server.key"
        self.other_ca_file = self.dir / "other-ca.pem"
        if not self.cert_file.exists():
            self._create()

    def _newkey(self):
        if self.key_type == "ec":
            return ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
        return ["-newkey", "rsa:2048"]

    def _make_ca(self, cert, key, cn):
        _openssl("req", "-x509", *self._newkey(), "-nodes", "-days", "3650",
                 "-keyout", key, "-out", cert, "-subj", "/CN=" + cn,
                 "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=self.dir)

    def _create(self):
        self._make_ca("ca.pem", "ca.key", "ftpsfs test CA")
        self._make_ca("other-ca.pem", "other-ca.key", "ftpsfs unrelated CA")
        (self.dir / "server.ext").write_text(
            "basicConstraints = CA:FALSE\n"
            "keyUsage = critical, digitalSignature%s\n"
            "extendedKeyUsage = serverAuth\n"
            "subjectAltName = DNS:localhost, IP:127.0.0.1, IP:127.0.0.2, IP:::1\n"
            % ("" if self.key_type == "ec" else ", keyEncipherment"))
        _openssl("req", *self._newkey(), "-nodes", "-keyout", "server.key",
                 "-out", "server.csr", "-subj", "/CN=localhost", cwd=self.dir)
        _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-set_serial", str(random.getrandbits(63)), "-days", "3650",
                 "-extfile", "server.ext", "-out", "server.pem", cwd=self.dir)
        for key in self.dir.glob("*.key"):
            key.chmod(0o600)


# --- the test user ------------------------------------------------------------------------------

class TestUser:
    """The system account the servers log in (both servers authenticate against /etc/shadow).

    The shell is /bin/bash because vsftpd's PAM stack (pam_shells) and ProFTPD's valid-shell
    check want a shell listed in /etc/shells."""

    __test__ = False  # not a pytest test class despite the name

    # Another name lets two test runs share a machine: each server start points the account's
    # home at its own root.
    name = os.environ.get("FTPSFS_TEST_USER", "ftpsfstest")
    password = "Pw-ftpsfs-t3st!"

    def __init__(self):
        if subprocess.run(["id", "-u", self.name], capture_output=True).returncode != 0:
            subprocess.run(["useradd", "--no-create-home", "--shell", "/bin/bash",
                            "--home-dir", "/nonexistent", self.name], check=True)
        # Always (re)set the password: cheap, and repairs a user left by an older run.
        subprocess.run(["chpasswd"], input=f"{self.name}:{self.password}\n", text=True,
                       check=True)
        pw = pwd.getpwnam(self.name)
        self.uid, self.gid = pw.pw_uid, pw.pw_gid

    def set_home(self, path):
        if pwd.getpwnam(self.name).pw_dir == str(path):
            return
        res = subprocess.run(["usermod", "--home", str(path), self.name],
                             capture_output=True, text=True)
        if res.returncode == 8:
            # "user is currently used by process": pyftpdlib and ftp-srv run as the test
            # user, and usermod refuses to touch an account with processes. Only the home
            # field changes, so write it under the passwd lock ourselves.
            self._set_home_in_passwd(str(path))
        elif res.returncode != 0:
            raise RuntimeError(f"usermod --home failed: {res.stderr.strip()}")

    def _set_home_in_passwd(self, home):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.lckpwdf() != 0:
            raise RuntimeError("cannot lock /etc/passwd")
        try:
            lines = Path("/etc/passwd").read_text().splitlines(keepends=True)
            for i, line in enumerate(lines):
                fields = line.rstrip("\n").split(":")
                if fields[0] == self.name and len(fields) == 7:
                    fields[5] = home
                    lines[i] = ":".join(fields) + "\n"
            tmp = Path("/etc/passwd.ftpsfs-tmp")
            tmp.write_text("".join(lines))
            st = os.stat("/etc/passwd")
            os.chmod(tmp, stat.S_IMODE(st.st_mode))
            os.replace(tmp, "/etc/passwd")
        finally:
            libc.ulckpwdf()

    def chown_tree(self, path):
        """Give `path` and everything below it to the test user."""
        for dirpath, dirnames, filenames in os.walk(path):
            os.chown(dirpath, self.uid, self.gid)
            for n in dirnames + filenames:
                os.chown(os.path.join(dirpath, n), self.uid, self.gid, follow_symlinks=False)


# --- servers ------------------------------------------------------------------------------------

class _Server:
    """Common start/stop/log handling. Subclasses provide name, _write_config(), _argv()."""

    name = "server"
    START_TIMEOUT = 10.0

    def __init__(self, root_dir, certs, user, implicit=False, tls_max=None, workdir=None):
        self.root_dir = Path(root_dir)
        self.certs = certs
        self.user = user
        self.implicit = implicit
        self.tls_max = tls_max  # None (server default: TLS 1.3) or "1.2"
        self._own_workdir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix=f"ftpsfs-{self.name}-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.stdout_path = self.workdir / "stdout.log"
        self.port = None
        self.pasv_range = None
        self.proc = None
        self._final_log = None

    @property
    def scheme(self):
        return "ftps" if self.implicit else "ftp"

    # The address the server listens on (a subclass may offer ::1).
    host = LOCALHOST

    def url(self, path="/", with_password=False):
        """ftp://USER@127.0.0.1:PORT/path (ftps:// when implicit; [::1] on IPv6)."""
        cred = quote(self.user.name, safe="")
        if with_password:
            cred += ":" + quote(self.user.password, safe="")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{cred}@{host}:{self.port}{path}"

    def start(self):
        assert self.proc is None, "already started"
        # A restart after stop() keeps the port, so that a client (a mount) can reconnect.
        if self.port is None:
            self.port = free_port()
        self.workdir.mkdir(parents=True, exist_ok=True)  # stop() removes a private one
        self.pasv_range = reserve_port_range()
        self.user.set_home(self.root_dir)
        self._write_config()
        _become_subreaper()
        with open(self.stdout_path, "ab") as out:
            # own session: a Ctrl-C in the terminal reaches pytest, not the servers
            self.proc = subprocess.Popen(self._argv(), stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, cwd=self.workdir,
                                         env=self._env(), start_new_session=True)
        _server_leaders.add(self.proc.pid)
        deadline = time.monotonic() + self.START_TIMEOUT
        while not is_listening(self.port, self.host):
            if self.proc.poll() is not None:
                msg = (f"{self.name} exited with {self.proc.returncode} at start "
                       f"(config {self.conf_path}):\n" + self._tail())
                _server_leaders.discard(self.proc.pid)
                self._cleanup()
                raise RuntimeError(msg)
            if time.monotonic() > deadline:
                msg = (f"{self.name} not listening on {self.port} after "
                       f"{self.START_TIMEOUT}s:\n" + self._tail())
                self.stop()
                raise RuntimeError(msg)
            time.sleep(0.05)
        return self

    def stop(self):
        """Stop the server and all its processes (sessions included); safe to call twice."""
        if self.proc is None:
            return
        try:
            _kill_tree(self.proc.pid)
        finally:
            self.proc.wait(timeout=5)
            _server_leaders.discard(self.proc.pid)
            _reap_orphaned_servers()
            self._cleanup()

    def _cleanup(self):
        if self.pasv_range:
            release_port_range(self.pasv_range)
            self.pasv_range = None
        self._final_log = self.log_text()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
        self.proc = None

    def put(self, relpath, data=b""):
        """Create a file (and missing parent dirs) under the server root, owned by the user.
        Returns its path."""
        path = self.root_dir / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        p = path
        while True:  # the file, the directories made for it and the root
            os.chown(p, self.user.uid, self.user.gid)
            if p == self.root_dir:
                return path
            p = p.parent

    def _env(self):
        return None  # inherit

    def log_paths(self):
        return sorted(p for p in self.workdir.glob("*.log"))

    # Evidence of TLS session reuse on data connections, per server (see RESUMED_RE/REJECTED_RE
    # in the subclasses). Counting works also after stop().
    def count_resumed_data(self):
        """Data connections whose TLS session the server saw resumed."""
        return len(re.findall(self.RESUMED_RE, self.log_text(), re.M))

    def count_rejected_data(self):
        """Data connections the server refused because the session was not resumed."""
        return len(re.findall(self.REJECTED_RE, self.log_text(), re.M))

    def wait_for_log(self, text, timeout=10.0):
        """True once `text` is in the server's logs (a server may write a line a moment after
        the reply it records has reached the client), False after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while text not in self.log_text():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def log_text(self):
        """All of the server's logs concatenated (also after stop())."""
        if self._final_log is not None and self.proc is None:
            return self._final_log
        parts = []
        for p in self.log_paths():
            parts.append(f"==> {p.name} <==\n" + p.read_text(errors="replace"))
        return "\n".join(parts)

    def _tail(self, lines=40):
        return "\n".join(self.log_text().splitlines()[-lines:])

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class Vsftpd(_Server):
    """vsftpd 3.0.3 (Debian package). `extra` overrides/extends the config options."""

    name = "vsftpd"
    # debug_ssl=YES logs one line per TLS handshake. The data ones come after login and so
    # carry the "[user]" tag; a control handshake is logged before USER, without it.
    RESUMED_RE = (r'\[pid \d+\] \[[^]]+\] DEBUG: Client "[^"]*", '
                  r'"SSL version: TLSv1\.[0-9], SSL cipher: [^,]+, reused, ')
    # ...followed by the reply "522 SSL connection failed: session reuse required", after
    # which vsftpd closes the control connection.
    REJECTED_RE = r'"No SSL session reuse on data channel\."'

    def __init__(self, root_dir, certs, user, implicit=False, extra=None, ipv6=False, **kw):
        super().__init__(root_dir, certs, user, implicit, **kw)
        self.extra = dict(extra or {})
        self.host = LOCALHOST6 if ipv6 else LOCALHOST
        self.conf_path = self.workdir / "vsftpd.conf"
        self.log_path = self.workdir / "vsftpd.log"
        self.xferlog_path = self.workdir / "xferlog.log"

    def _write_config(self):
        empty = self.workdir / "empty"  # pre-login processes chroot here; must be root-owned
        empty.mkdir(mode=0o755, exist_ok=True)
        low, high = self.pasv_range
        opts = {
            "listen": "YES", "listen_ipv6": "NO", "listen_address": LOCALHOST,
            "listen_port": self.port, "background": "NO",
            "anonymous_enable": "NO", "local_enable": "YES", "write_enable": "YES",
            "local_umask": "022",
            # Each server has its own root, independent of the (shared) user's home, so two
            # servers can run at once; the fixture also points the home here.
            "local_root": self.root_dir,
            "chroot_local_user": "YES", "allow_writeable_chroot": "YES",
            "secure_chroot_dir": empty, "pam_service_name": "vsftpd",
            "ssl_enable": "YES", "implicit_ssl": "YES" if self.implicit else "NO",
            # ssl_tlsv1=NO would make FEAT stop advertising AUTH TLS (SERVERS.md)
            "ssl_sslv2": "NO", "ssl_sslv3": "NO", "ssl_tlsv1": "YES",
            # The 3.0.3 default is DES-CBC3-SHA, which OpenSSL 3 clients don't offer: without
            # this, TLS 1.2 fails with "no shared cipher" (TLS 1.3 suites are not affected).
            "ssl_ciphers": "HIGH",
            "rsa_cert_file": self.certs.cert_file, "rsa_private_key_file": self.certs.key_file,
            "force_local_logins_ssl": "YES", "force_local_data_ssl": "YES",
            "require_ssl_reuse": "YES",
            "pasv_enable": "YES", "pasv_address": LOCALHOST,
            "pasv_min_port": low, "pasv_max_port": high,
            "mdtm_write": "YES",
            "xferlog_enable": "YES", "xferlog_file": self.xferlog_path,
            "vsftpd_log_file": self.log_path, "dual_log_enable": "YES",
            "log_ftp_protocol": "YES", "debug_ssl": "YES",
            "seccomp_sandbox": "NO",
        }
        if self.host == LOCALHOST6:
            del opts["listen_address"]
            opts.update({"listen": "NO", "listen_ipv6": "YES", "listen_address6": LOCALHOST6})
        opts.update(self.extra)
        self.conf_path.write_text("".join(f"{k}={v}\n" for k, v in opts.items()))

    def _argv(self):
        return ["/usr/sbin/vsftpd", str(self.conf_path)]

    def _env(self):
        if self.tls_max is None:
            return None
        # vsftpd 3.0.3 has no protocol-version switch; OpenSSL's own config can cap it.
        conf = self.workdir / "openssl.cnf"
        conf.write_text("openssl_conf = init\n[init]\nssl_conf = ssl\n[ssl]\n"
                        "system_default = sys\n[sys]\n"
                        f"MaxProtocol = TLSv{self.tls_max}\n")
        return dict(os.environ, OPENSSL_CONF=str(conf))


class Proftpd(_Server):
    """ProFTPD 1.3.8 from the dpkg -x prefix. A line of `extra_lines` replaces the default line
    with the same directive name (first word), otherwise it is appended; "TLSOptions ..." lines
    add to the options (UseImplicitSSL stays when implicit)."""

    name = "proftpd"
    # mod_tls writes these to the TLSLog (tls.log), once per data connection.
    RESUMED_RE = r"client reused TLS session for data connection"
    # "client did not reuse TLS session, rejecting ..." (no resumption) and "client did not
    # reuse TLS session from control channel, rejecting ..." (a foreign session); the FTP
    # reply is "425 Unable to build data connection: Operation not permitted".
    REJECTED_RE = r"rejecting data connection"

    def __init__(self, root_dir, certs, user, implicit=False, extra_lines=(), tz=None, **kw):
        super().__init__(root_dir, certs, user, implicit, **kw)
        self.extra_lines = list(extra_lines)
        self.tz = tz  # TZ of the server process (with "TimesGMT off": LIST's zone)
        self.prefix = PREFIX / "proftpd"
        self.conf_path = self.workdir / "proftpd.conf"
        self.log_path = self.workdir / "system.log"
        self.tls_log_path = self.workdir / "tls.log"
        self.trace_log_path = self.workdir / "trace.log"
        binary = self.prefix / "usr/sbin/proftpd"
        if not binary.exists():
            raise RuntimeError(f"{binary} missing: run tests/deps.sh")

    def _write_config(self):
        w = self.workdir
        low, high = self.pasv_range
        ec = self.certs.key_type == "ec"
        tls_options = ["UseImplicitSSL"] if self.implicit else []
        extra_lines = []
        for line in self.extra_lines:
            words = line.split()
            if words and words[0].lower() == "tlsoptions":
                tls_options += words[1:]
            else:
                extra_lines.append(line)
        lines = [
            f"ModulePath {self.prefix}/usr/lib/proftpd",
            "LoadModule mod_tls.c",
            "LoadModule mod_site_misc.c",
            "ServerType standalone",
            'ServerName "ftpsfs test"',
            "ServerIdent off",
            f"DefaultAddress {LOCALHOST}",
            # Without these ProFTPD listens on the IPv6 wildcard address, not just loopback.
            "SocketBindTight on",
            "UseIPv6 off",
            f"Port {self.port}",
            f"PassivePorts {low} {high}",
            "User nobody",
            "Group nogroup",
            "Umask 022",
            "MaxInstances 64",
            # Absolute root (not "~") so concurrent servers sharing the one user don't clash.
            f"DefaultRoot {self.root_dir}",
            "AllowOverwrite on",
            "AllowStoreRestart on",
            # mod_auth_unix only (no PAM): reads /etc/passwd + /etc/shadow
            "AuthOrder mod_auth_unix.c",
            "RequireValidShell off",
            "UseReverseDNS off",
            # (no IdentLookups: that directive belongs to mod_ident, which is not loaded)
            "WtmpLog off",
            "UseFtpUsers off",
            "ControlsEngine off",
            f"PidFile {w}/proftpd.pid",
            f"ScoreboardFile {w}/proftpd.scoreboard",
            f"DelayTable {w}/proftpd.delay",
            f"SystemLog {w}/system.log",
            f"TransferLog {w}/xfer.log",
            f"TraceLog {w}/trace.log",
            "Trace tls:9 command:9 response:9",
            "TLSEngine on",
            "TLSRequired on",
            "TLSProtocol TLSv1.2" + ("" if self.tls_max == "1.2" else " TLSv1.3"),
            f"TLSLog {w}/tls.log",
            f"TLS{'EC' if ec else 'RSA'}CertificateFile {self.certs.cert_file}",
            f"TLS{'EC' if ec else 'RSA'}CertificateKeyFile {self.certs.key_file}",
            f"TLSCACertificateFile {self.certs.ca_file}",
            "TLSVerifyClient off",
            # Deliberately no NoSessionReuseRequired: reuse stays enforced.
            f"TLSOptions {' '.join(tls_options)}" if tls_options else "",
        ]
        for extra in extra_lines:
            key = extra.split(None, 1)[0].lower() if extra.strip() else ""
            idx = [i for i, l in enumerate(lines) if l and l.split()[0].lower() == key]
            if idx and key != "loadmodule":
                lines[idx[0]] = extra
            else:
                lines.append(extra)
        self.conf_path.write_text("\n".join(l for l in lines if l) + "\n")

    def _argv(self):
        return [str(self.prefix / "usr/sbin/proftpd"), "-n", "-c", str(self.conf_path)]

    def _env(self):
        return None if self.tz is None else dict(os.environ, TZ=self.tz)


class PureFtpd(_Server):
    """Pure-FTPd 1.0.50 (Debian build) from the dpkg -x prefix, in the foreground.

    - TLS: `--tls=3` refuses a cleartext control connection *and* cleartext (PROT C) data
      connections (`--tls=2` would only require TLS for the control connection). Certificate
      and key are passed as `-2 CERT,KEY`, so /etc/ssl/private/pure-ftpd.pem is not needed.
      The build has no TLS-version switch: tls_max caps it through OPENSSL_CONF (as for
      vsftpd). It does not require data connections to resume the control session.
    - No implicit TLS in this build (upstream has it only as the compile-time option
      --with-implicittls): implicit=True raises NotImplementedError.
    - Login: a PureDB virtual user with the test user's name and password that maps to its
      uid/gid and has this server's root as home (`-l puredb:FILE`, chrooted). Unlike the
      system account's home (one per machine, re-pointed by every server start), the root
      stays this server's even when other servers start meanwhile. auth="unix" uses the
      system account instead (`-l unix`; the root then is its home, set at start).
    - Logs: syslog is not running here and Pure-FTPd logs only there, so syslog is off
      (`-f none`). What remains is the transfer log (`-O clf:FILE`, xfer.log): one line per
      completed transfer, `127.0.0.1 - USER [date] "GET|PUT /abs/path" 200 BYTES`; and its
      stdout/stderr (stdout.log, normally empty). Nothing there shows TLS, commands or session
      reuse: count_resumed_data() and count_rejected_data() return None.
    """

    name = "pureftpd"
    RESUMED_RE = None
    REJECTED_RE = None

    def __init__(self, root_dir, certs, user, implicit=False, auth="puredb", extra_args=(),
                 **kw):
        if implicit:
            raise NotImplementedError(
                "Pure-FTPd 1.0.50 (Debian) has no implicit TLS: use implicit=False")
        if auth not in ("puredb", "unix"):
            raise ValueError(f"auth must be 'puredb' or 'unix', not {auth!r}")
        super().__init__(root_dir, certs, user, implicit, **kw)
        self.auth = auth
        self.extra_args = list(extra_args)
        self.prefix = PREFIX / "pure-ftpd"
        self.conf_path = self.workdir / "pureftpd.passwd"  # the PureDB source file
        self.pdb_path = self.workdir / "pureftpd.pdb"
        self.pid_path = self.workdir / "pure-ftpd.pid"
        self.xferlog_path = self.workdir / "xfer.log"
        binary = self.prefix / "usr/sbin/pure-ftpd"
        if not binary.exists():
            raise RuntimeError(f"{binary} missing: run tests/deps.sh")

    def _write_config(self):
        if self.auth != "puredb":
            return
        # A SHA-512 crypt() hash (Pure-FTPd checks it with crypt()). `pure-pw useradd` would
        # store argon2id, which made each login take 4-5 s here.
        pwhash = subprocess.run(["openssl", "passwd", "-6", "-stdin"],
                                input=self.user.password, capture_output=True, text=True,
                                check=True).stdout.strip()
        # login:hash:uid:gid:gecos:home/./ and 12 empty limit fields; "/./" marks the chroot
        self.conf_path.write_text(f"{self.user.name}:{pwhash}:{self.user.uid}:{self.user.gid}"
                                  f"::{self.root_dir}/./" + ":" * 12 + "\n")
        self.conf_path.chmod(0o600)
        subprocess.run([str(self.prefix / "usr/bin/pure-pw"), "mkdb", str(self.pdb_path),
                        "-f", str(self.conf_path)], check=True, capture_output=True)

    def _argv(self):
        low, high = self.pasv_range
        login = f"puredb:{self.pdb_path}" if self.auth == "puredb" else "unix"
        return [str(self.prefix / "usr/sbin/pure-ftpd"),
                "--bind", f"{LOCALHOST},{self.port}", "--ipv4only",
                "--tls", "3",
                "--certfile", f"{self.certs.cert_file},{self.certs.key_file}",
                "--login", login,
                "--chrooteveryone", "--noanonymous", "--dontresolve",
                "--displaydotfiles",  # a plain LIST shows dot files too (MLSD, LIST -a do anyway)
                "--passiveportrange", f"{low}:{high}", "--forcepassiveip", LOCALHOST,
                "--pidfile", str(self.pid_path),
                "--altlog", f"clf:{self.xferlog_path}",
                "--syslogfacility", "none",
                *self.extra_args]

    def _env(self):
        return Vsftpd._env(self)  # the same OPENSSL_CONF cap (uses only workdir, tls_max)

    def count_resumed_data(self):
        """Not available: Pure-FTPd logs nothing about TLS session reuse (see the class)."""
        return None

    def count_rejected_data(self):
        """Not available, and nothing to count: Pure-FTPd never requires session reuse."""
        return None


class _ScriptServer(_Server):
    """A server run by one of our launcher scripts (pyftpd_server.py, ftpsrv_server.js) from a
    JSON config: explicit TLS only, one virtual user with the test user's name and password
    whose home is the root, TLS required on control and data connections. The launcher binds
    and reads the certificate as root, then becomes the test user. Its logs: LOG_NAME (every
    command and reply) and one line per TLS data connection saying whether it resumed a
    session (RESUMED_RE / NOT_RESUMED_RE); neither server requires reuse."""

    LOG_NAME = None
    RESUMED_RE = r"data connection TLSv1\.\d, session reused"
    NOT_RESUMED_RE = r"data connection TLSv1\.\d, session NOT reused"
    REJECTED_RE = None

    def __init__(self, root_dir, certs, user, implicit=False, **kw):
        if implicit:
            raise NotImplementedError(f"{self.name}: explicit TLS only in this test setup")
        super().__init__(root_dir, certs, user, implicit, **kw)
        self.conf_path = self.workdir / f"{self.name}.json"
        self.log_path = self.workdir / self.LOG_NAME

    def _config(self):
        low, high = self.pasv_range
        return {"port": self.port, "root": str(self.root_dir), "user": self.user.name,
                "password": self.user.password, "uid": self.user.uid, "gid": self.user.gid,
                "cert": str(self.certs.cert_file), "key": str(self.certs.key_file),
                "pasv_min": low, "pasv_max": high, "log": str(self.log_path),
                "tls_max": self.tls_max}

    def _write_config(self):
        self.conf_path.write_text(json.dumps(self._config()))
        self.conf_path.chmod(0o600)  # holds the password

    def count_not_resumed_data(self):
        """Data connections that did not resume a TLS session (accepted all the same)."""
        return len(re.findall(self.NOT_RESUMED_RE, self.log_text(), re.M))

    def count_rejected_data(self):
        """Nothing to count: this server never requires session reuse."""
        return None


class Pyftpdlib(_ScriptServer):
    """pyftpdlib 1.5.7 (Debian python3-pyftpdlib with python3-openssl): TLS_FTPHandler with
    tls_control_required and tls_data_required, run by pyftpd_server.py. MLSD/MLST, MFMT,
    SITE CHMOD, SIZE, MDTM, REST STREAM, APPE. Control and data connections share one
    SSL context, so data connections can resume (not required).

    mlsd_hides_dot_files=True makes its MLSD leave out dot files that LIST shows, as Apache
    FtpServer's does (pyftpd_server.py)."""

    name = "pyftpdlib"
    LOG_NAME = "pyftpdlib.log"

    def __init__(self, root_dir, certs, user, implicit=False, mlsd_hides_dot_files=False, **kw):
        super().__init__(root_dir, certs, user, implicit, **kw)
        self.mlsd_hides_dot_files = mlsd_hides_dot_files

    def _config(self):
        return dict(super()._config(), mlsd_hides_dot_files=self.mlsd_hides_dot_files)

    def _argv(self):
        return ["/usr/bin/python3", str(Path(__file__).with_name("pyftpd_server.py")),
                str(self.conf_path)]


class FtpSrv(_ScriptServer):
    """ftp-srv 4.6 (npm; Node's TLS stack), installed by tests/deps.sh into PREFIX/ftp-srv and
    run by ftpsrv_server.js. EPSV and PASV, SIZE, MDTM (read only), REST (not advertised as
    "REST STREAM": its REST+STOR truncates the file first), APPE, SITE CHMOD, UTF8. No
    MLSD/MLST, no MFMT, no way to set a time. It sends 150 only once the data connection's
    TLS handshake is done.

    Session reuse: every passive data connection gets a new tls.Server, i.e. a new context
    with its own ticket keys and Node's default session id context, while the control
    connection's context (AUTH TLS) has none: a data connection can never resume the control
    connection's session, even with `ticketKeys` shared in the options (tried: tickets then
    resume between data connections, never from control to data, as the session id contexts
    differ). It does not require reuse."""

    name = "ftpsrv"
    LOG_NAME = "ftp-srv.log"

    def __init__(self, root_dir, certs, user, implicit=False, **kw):
        super().__init__(root_dir, certs, user, implicit, **kw)
        self.prefix = PREFIX / "ftp-srv"
        if not (self.prefix / "node_modules/ftp-srv/package.json").exists():
            raise RuntimeError(f"{self.prefix}/node_modules/ftp-srv missing: run tests/deps.sh")

    def _argv(self):
        return ["node", str(Path(__file__).with_name("ftpsrv_server.js")), str(self.conf_path)]

    def _env(self):
        return dict(os.environ, NODE_PATH=str(self.prefix / "node_modules"))


SERVER_KINDS = {"vsftpd": Vsftpd, "proftpd": Proftpd, "pureftpd": PureFtpd,
                "pyftpdlib": Pyftpdlib, "ftpsrv": FtpSrv}
