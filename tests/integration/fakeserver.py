"""A scripted fake FTPS server for fault tests (stdlib only: socket, ssl, threading).

Real servers don't truncate transfers, hang, or send hostile listings on demand; this one does
whatever a test scripts. It speaks just enough FTP over explicit TLS (RFC 4217: AUTH TLS, then
PBSZ 0 / PROT P) for ftpsfs to log in, list and read an in-memory tree:

    AUTH USER PASS PBSZ PROT FEAT OPTS TYPE PWD CWD EPSV PASV EPRT PORT MLSD LIST MLST RETR
    STOR APPE REST SIZE HASH NOOP QUIT DELE MKD RMD RNFR RNTO MDTM

Faults are scripted per command with hooks. A hook is called as hook(session, arg) before the
normal handler; it answers the command itself through the Session helpers (reply, transfer,
drop, apply_then_drop, hang, flood_multiline ...) or returns DEFAULT to let the normal handler
run:

    srv = FakeFtpsServer(certs, files={"/a.bin": data}).start()
    srv.on("RETR", lambda s, arg: s.transfer(data[:100], clean=False))  # truncated, no alert
    ...
    srv.stop()

Every control and data connection runs in its own thread. All socket waits are bounded, and
stop() ends every thread (a hanging session included) and closes every socket; it raises if a
thread survives. Data connections are TLS too, from the same server SSLContext, so a client may
resume the control connection's session (TLS 1.3 tickets or TLS 1.2 session IDs); the server
counts resumptions but does not require them.
"""

import hashlib
import posixpath
import select
import socket
import ssl
import struct
import threading
import time
import traceback

LOCALHOST = "127.0.0.1"
INTRUDER = "127.0.0.2"  # another loopback address: to the client, another host

# A hook returns this to ask for the command's normal handling.
DEFAULT = object()

POLL = 0.2            # how often blocked reads look at the stop flag
IO_TIMEOUT = 5.0      # bound on one send, one data accept, one TLS handshake
JOIN_TIMEOUT = 10.0   # how long stop() waits for each thread
FLOOD_MAX_SECONDS = 10.0
LINE_MAX = 8192       # longest command line accepted from the client

MODIFY = "20240101000000"  # MLSD/MLST modify fact of every entry (UTC)
LIST_DATE = "Jan 01  2024"
DOS_DATE = "01-01-24  12:00AM"  # the same time in an IIS listing
# FileZilla Server's refusal of a data connection that did not resume (versions differ in code)
FILEZILLA_REFUSAL = (450, "TLS session of data connection has not resumed or the session "
                          "does not match the control connection")


class SessionEnd(Exception):
    """Raised inside a session to end it (client gone, drop(), server stopping)."""


class FakeFtpsServer:
    """One fake FTPS server on 127.0.0.1 (a free port), explicit TLS only.

    files: {absolute path: bytes}; their parent directories exist implicitly.
    dirs: further (empty) directories.
    listings: {directory: [bytes line, ...]}: sent verbatim (CRLF-joined) for MLSD and LIST of
      that directory instead of the generated listing (for hostile listings).
    mlst: advertise MLST in FEAT (and serve MLSD/MLST); else only LIST.
    epsv: advertise and serve EPSV; else EPSV is answered 502.
    pasv_address: the address named in PASV replies (the listener is always on 127.0.0.1);
      when it is not 127.0.0.1 a decoy listener is bound there on the same port, and any
      connection to it is counted in decoy_hits.
    eprt: serve EPRT (active mode, RFC 2428); else it is answered 502 (PORT is always served).
    active_intruder: in active mode, before connecting to the client from 127.0.0.1, connect
      to the same port from 127.0.0.2 (another host, to the client) and send junk on it;
      counted in intruder_connections.
    hash_sha256: advertise "HASH SHA-256*" in FEAT and serve HASH of the stored files.
    corrupt_uploads: flip the first byte of what every STOR or APPE stores (a server or disk
      that damages data without saying so).
    reorder_reads: answer MDTM commands that came in separate network reads in reverse order,
      as ftp-srv may (it handles each read concurrently); those of one read stay in order.
    max_sessions: at most this many control connections at once; one more is answered
      "421 Too many connections" and closed before TLS, as vsftpd and Pure-FTPd do.
    greeting: bytes sent as they are instead of "220 fake FTPS server ready\r\n" (a hostile
      greeting: any code, control characters).
    """

    def __init__(self, certs, files=None, dirs=(), listings=None, user="faker",
                 password="fake-Pw-1", mlst=True, epsv=True, pasv_address=LOCALHOST,
                 eprt=True, active_intruder=False, hash_sha256=False, corrupt_uploads=False,
                 session_rule=None, tls13_tickets=2, list_style="unix", prelim=None,
                 size=True, rest_stream=True, utf8=True, mlsd_facts="ordered", tls_max=None,
                 mdtm=False, list_times=None, max_sessions=None, greeting=None,
                 reorder_reads=False):
        self.files = {posixpath.normpath(p): bytes(d) for p, d in (files or {}).items()}
        self.dirs = {"/"} | {posixpath.normpath(d) for d in dirs}
        for path in self.files:
            parent = posixpath.dirname(path)
            while parent not in self.dirs:
                self.dirs.add(parent)
                parent = posixpath.dirname(parent)
        self.listings = {posixpath.normpath(d): list(lines)
                         for d, lines in (listings or {}).items()}
        self.user = user
        self.password = password
        self.mlst = mlst
        self.epsv = epsv
        self.pasv_address = pasv_address
        self.eprt = eprt
        self.active_intruder = active_intruder
        self.hash_sha256 = hash_sha256
        self.corrupt_uploads = corrupt_uploads
        self.session_rule = session_rule
        self.tls13_tickets = tls13_tickets
        self.list_style = list_style
        self.prelim = prelim
        self.greeting = greeting
        self.size = size
        self.rest_stream = rest_stream
        self.utf8 = utf8
        self.mlsd_facts = mlsd_facts
        self.tls_max = tls_max
        self.mdtm = mdtm
        self.reorder_reads = reorder_reads
        self.max_sessions = max_sessions
        self.sessions_refused = 0
        # {path: "YYYYMMDDhhmmss"}: times of files (MLSD/MDTM, UTC); list_times: the same
        # files' LIST time as (month, day, "HH:MM" or year), e.g. in a server's local zone
        self.mtimes = {}
        self.list_times = dict(list_times or {})
        self.hooks = {}
        self._certs = certs
        self.ssl_ctx = self.new_ssl_context()
        self.port = None
        # Guarded by _lock:
        self._lock = threading.Lock()
        self._commands = []       # (session id, verb, arg)
        self._sessions = []
        self._errors = []         # unexpected exceptions in session threads
        self.logins = 0
        self.data_connections = 0
        self.data_resumed = 0
        self.data_refused = 0
        self.decoy_hits = 0
        self.intruder_connections = 0
        self._next_id = 0
        self._stopping = threading.Event()
        self._listener = None
        self._thread = None

    # --- life cycle ------------------------------------------------------------------------

    def start(self):
        assert self._thread is None, "already started"
        self._listener = socket.socket()
        self._listener.bind((LOCALHOST, 0))
        self._listener.listen(16)
        self._listener.settimeout(POLL)
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept_loop, name="fakeftps-accept",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """End all sessions and the listener; safe to call twice. Raises RuntimeError if a
        thread does not end."""
        if self._thread is None:
            return
        self._stopping.set()
        self._thread.join(JOIN_TIMEOUT)
        with self._lock:
            sessions = list(self._sessions)
        for s in sessions:
            s.thread.join(JOIN_TIMEOUT)
        self._listener.close()
        alive = [t.name for t in [self._thread] + [s.thread for s in sessions] if t.is_alive()]
        self._thread = None
        if alive:
            raise RuntimeError(f"fake server threads did not stop: {alive}")

    def new_ssl_context(self):
        """A server SSLContext with the certificate, the TLS cap and tls13_tickets."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(self._certs.cert_file), str(self._certs.key_file))
        if self.tls_max == "1.2":
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        ctx.num_tickets = self.tls13_tickets
        return ctx

    def url(self, path="/"):
        """ftp://USER@127.0.0.1:PORT/path (explicit TLS)."""
        return f"ftp://{self.user}@{LOCALHOST}:{self.port}{path}"

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # --- scripting and inspection ------------------------------------------------------------

    def on(self, verb, hook):
        """Call hook(session, arg) for every `verb` command from now on (replaces a hook)."""
        self.hooks[verb.upper()] = hook

    def off(self, verb):
        """Remove the hook of `verb`: normal handling again."""
        self.hooks.pop(verb.upper(), None)

    def commands(self, verb=None):
        """[(session id, VERB, arg)] received so far, optionally only those of `verb`."""
        with self._lock:
            return [c for c in self._commands if verb is None or c[1] == verb.upper()]

    def errors(self):
        """Tracebacks of unexpected exceptions in session threads."""
        with self._lock:
            return list(self._errors)

    @property
    def stopping(self):
        return self._stopping.is_set()

    def _record(self, session, verb, arg):
        with self._lock:
            self._commands.append((session.id, verb, arg))

    def _count(self, name, n=1):
        with self._lock:
            setattr(self, name, getattr(self, name) + n)

    # --- tree ------------------------------------------------------------------------------

    def children(self, directory):
        """[(name, is_dir, size)] directly in `directory`, sorted."""
        prefix = directory.rstrip("/") + "/"
        out = {}
        for d in self.dirs:
            if d != directory and d.startswith(prefix) and "/" not in d[len(prefix):]:
                out[d[len(prefix):]] = (True, 0)
        for f, data in self.files.items():
            if f.startswith(prefix) and "/" not in f[len(prefix):]:
                out[f[len(prefix):]] = (False, len(data))
        return [(name, is_dir, size) for name, (is_dir, size) in sorted(out.items())]

    def listing(self, directory, mlsd):
        if directory in self.listings:
            lines = self.listings[directory]
        elif mlsd:
            lines = [self._mlsd_line(f"type=cdir;modify={MODIFY};UNIX.mode=0755;", directory)]
            for name, is_dir, size in self.children(directory):
                path = posixpath.join(directory, name)
                facts = ("type=dir;UNIX.mode=0755;" if is_dir
                         else f"type=file;size={size};UNIX.mode=0644;")
                modify = self.mtimes.get(path, MODIFY)
                lines.append(self._mlsd_line(f"{facts}modify={modify};", name))
        elif self.list_style == "dos":
            lines = []
            for name, is_dir, size in self.children(directory):
                col = "<DIR>         " if is_dir else f"{size:14d}"
                lines.append(f"{DOS_DATE}       {col} {name}".encode())
        else:
            lines = [b"total 8"]
            for name, is_dir, size in self.children(directory):
                mode = "drwxr-xr-x" if is_dir else "-rw-r--r--"
                when = self.list_times.get(posixpath.join(directory, name))
                date = f"{when[0]} {when[1]:>2} {when[2]:>5}" if when else LIST_DATE
                lines.append(f"{mode}    1 ftp      ftp      {size:10d} {date} "
                             f"{name}".encode())
        return b"".join(line + b"\r\n" for line in lines)

    def _mlsd_line(self, facts, name):
        """One MLSD line, its facts as mlsd_facts says (RFC 3659: any order, any case)."""
        parts = [f for f in facts.split(";") if f]
        if self.mlsd_facts == "shuffled":
            parts.reverse()
        elif self.mlsd_facts == "upper":
            parts = [k.upper() + "=" + v for k, _, v in (f.partition("=") for f in parts)]
        return (";".join(parts) + "; " + name).encode()

    # --- threads ---------------------------------------------------------------------------

    def _accept_loop(self):
        while not self._stopping.is_set():
            try:
                sock, _ = self._listener.accept()
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                return
            _no_delay(sock)
            if self._too_many_sessions():
                self._count("sessions_refused")
                try:
                    sock.settimeout(IO_TIMEOUT)
                    sock.sendall(b"421 Too many connections from this IP.\r\n")
                except OSError:
                    pass
                sock.close()
                continue
            with self._lock:
                self._next_id += 1
                session = Session(self, sock, self._next_id)
                self._sessions.append(session)
            session.thread.start()

    def _too_many_sessions(self):
        if self.max_sessions is None:
            return False
        with self._lock:
            alive = [s for s in self._sessions if s.thread.is_alive()]
        return len(alive) >= self.max_sessions

    def _session_failed(self, session):
        with self._lock:
            self._errors.append(f"session {session.id}:\n{traceback.format_exc()}")


class Session:
    """One control connection. Hooks use the public methods to answer commands."""

    def __init__(self, server, sock, sid):
        self.server = server
        self.sock = sock
        self.id = sid
        self.secure = False
        self.user = None
        self.logged_in = False
        self.cwd = "/"
        self.rest = 0
        self._rbuf = b""
        self._reads = 0      # network reads so far (reorder_reads)
        self._lines = []     # complete command lines not handled yet, with their read
        self._line_read = 0  # the read that completed the command being handled
        self._held = {}      # reorder_reads: {read number: [MDTM reply, ...]}
        self._pasv = None    # listening data socket after EPSV/PASV
        self._decoy = None   # listener on the foreign PASV address, if any
        self._active = None  # (host, port) named by EPRT/PORT
        # session_rule: this control connection's own context (its sessions only)
        self.ssl_ctx = server.ssl_ctx
        self._rename_from = None
        self._mute = False   # apply_then_drop(): replies are not sent
        self.thread = threading.Thread(target=self._run, name=f"fakeftps-session-{sid}",
                                       daemon=True)

    # --- helpers for hooks -----------------------------------------------------------------

    def reply(self, code, text):
        """Send the one-line reply "CODE text"."""
        self.send_raw(f"{code} {text}\r\n".encode())

    def send_raw(self, data):
        """Send bytes on the control connection as they are."""
        if self._mute:
            return
        self.sock.settimeout(IO_TIMEOUT)
        try:
            self.sock.sendall(data)
        except OSError as e:
            raise SessionEnd(f"send failed: {e}") from e
        finally:
            self._poll_timeout()

    def take_rest(self):
        """The offset of the last REST (0 if none), which applies to this transfer only."""
        rest, self.rest = self.rest, 0
        return rest

    def drop(self):
        """Close the control connection at once: no reply, no TLS close_notify."""
        _close_abruptly(self.sock)
        raise SessionEnd("dropped by the script")

    def apply_then_drop(self, verb, arg):
        """Carry the command out as the normal handler does, but instead of its reply close
        the control connection (no reply, no TLS close_notify): the work is done and the
        client cannot know it, as when a connection dies with the reply under way."""
        self._mute = True
        try:
            getattr(self, "_cmd_" + verb.lower())(arg)
        finally:
            self._mute = False
        self.drop()

    def hang(self):
        """Never answer again: wait until the server stops."""
        while not self.server._stopping.wait(POLL):
            pass
        raise SessionEnd("server stopping")

    def flood_multiline(self, code=211, interval=0.0, max_seconds=FLOOD_MAX_SECONDS):
        """Send "CODE-x" lines and never the closing line, until the client goes away, the
        server stops, or max_seconds pass; then end the session."""
        line = f"{code}-x\r\n".encode()
        burst = line * (1 if interval else 256)
        end = time.monotonic() + max_seconds
        while time.monotonic() < end and not self.server.stopping:
            self.send_raw(burst)
            if interval:
                time.sleep(interval)
        raise SessionEnd("flood over")

    def transfer(self, data, clean=True, final=(226, "Transfer complete."),
                 split_150=False):
        """Run one data transfer: 150, accept the data connection, TLS handshake, send
        `data`, close it (clean: with close_notify; else the TCP connection just ends), then
        send the `final` reply (code, text), or none if final is None.  split_150: as
        Pure-FTPd does, send only the first line of a multi-line 150 before the transfer
        and its closing line after it."""
        if self._pasv is None and self._active is None:
            self.reply(425, "Use EPSV or PASV first.")
            return
        if split_150:
            self.send_raw(b"150-Accepted data connection\r\n")
        else:
            self.reply(*(self.server.prelim or (150, "Opening BINARY mode data connection.")))
        conn = self._accept_data()
        if conn is None:
            return  # answered 425
        try:
            self._send_data(conn, data, clean)
        finally:
            conn.close()
        if split_150:
            self.send_raw(b"150 0.001 seconds (measured here)\r\n")
        if final is not None:
            self.reply(*final)

    def pause(self, seconds):
        """Wait `seconds` (a slow server), or less if the server stops."""
        if self.server._stopping.wait(seconds):
            raise SessionEnd("server stopping")

    def command_waiting(self):
        """Has the client sent (part of) another command on the control connection?"""
        return bool(self._lines or self._rbuf) or self._more_to_read(wait=0)

    def trickle_transfer(self, chunk, interval, count=None, aborted=(426, "Transfer aborted."),
                         started=None):
        """Send 150, accept the data connection and send `chunk` every `interval` seconds,
        `count` times (None: until something stops it), then end cleanly with 226. A server
        that keeps each wait just inside the client's stall limit. The transfer stops early
        when the client closes the data connection or sends another command (ABOR); the
        `aborted` reply (none if None) then ends it. `started` (a threading.Event) is set once
        the first chunk is sent."""
        if self._pasv is None and self._active is None:
            self.reply(425, "Use EPSV or PASV first.")
            return
        self.reply(150, "Opening BINARY mode data connection.")
        conn = self._accept_data()
        if conn is None:
            return  # answered 425
        sent, cut = 0, False
        try:
            while count is None or sent < count:
                try:
                    conn.sendall(chunk)
                except OSError:
                    cut = True
                    break
                sent += 1
                if started is not None:
                    started.set()
                end = time.monotonic() + interval
                while time.monotonic() < end and not self.command_waiting():
                    self.pause(min(POLL, max(0.0, end - time.monotonic())))
                if self.command_waiting():
                    cut = True
                    break
            if not cut:
                conn.unwrap()
        except OSError:
            cut = True
        finally:
            conn.close()
        if not cut:
            self.reply(226, "Transfer complete.")
        elif aborted is not None:
            self.reply(*aborted)

    def stall_transfer(self, data=b""):
        """Send 150, accept the data connection, send `data`, then neither send more nor close
        it nor reply: wait until the server stops."""
        if self._pasv is None and self._active is None:
            self.reply(425, "Use EPSV or PASV first.")
            return
        self.reply(150, "Opening BINARY mode data connection.")
        conn = self._accept_data()
        if conn is None:
            return  # answered 425
        try:
            conn.sendall(data)
            self.hang()
        finally:
            conn.close()

    # --- the connection ---------------------------------------------------------------------

    def _poll_timeout(self):
        try:
            self.sock.settimeout(POLL)
        except OSError:
            pass

    def _run(self):
        try:
            self._poll_timeout()
            if self.server.greeting is not None:
                self.send_raw(self.server.greeting)
            else:
                self.reply(220, "fake FTPS server ready")
            while True:
                verb, arg = self._read_command()
                self.server._record(self, verb, arg)
                self._dispatch(verb, arg)
        except SessionEnd:
            pass
        except Exception:  # a bug in a hook or here: keep it for the test to show
            self.server._session_failed(self)
        finally:
            self._close_pasv()
            try:
                self.sock.close()
            except OSError:
                pass

    def _read_command(self):
        while True:
            if self._lines:
                line, self._line_read = self._lines.pop(0)
                text = line.rstrip(b"\r").decode("utf-8", "replace")
                verb, _, arg = text.partition(" ")
                return verb.upper(), arg
            if len(self._rbuf) > LINE_MAX:
                raise SessionEnd("command line too long")
            if self._held and not self._more_to_read():
                self._send_held()
            try:
                # One TLS record (16 KiB at most) per read, as Node's TLS
                # stack gives ftp-srv: reorder_reads counts reads so.
                chunk = self.sock.recv(16384)
            except (TimeoutError, socket.timeout, ssl.SSLWantReadError):
                if self.server.stopping:
                    raise SessionEnd("server stopping")
                continue
            except OSError as e:
                raise SessionEnd(f"recv failed: {e}") from e
            if not chunk:
                raise SessionEnd("client closed")
            self._reads += 1
            *complete, self._rbuf = (self._rbuf + chunk).split(b"\n")
            self._lines += [(line, self._reads) for line in complete]

    def _more_to_read(self, wait=0.05):
        if isinstance(self.sock, ssl.SSLSocket) and self.sock.pending():
            return True
        return bool(select.select([self.sock], [], [], wait)[0])

    def _send_held(self):
        """reorder_reads: the held MDTM replies, later reads first."""
        held, self._held = self._held, {}
        for read in sorted(held, reverse=True):
            for data in held[read]:
                self.send_raw(data)

    def _dispatch(self, verb, arg):
        if self._held and verb != "MDTM":
            self._send_held()
        hook = self.server.hooks.get(verb)
        if hook is not None and hook(self, arg) is not DEFAULT:
            return
        handler = getattr(self, "_cmd_" + verb.lower(), None)
        if handler is None:
            self.reply(502, "Command not implemented.")
        elif not self.secure and verb not in ("AUTH", "FEAT", "QUIT"):
            self.reply(530, "Use AUTH TLS first.")
        elif not self.logged_in and verb not in ("AUTH", "FEAT", "QUIT", "USER", "PASS",
                                                 "PBSZ", "PROT"):
            self.reply(530, "Please log in with USER and PASS.")
        else:
            handler(arg)

    def _path(self, arg):
        return posixpath.normpath(posixpath.join(self.cwd, arg or "."))

    # --- data connections --------------------------------------------------------------------

    def _open_pasv(self):
        self._close_pasv()
        for _ in range(50):
            sock = socket.socket()
            sock.bind((LOCALHOST, 0))
            sock.listen(1)
            port = sock.getsockname()[1]
            if self.server.pasv_address == LOCALHOST:
                self._pasv = sock
                return port
            decoy = socket.socket()
            try:
                decoy.bind((self.server.pasv_address, port))
            except OSError:
                decoy.close()
                sock.close()
                continue
            decoy.listen(1)
            decoy.setblocking(False)
            self._pasv, self._decoy = sock, decoy
            return port
        raise RuntimeError("no port free on both passive addresses")

    def _close_pasv(self):
        if self._decoy is not None:
            while True:  # count connections that reached the decoy address
                try:
                    conn, _ = self._decoy.accept()
                except OSError:
                    break
                conn.close()
                self.server._count("decoy_hits")
            self._decoy.close()
            self._decoy = None
        if self._pasv is not None:
            self._pasv.close()
            self._pasv = None

    def _connect_active(self):
        """Active mode: connect to the address EPRT/PORT named (after an intruder's
        connection from 127.0.0.2 if so scripted); the socket or None."""
        target, self._active = self._active, None
        intruder = None
        try:
            if self.server.active_intruder:
                intruder = socket.create_connection(target, timeout=IO_TIMEOUT,
                                                    source_address=(INTRUDER, 0))
                intruder.sendall(b"\x16\x03\x01 not the server\r\n")
                self.server._count("intruder_connections")
            return socket.create_connection(target, timeout=IO_TIMEOUT,
                                            source_address=(LOCALHOST, 0))
        except OSError:
            return None
        finally:
            if intruder is not None:
                intruder.close()

    def reset_data_connection(self, final=(425, "Cannot open data connection.")):
        """Answer a transfer command with 150, accept the data connection and reset it (RST)
        before its TLS handshake, then send the `final` reply (none if None): a server or a
        middlebox dropping a data connection as it opens."""
        if self._pasv is None and self._active is None:
            self.reply(425, "Use EPSV or PASV first.")
            return
        self.reply(150, "Opening BINARY mode data connection.")
        raw = self._accept_raw()
        if raw is not None:
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            raw.close()
        if final is not None:
            self.reply(*final)

    def _accept_raw(self):
        """The data connection's TCP socket, or None if it did not come."""
        raw = None
        if self._active is not None:
            raw = self._connect_active()
        else:
            listener = self._pasv
            listener.settimeout(POLL)
            end = time.monotonic() + IO_TIMEOUT
            while raw is None and time.monotonic() < end and not self.server.stopping:
                try:
                    raw, _ = listener.accept()
                except (TimeoutError, socket.timeout):
                    continue
            self._close_pasv()
        return raw

    def _accept_data(self):
        """The TLS data connection, or None (after a 425 reply) if it did not come or its
        handshake failed."""
        raw = self._accept_raw()
        if raw is None:
            self.reply(425, "Data connection did not come.")
            return None
        _no_delay(raw)
        raw.settimeout(IO_TIMEOUT)
        try:
            conn = self.ssl_ctx.wrap_socket(raw, server_side=True)
        except OSError:
            raw.close()
            self.reply(425, "TLS handshake on the data connection failed.")
            return None
        self.server._count("data_connections")
        if conn.session_reused:
            self.server._count("data_resumed")
        elif self.server.session_rule:
            self.server._count("data_refused")
            _close_abruptly(conn)
            self.reply(*self.server.session_rule)
            return None
        return conn

    def _send_data(self, conn, data, clean):
        try:
            conn.sendall(data)
            if clean:
                # close_notify, then wait for the client's (vsftpd sends 226 only after it)
                conn.unwrap()
            else:
                _close_abruptly(conn)
        except OSError:
            pass  # the client went away; the final reply still tells what happened

    # --- command handlers --------------------------------------------------------------------

    def _cmd_auth(self, arg):
        if arg.upper() not in ("TLS", "SSL"):
            self.reply(504, "Unknown AUTH type.")
            return
        if self.secure:
            self.reply(503, "Already using TLS.")
            return
        self.reply(234, "Proceed with negotiation.")
        self.sock.settimeout(IO_TIMEOUT)
        if self.server.session_rule:
            self.ssl_ctx = self.server.new_ssl_context()
        try:
            self.sock = self.ssl_ctx.wrap_socket(self.sock, server_side=True)
        except OSError as e:
            raise SessionEnd(f"TLS handshake failed: {e}") from e
        self.secure = True
        self._poll_timeout()

    def _cmd_user(self, arg):
        self.user = arg
        self.logged_in = False
        self.reply(331, "Please specify the password.")

    def _cmd_pass(self, arg):
        if self.user == self.server.user and arg == self.server.password:
            self.logged_in = True
            self.server._count("logins")
            self.reply(230, "Login successful.")
        else:
            self.reply(530, "Login incorrect.")

    def _cmd_pbsz(self, arg):
        self.reply(200, "PBSZ=0")

    def _cmd_prot(self, arg):
        if arg.upper() == "P":
            self.reply(200, "Protection level set to P.")
        else:
            self.reply(536, "Only PROT P is supported.")

    def _cmd_feat(self, arg):
        srv = self.server
        feats = ["AUTH TLS", "PBSZ", "PROT", "PASV"]
        feats += ["MDTM"] if srv.mdtm else []
        feats += ["UTF8"] if srv.utf8 else []
        feats += ["REST STREAM"] if srv.rest_stream else []
        feats += ["SIZE"] if srv.size else []
        if self.server.epsv:
            feats.append("EPSV")
        if self.server.mlst:
            feats.append("MLST type*;size*;modify*;UNIX.mode*;")
        if self.server.hash_sha256:
            feats.append("HASH SHA-256*")
        self.send_raw(("211-Features:\r\n" + "".join(f" {f}\r\n" for f in feats)
                       + "211 End\r\n").encode())

    def _cmd_opts(self, arg):
        if arg.upper().startswith("UTF8") and not self.server.utf8:
            self.reply(501, "Option not understood.")
        else:
            self.reply(200, "OK.")

    def _cmd_type(self, arg):
        self.reply(200, "Switching to Binary mode.")

    def _cmd_noop(self, arg):
        self.reply(200, "NOOP ok.")

    def _cmd_quit(self, arg):
        self.reply(221, "Goodbye.")
        raise SessionEnd("QUIT")

    def _cmd_pwd(self, arg):
        self.reply(257, '"%s" is the current directory' % self.cwd.replace('"', '""'))

    def _cmd_cwd(self, arg):
        path = self._path(arg)
        if path in self.server.dirs:
            self.cwd = path
            self.reply(250, "Directory successfully changed.")
        else:
            self.reply(550, "Failed to change directory.")

    def _cmd_rest(self, arg):
        if not self.server.rest_stream:
            self.reply(502, "Command not implemented.")
        elif not arg.isdigit():
            self.reply(501, "REST needs a number.")
            return
        else:
            self.rest = int(arg)
            self.reply(350, f"Restart position accepted ({self.rest}).")

    def _cmd_epsv(self, arg):
        if not self.server.epsv:
            self.reply(502, "Command not implemented.")
            return
        port = self._open_pasv()
        self.reply(229, f"Entering Extended Passive Mode (|||{port}|)")

    def _cmd_pasv(self, arg):
        port = self._open_pasv()
        h = self.server.pasv_address.replace(".", ",")
        self.reply(227, f"Entering Passive Mode ({h},{port >> 8},{port & 255}).")

    def _set_active(self, host, port):
        self._close_pasv()
        self._active = (host, port)
        self.reply(200, "Active mode on.")

    def _cmd_eprt(self, arg):
        # RFC 2428: <d>af<d>address<d>port<d>, the delimiter being the first character.
        parts = arg.split(arg[:1]) if arg else []
        if not self.server.eprt:
            self.reply(502, "Command not implemented.")
        elif len(parts) != 5 or parts[1] not in ("1", "2") or not parts[3].isdigit():
            self.reply(501, "Bad EPRT argument.")
        else:
            self._set_active(parts[2], int(parts[3]))

    def _cmd_port(self, arg):
        nums = arg.split(",")
        if len(nums) != 6 or not all(n.isdigit() and int(n) < 256 for n in nums):
            self.reply(501, "Bad PORT argument.")
        else:
            self._set_active(".".join(nums[:4]), int(nums[4]) * 256 + int(nums[5]))

    def _cmd_size(self, arg):
        path = self._path(arg)
        if not self.server.size:
            self.reply(502, "Command not implemented.")
        elif path in self.server.files:
            self.reply(213, str(len(self.server.files[path])))
        else:
            self.reply(550, "Could not get file size.")

    def _cmd_mlst(self, arg):
        path = self._path(arg)
        if not self.server.mlst:
            self.reply(502, "Command not implemented.")
        elif path in self.server.dirs:
            facts = f"type=dir;modify={MODIFY};UNIX.mode=0755;"
            self.send_raw(f"250-Listing {path}\r\n {facts} {path}\r\n250 End\r\n".encode())
        elif path in self.server.files:
            facts = (f"type=file;size={len(self.server.files[path])};modify={MODIFY};"
                     "UNIX.mode=0644;")
            self.send_raw(f"250-Listing {path}\r\n {facts} {path}\r\n250 End\r\n".encode())
        else:
            self.reply(550, "No such file or directory.")

    def _list_dir(self, arg, mlsd):
        path = self._path(arg)
        if path not in self.server.dirs:
            self._close_pasv()
            self.reply(550, "No such directory.")
            return
        self.transfer(self.server.listing(path, mlsd))

    def _cmd_mlsd(self, arg):
        if not self.server.mlst:
            self.reply(502, "Command not implemented.")
            return
        self._list_dir(arg, True)

    def _cmd_list(self, arg):
        # "LIST -a" and the like: options are not paths
        words = [w for w in arg.split() if not w.startswith("-")]
        self._list_dir(" ".join(words), False)

    def _receive(self):
        """Run one upload: 150, accept the data connection, read to the client's
        close_notify, answer with ours. The bytes, or None (after a 425 reply)."""
        if self._pasv is None and self._active is None:
            self.reply(425, "Use EPSV or PASV first.")
            return None
        self.reply(*(self.server.prelim or (150, "Ok to send data.")))
        conn = self._accept_data()
        if conn is None:
            return None
        chunks = []
        try:
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
            conn.unwrap()
        except OSError:
            pass  # what came is stored; the client knows whether it sent it all
        finally:
            conn.close()
        data = b"".join(chunks)
        if self.server.corrupt_uploads and data:
            data = bytes([data[0] ^ 0xFF]) + data[1:]
        return data

    def _store(self, arg, append):
        path = self._path(arg)
        if posixpath.dirname(path) not in self.server.dirs or path in self.server.dirs:
            self._close_pasv()
            self.reply(553, "Could not create file.")
            return
        rest = self.take_rest()
        data = self._receive()
        if data is None:
            return
        old = self.server.files.get(path, b"")
        if append:
            self.server.files[path] = old + data
        elif rest:  # REST + STOR overwrites from the offset, like vsftpd
            self.server.files[path] = old[:rest] + data + old[rest + len(data):]
        else:
            self.server.files[path] = data
        self.server.mtimes.pop(path, None)
        self.reply(226, "Transfer complete.")

    def _cmd_stor(self, arg):
        self._store(arg, append=False)

    def _cmd_appe(self, arg):
        self._store(arg, append=True)

    def _cmd_hash(self, arg):
        path = self._path(arg)
        if not self.server.hash_sha256:
            self.reply(502, "Command not implemented.")
        elif path not in self.server.files:
            self.reply(550, "No such file.")
        else:
            data = self.server.files[path]
            digest = hashlib.sha256(data).hexdigest()
            self.reply(213, f"SHA-256 0-{len(data)} {digest} {arg}")

    def _cmd_mdtm(self, arg):
        path = self._path(arg)
        if path in self.server.files:
            code, text = 213, self.server.mtimes.get(path, MODIFY)
        else:
            code, text = 550, "Could not get file modification time."
        if self.server.reorder_reads:
            # Which read the command came in is all that orders the reply.
            self._held.setdefault(self._line_read, []).append(f"{code} {text}\r\n".encode())
        else:
            self.reply(code, text)

    def _cmd_dele(self, arg):
        path = self._path(arg)
        if path in self.server.files:
            del self.server.files[path]
            self.reply(250, "Delete operation successful.")
        else:
            self.reply(550, "Delete operation failed.")

    def _cmd_mkd(self, arg):
        path = self._path(arg)
        if path in self.server.dirs or path in self.server.files or \
                posixpath.dirname(path) not in self.server.dirs:
            self.reply(550, "Create directory operation failed.")
        else:
            self.server.dirs.add(path)
            self.reply(257, '"%s" created' % path.replace('"', '""'))

    def _cmd_rmd(self, arg):
        path = self._path(arg)
        if path not in self.server.dirs or path == "/" or \
                self.server.children(path):
            self.reply(550, "Remove directory operation failed.")
        else:
            self.server.dirs.discard(path)
            self.reply(250, "Remove directory operation successful.")

    def _cmd_rnfr(self, arg):
        path = self._path(arg)
        if path in self.server.files or (path in self.server.dirs and path != "/"):
            self._rename_from = path
            self.reply(350, "Ready for RNTO.")
        else:
            self.reply(550, "RNFR command failed.")

    def _cmd_rnto(self, arg):
        src, dst = self._rename_from, self._path(arg)
        self._rename_from = None
        srv = self.server
        if src is None:
            self.reply(503, "RNFR required first.")
        elif posixpath.dirname(dst) not in srv.dirs or dst in srv.dirs:
            self.reply(550, "Rename failed.")
        elif src in srv.files:
            srv.files[dst] = srv.files.pop(src)
            self.reply(250, "Rename successful.")
        else:  # a directory and everything below it
            prefix = src + "/"
            srv.dirs = {dst + d[len(src):] if d == src or d.startswith(prefix) else d
                        for d in srv.dirs}
            srv.files = {dst + f[len(src):] if f.startswith(prefix) else f: data
                         for f, data in srv.files.items()}
            self.reply(250, "Rename successful.")

    def _cmd_retr(self, arg):
        path = self._path(arg)
        rest = self.take_rest()
        if path not in self.server.files:
            self._close_pasv()
            self.reply(550, "Failed to open file.")
            return
        self.transfer(self.server.files[path][rest:])


def _no_delay(sock):
    # Nagle + delayed ACK would add ~40 ms to every small reply
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _close_abruptly(sock):
    """End a (TLS) socket's TCP connection without a TLS close_notify."""
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)  # the TCP level, not SSLSocket's
    except OSError:
        pass
    sock.close()
