#!/usr/bin/python3
"""A loopback TCP proxy that adds a fixed one-way delay and counts round trips (stdlib only).

    delayproxy.py --delay-ms 10 [--rate-mbit R] PORT|LOW-HIGH ...

Listens on 127.0.0.2 at every given port (an FTP server's control port and its whole passive
range) and forwards each connection to the same port on 127.0.0.1: FTP clients connect their
data connections to the control connection's peer, so they pass through here too. TLS passes
untouched (the test certificate names 127.0.0.2).

Delay: every chunk read from one side is written to the other side `delay` later, in order,
end of stream (FIN) included; both directions, so a round trip costs 2 x delay. The TCP
handshake costs a round trip on a real network, but the client's connect() to us returns at
once: so the server side is connected 1.5 round trips after the client connected (when a real
server would see the handshake's last ACK), and nothing the client sent is delivered earlier
than that. Queues are bounded (BUFFER bytes per direction, then the reader waits), far above
the bandwidth-delay product: a latency, not a throughput cap - unless a rate is set.

Rate cap (--rate-mbit R, or the `rate` command; 0: none): each connection, in each direction,
gets at most R Mbit/s, paced by a token bucket of its own (PACE bytes of burst). That is what a
long fat path does to one TCP flow, and what many servers do to each connection: a client that
opens several connections gets several times the rate. The queue of a capped direction is
bounded to a quarter second of its rate (at least 256 KiB), as a TCP send buffer would be, so
an aborted download does not leave megabytes in flight.

Round trips (see bench/README.md): per connection, 1 for the TCP connect, plus 1 each time data
from the server follows data from the client (or the connect itself) on that connection: every
time the server answers, the client had to wait a round trip for it. Counted where the proxy
reads the data, so it does not depend on the client.

Control, on stdin (one command a line, one JSON line answers on stdout):
    stats        {"connects", "round_trips", "bytes_up", "bytes_down", "idle_s", "open"}
    delay MS     change the one-way delay for connections accepted from now on
    rate MBIT    change the per-connection rate cap for connections accepted from now on
Prints "ready" once every port listens; exits at EOF on stdin (and closes everything).
"""

import collections
import json
import selectors
import socket
import sys
import threading
import time

LISTEN_HOST = "127.0.0.2"
TARGET_HOST = "127.0.0.1"
CHUNK = 1 << 20
BUFFER = 64 << 20   # bytes queued per direction before the reader waits
PACE = 64 << 10     # a capped direction sends at most this much at once (the bucket's size)


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.connects = self.round_trips = self.bytes_up = self.bytes_down = 0
        self.open = 0
        self.last_event = time.monotonic()

    def snapshot(self):
        with self.lock:
            return {"connects": self.connects, "round_trips": self.round_trips,
                    "bytes_up": self.bytes_up, "bytes_down": self.bytes_down,
                    "idle_s": round(time.monotonic() - self.last_event, 4),
                    "open": self.open}


class Pipe:
    """One direction of a link: a reader thread queues (due time, chunk), a writer thread sends
    each chunk when it is due. None is the end of the stream."""

    def __init__(self, link, src, up):
        self.link, self.src, self.up = link, src, up
        self.queue = collections.deque()
        self.queued = 0
        self.cond = threading.Condition()
        self.dst = None
        rate = link.rate_bps
        self.buffer = min(BUFFER, max(256 << 10, rate // 4)) if rate else BUFFER
        self.next_send = 0.0    # the token bucket: when the next PACE bytes may go

    def send(self, data):
        """sendall(data), no faster than the link's rate cap."""
        rate = self.link.rate_bps
        if not rate:
            self.dst.sendall(data)
            return
        view = memoryview(data)
        for off in range(0, len(view), PACE):
            piece = view[off:off + PACE]
            now = time.monotonic()
            start = max(now, self.next_send)
            if start > now:
                time.sleep(start - now)
            self.dst.sendall(piece)
            self.next_send = start + len(piece) / rate

    def read_loop(self):
        link = self.link
        try:
            while True:
                with self.cond:
                    while self.queued > self.buffer and not link.dead:
                        self.cond.wait(0.5)
                if link.dead:
                    return
                try:
                    data = self.src.recv(CHUNK)
                except OSError:
                    data = None
                    link.abort = True
                now = time.monotonic()
                link.observe(self.up, data, now)
                due = now + link.delay
                if self.up:  # nothing reaches the server before its handshake would end
                    due = max(due, link.t_server)
                with self.cond:
                    self.queue.append((due, data or None))
                    self.queued += len(data or b"")
                    self.cond.notify_all()
                if not data:
                    return
        finally:
            link.stopped()

    def write_loop(self):
        link = self.link
        try:
            while True:
                with self.cond:
                    while not self.queue and not link.dead:
                        self.cond.wait(0.5)
                    if link.dead:
                        return
                    due, data = self.queue[0]
                wait = due - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                with self.cond:
                    self.queue.popleft()
                    self.queued -= len(data or b"")
                    self.cond.notify_all()
                if data is None:
                    if link.abort:
                        link.kill()
                    else:
                        try:
                            self.dst.shutdown(socket.SHUT_WR)
                        except OSError:
                            pass
                    return
                try:
                    self.send(data)
                except OSError:
                    link.kill()
                    return
        finally:
            link.stopped()


class Link:
    """One proxied connection: client socket, server socket, two pipes (four threads)."""

    def __init__(self, stats, client, port, delay, rate_mbit=0.0):
        self.stats, self.client, self.port, self.delay = stats, client, port, delay
        self.rate_bps = int(rate_mbit * 1e6 / 8)   # bytes/s per direction; 0: no cap
        self.server = None
        self.t_accept = time.monotonic()
        self.t_server = self.t_accept + 3 * delay   # 1.5 round trips: SYN, SYN-ACK, ACK
        self.last = "c"            # the connect counts as the client's first move
        self.dead = self.abort = False
        self.running = 4
        self.lock = threading.Lock()
        with stats.lock:
            stats.connects += 1
            stats.round_trips += 1
            stats.open += 1
            stats.last_event = self.t_accept

    def observe(self, up, data, now):
        with self.stats.lock:
            st = self.stats
            st.last_event = now
            if not data:
                return
            if up:
                st.bytes_up += len(data)
                self.last = "c"
            else:
                st.bytes_down += len(data)
                if self.last == "c":  # the server answers: the client waited a round trip
                    st.round_trips += 1
                self.last = "s"

    def start(self):
        self.client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.up = Pipe(self, self.client, True)
        threading.Thread(target=self.up.read_loop, daemon=True).start()
        threading.Thread(target=self.connect_then_run, daemon=True).start()

    def connect_then_run(self):
        wait = self.t_server - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        try:
            self.server = socket.create_connection((TARGET_HOST, self.port), timeout=10)
            self.server.settimeout(None)
            self.server.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            with self.lock:
                self.running -= 3  # only the up reader runs: it ends once the client is shut
            self.kill()
            return
        self.up.dst = self.server
        self.down = Pipe(self, self.server, False)
        self.down.dst = self.client
        for fn in (self.up.write_loop, self.down.read_loop, self.down.write_loop):
            threading.Thread(target=fn, daemon=True).start()

    def kill(self):
        """Abortive close of both sides (a reset or error travels on at once)."""
        with self.lock:
            if self.dead:
                return
            self.dead = True
        for s in (self.client, self.server):
            if s is not None:
                try:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def stopped(self):
        with self.lock:
            self.running -= 1
            last = self.running <= 0
            if last:
                self.dead = True
        for p in (getattr(self, "up", None), getattr(self, "down", None)):
            if p is not None:
                with p.cond:
                    p.cond.notify_all()
        if last:
            for s in (self.client, self.server):
                if s is not None:
                    s.close()
            with self.stats.lock:
                self.stats.open -= 1


def parse_ports(specs):
    ports = []
    for spec in specs:
        low, _, high = spec.partition("-")
        ports += range(int(low), int(high or low) + 1)
    return ports


def main():
    args = sys.argv[1:]
    delay, rate = 0.010, 0.0
    while args[:1] in (["--delay-ms"], ["--rate-mbit"]):
        if args[0] == "--delay-ms":
            delay = float(args[1]) / 1000
        else:
            rate = float(args[1])
        args = args[2:]
    stats = Stats()
    state = {"delay": delay, "rate": rate}
    sel = selectors.DefaultSelector()
    for port in parse_ports(args):
        ls = socket.socket()
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((LISTEN_HOST, port))
        ls.listen(64)
        ls.setblocking(False)
        sel.register(ls, selectors.EVENT_READ, port)

    def accept_loop():
        while True:
            for key, _ in sel.select():
                try:
                    client, _ = key.fileobj.accept()
                except OSError:
                    continue
                client.setblocking(True)
                Link(stats, client, key.data, state["delay"], state["rate"]).start()

    threading.Thread(target=accept_loop, daemon=True).start()
    print("ready", flush=True)
    for line in sys.stdin:
        cmd = line.split()
        if cmd[:1] == ["stats"]:
            print(json.dumps(stats.snapshot()), flush=True)
        elif cmd[:1] == ["delay"]:
            state["delay"] = float(cmd[1]) / 1000
            print(json.dumps({"delay_ms": float(cmd[1])}), flush=True)
        elif cmd[:1] == ["rate"]:
            state["rate"] = float(cmd[1])
            print(json.dumps({"rate_mbit": float(cmd[1])}), flush=True)
        else:
            print(json.dumps({"error": f"unknown command {line.strip()!r}"}), flush=True)


if __name__ == "__main__":
    main()
