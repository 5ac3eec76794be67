"""A loopback TCP proxy that can stall, slow down or reset what it forwards.

The client connects to 127.0.0.2 and the proxy forwards to the server on
127.0.0.1, the control port and every port of the server's passive range
alike: ftpsfs connects data connections to its control connection's peer
(the proxy) at the port the server announced, so the proxy sees both kinds
and faults can be aimed at either.  TLS passes through untouched (the test
certificate names 127.0.0.2 too).
"""

import socket
import struct
import threading
import time

PROXY_HOST = "127.0.0.2"
TARGET_HOST = "127.0.0.1"


class _Link:
    """One proxied connection: two sockets and two pump threads."""

    def __init__(self, proxy, client, kind):
        self.proxy = proxy
        self.kind = kind  # "control" or "data"
        self.client = client
        self.server = None
        self.closed = threading.Event()
        self.bytes_down = 0
        self.bytes_up = 0

    def start(self, target_port):
        try:
            self.server = socket.create_connection((TARGET_HOST, target_port), timeout=5)
        except OSError:
            self.client.close()
            return
        self.server.settimeout(None)
        for src, dst, down in ((self.client, self.server, False),
                               (self.server, self.client, True)):
            t = threading.Thread(target=self._pump, args=(src, dst, down), daemon=True)
            t.start()
            self.proxy._threads.append(t)

    def _pump(self, src, dst, down):
        p = self.proxy
        try:
            while not self.closed.is_set():
                if down and self.kind == "data":
                    while p.stall_data.is_set() and not self.closed.is_set():
                        time.sleep(0.02)
                if not down and self.kind == "data":
                    while (p.hold_uploads_after is not None and
                           self.bytes_up >= p.hold_uploads_after and
                           not self.closed.is_set()):
                        time.sleep(0.02)
                src.settimeout(0.2)
                try:
                    data = src.recv(16384)
                except socket.timeout:
                    continue
                if not data:
                    break
                if down and self.kind == "data" and p.data_rate:
                    time.sleep(len(data) / p.data_rate)
                if not down:
                    self.bytes_up += len(data)
                    if p._cut_due(self):
                        # Part of this chunk is lost with the connection, as in a
                        # real cut: what sits in buffers never arrives.
                        self.close(reset=True)
                        break
                dst.sendall(data)
                if down:
                    self.bytes_down += len(data)
                    if self.kind == "control":
                        p.control_bytes_down += len(data)
                    else:
                        p.data_bytes_down += len(data)
        except OSError:
            pass
        finally:
            self.close(reset=False)

    def close(self, reset):
        if self.closed.is_set():
            return
        self.closed.set()
        for s in (self.client, self.server):
            if s is None:
                continue
            try:
                if reset:  # RST instead of FIN
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                 struct.pack("ii", 1, 0))
                s.close()
            except OSError:
                pass


class Proxy:
    """Forward PROXY_HOST:port -> TARGET_HOST:port for the control port and
    the passive range.  Faults: stall_data (Event), data_rate (bytes/s on
    data downloads, None = unlimited), hold_uploads_after (bytes: each data
    connection's upload stops there until it is set to None), reset(kind),
    cut_upload(bytes...), connection counts."""

    def __init__(self, control_port, pasv_range):
        self.control_port = control_port
        self.ports = [control_port] + list(range(pasv_range[0], pasv_range[1] + 1))
        self.stall_data = threading.Event()
        self.data_rate = None
        self.hold_uploads_after = None
        self._cuts = []  # pending cut_upload() thresholds, in bytes
        self._cut_control = False
        self.cuts_done = 0
        self.control_bytes_down = 0
        self.data_bytes_down = 0
        self._links = []
        self._threads = []
        self._listeners = []
        self._stop = threading.Event()
        self._lock = threading.Lock()

    def start(self):
        for port in self.ports:
            ls = socket.socket()
            ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            ls.bind((PROXY_HOST, port))
            ls.listen(16)
            ls.settimeout(0.2)
            self._listeners.append(ls)
            t = threading.Thread(target=self._accept, args=(ls, port), daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def _accept(self, ls, port):
        kind = "control" if port == self.control_port else "data"
        while not self._stop.is_set():
            try:
                client, _ = ls.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            link = _Link(self, client, kind)
            with self._lock:
                self._links.append(link)
            link.start(port)

    def cut_upload(self, *after_bytes, with_control=False):
        """Reset (RST) a data connection once its upload has carried more than each of
        `after_bytes` bytes: the first threshold applies to the next data connection that
        reaches it, and so on; with_control resets every control connection with it.
        cuts_done counts the resets made."""
        with self._lock:
            self._cuts.extend(after_bytes)
            self._cut_control = with_control

    def cancel_cuts(self):
        """Drop the cut_upload() thresholds not reached yet."""
        with self._lock:
            self._cuts.clear()

    def _cut_due(self, link):
        with self._lock:
            if link.kind != "data" or not self._cuts or link.bytes_up <= self._cuts[0]:
                return False
            self._cuts.pop(0)
            self.cuts_done += 1
            with_control = self._cut_control
        if with_control:
            self.reset("control")
        return True

    def links(self, kind):
        with self._lock:
            return [link for link in self._links if link.kind == kind and not link.closed.is_set()]

    def reset(self, kind):
        """RST every open connection of `kind` ("control" or "data")."""
        for link in self.links(kind):
            link.close(reset=True)

    def stop(self):
        self._stop.set()
        for ls in self._listeners:
            ls.close()
        with self._lock:
            links = list(self._links)
        for link in links:
            link.close(reset=False)
        for t in self._threads:
            t.join(timeout=2)
