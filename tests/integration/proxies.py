"""Real proxies for the proxy= tests (microsocks for SOCKS5, tinyproxy for HTTP CONNECT), and a
scripted hostile one.

Each real proxy runs in a mount namespace of its own whose /etc/hosts adds BEHIND_PROXY, a name
for 127.0.0.1 that only the proxy can resolve: a mount given that name reaches the FTP server
through the proxy or not at all (its own resolver does not know the name), for the control
connection and for every data connection alike.
"""

import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

from servers import LOCALHOST, free_port, is_listening

BEHIND_PROXY = "ftp-behind-proxy.test"

# unshare(1) makes the mount namespace private (no propagation); sh binds the hosts file over
# /etc/hosts inside it and becomes the proxy (exec): the Popen's PID is the proxy's.
_IN_OWN_HOSTS = 'mount --bind "$1" /etc/hosts && shift && exec "$@"'


def resolves_here(name):
    try:
        socket.getaddrinfo(name, 21)
        return True
    except socket.gaierror:
        return False


class RealProxy:
    """One proxy process on 127.0.0.1:port, its output in `log_path`. Subclasses give argv()."""

    kind = "proxy"
    START_TIMEOUT = 10.0

    def __init__(self, workdir, user=None, password=None):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.user, self.password = user, password
        self.port = None
        self.proc = None
        self.log_path = self.workdir / f"{self.kind}.log"

    def url(self, scheme=None, user=None):
        user = self.user if user is None else user
        return f"{scheme or self.kind}://{user + '@' if user else ''}{LOCALHOST}:{self.port}"

    def start(self):
        assert self.proc is None
        if self.port is None:
            self.port = free_port()
        hosts = self.workdir / "hosts"
        hosts.write_text(Path("/etc/hosts").read_text() + f"\n{LOCALHOST} {BEHIND_PROXY}\n")
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                ["unshare", "-m", "sh", "-c", _IN_OWN_HOSTS, "sh", str(hosts), *self.argv()],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True)
        deadline = time.monotonic() + self.START_TIMEOUT
        while not is_listening(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.kind} did not start:\n{self.log_text()}")
            time.sleep(0.05)
        return self

    def stop(self):
        if self.proc is None:
            return
        try:
            os.kill(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)
        except ProcessLookupError:
            pass
        self.proc = None

    def log_text(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""


class Microsocks(RealProxy):
    """SOCKS5 (RFC 1928), user/password authentication (RFC 1929) when a user is given. It
    resolves names itself."""

    kind = "socks5"

    def argv(self):
        argv = ["microsocks", "-i", LOCALHOST, "-p", str(self.port)]
        if self.user:
            argv += ["-u", self.user, "-P", self.password]
        return argv


class Tinyproxy(RealProxy):
    """HTTP CONNECT with Basic authentication when a user is given. Without ConnectPort lines
    it allows CONNECT to any port (the FTP server's and its passive range). At LogLevel Info it
    logs every connection it opens ("opensock: opening connection to HOST:PORT")."""

    kind = "http"

    def argv(self):
        conf = self.workdir / "tinyproxy.conf"
        lines = [f"Port {self.port}", f"Listen {LOCALHOST}", "Timeout 60", "LogLevel Info",
                 "MaxClients 64", f"Allow {LOCALHOST}"]
        if self.user:
            lines.append(f"BasicAuth {self.user} {self.password}")
        conf.write_text("\n".join(lines) + "\n")
        return ["tinyproxy", "-d", "-c", str(conf)]

    def connections_to(self, host):
        return self.log_text().count(f"opening connection to {host}:")


class HostileProxy:
    """A scripted proxy on 127.0.0.1: for each connection, reads `expect` bytes (or nothing),
    then sends `answer` (bytes, or a function of the bytes read returning bytes), then keeps
    the connection open until the client closes it or `hold` seconds pass. For faults a real
    proxy will not produce: garbage, oversized or endless replies, silence."""

    def __init__(self, answer, expect=1, hold=30.0):
        self.answer, self.expect, self.hold = answer, expect, hold
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((LOCALHOST, 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.received = []
        self._stop = threading.Event()
        self._threads = []
        self._accept = threading.Thread(target=self._accept_loop, daemon=True)

    def start(self):
        self._accept.start()
        return self

    def url(self, scheme):
        return f"{scheme}://{LOCALHOST}:{self.port}"

    def _accept_loop(self):
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.connections += 1
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(t)
            t.start()

    def _serve(self, conn):
        with conn:
            conn.settimeout(0.2)
            got = b""
            deadline = time.monotonic() + self.hold
            try:
                while len(got) < self.expect and time.monotonic() < deadline:
                    try:
                        chunk = conn.recv(4096)
                    except socket.timeout:
                        continue
                    if not chunk:
                        return
                    got += chunk
                self.received.append(got)
                answer = self.answer(got) if callable(self.answer) else self.answer
                if answer:
                    conn.sendall(answer)
                while not self._stop.is_set() and time.monotonic() < deadline:
                    try:
                        if not conn.recv(4096):
                            return
                    except socket.timeout:
                        continue
            except OSError:
                return

    def stop(self):
        self._stop.set()
        self.sock.close()
        for t in self._threads:
            t.join(timeout=5)
        self._accept.join(timeout=5)
