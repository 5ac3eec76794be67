"""Mount/unmount the ftpsfs binary for integration tests (stdlib only).

CLI contract of ftpsfs that this relies on:

    ftpsfs URL MOUNTPOINT -f [-d] -o cafile=CA,password_stdin[,more]

URL is ftp://USER@HOST:PORT/PATH (explicit TLS) or ftps://... (implicit TLS). With
password_stdin the password is read as one line from stdin.
"""

import os
import signal
import subprocess
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def default_binary():
    """$FTPSFS_BIN, else build/ftpsfs in the repository (relative paths: to the repo root)."""
    path = Path(os.environ.get("FTPSFS_BIN", "build/ftpsfs"))
    return path if path.is_absolute() else REPO_ROOT / path


def _unescape_mountinfo(field):
    # /proc/self/mountinfo escapes space, tab, newline and backslash as \ooo (octal)
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and field[i + 1:i + 4].isdigit():
            out.append(chr(int(field[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def mount_fstype(mountpoint):
    """The filesystem type mounted at `mountpoint` (last mount wins), or None."""
    target = os.path.realpath(mountpoint)
    fstype = None
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            if _unescape_mountinfo(left.split()[4]) == target:
                fstype = right.split()[0]
    return fstype


def is_fuse_mounted(mountpoint):
    t = mount_fstype(mountpoint)
    return t is not None and (t == "fuse" or t.startswith("fuse."))


class Mount:
    """One ftpsfs process mounted at `mountpoint`.

    options: extra -o options (strings, e.g. "tls_max=1.2"); cafile and password_stdin are
    added from the arguments. The log (stdout+stderr of ftpsfs) goes to `log_path`, by default
    "<mountpoint>.log" next to the mount point."""

    START_TIMEOUT = 20.0
    STOP_TIMEOUT = 10.0

    def __init__(self, binary, url, mountpoint, password, options=(), debug=True,
                 cafile=None, log_path=None, env=None):
        self.binary = Path(binary) if binary else default_binary()
        self.url = url
        self.mountpoint = Path(mountpoint)
        self.password = password
        self.options = list(options)
        self.debug = debug
        self.cafile = cafile
        self.log_path = Path(log_path) if log_path else self.mountpoint.with_name(
            self.mountpoint.name + ".log")
        self.env = env
        self.proc = None
        self.exit_status = None  # set by stop(): the daemon's exit code, None if it was killed

    def argv(self):
        opts = []
        if self.cafile:
            opts.append(f"cafile={self.cafile}")
        if self.password is not None:
            opts.append("password_stdin")
        opts += self.options
        argv = [str(self.binary), self.url, str(self.mountpoint), "-f"]
        if self.debug:
            argv.append("-d")
        if opts:
            argv += ["-o", ",".join(opts)]
        return argv

    def start(self):
        assert self.proc is None, "already started"
        if not self.binary.exists():
            raise RuntimeError(f"ftpsfs binary not found: {self.binary} "
                               "(build it, or set FTPSFS_BIN)")
        self.mountpoint.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.argv(), stdin=subprocess.PIPE, stdout=log,
                                         stderr=subprocess.STDOUT, env=self.env,
                                         start_new_session=True)
        try:
            if self.password is not None:
                self.proc.stdin.write(self.password.encode() + b"\n")
            self.proc.stdin.close()
        except BrokenPipeError:
            pass  # it exited already; reported below
        deadline = time.monotonic() + self.START_TIMEOUT
        while not is_fuse_mounted(self.mountpoint):
            if self.proc.poll() is not None:
                rc = self.proc.returncode
                self.proc = None
                raise RuntimeError(f"ftpsfs exited with {rc} before mounting "
                                   f"{self.mountpoint}:\n{self._tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.mountpoint} not mounted after "
                                   f"{self.START_TIMEOUT}s:\n{self._tail()}")
            time.sleep(0.05)
        return self

    def _unmount(self):
        # -z (lazy) so a test that still has a file open cannot block the teardown
        for cmd in (["fusermount3", "-u", "-z", str(self.mountpoint)],
                    ["umount", "-l", str(self.mountpoint)]):
            if not is_fuse_mounted(self.mountpoint):
                return
            subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self):
        """Unmount and end the process (waits, then kills); safe to call twice.

        Returns the exit status (None if it had to be killed or was not running)."""
        self._unmount()
        if self.proc is None:
            return None
        rc = None
        try:
            rc = self.proc.wait(timeout=self.STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(self.proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.proc.wait(timeout=3)
                    break
                except subprocess.TimeoutExpired:
                    pass
        self.proc = None
        self.exit_status = rc
        self._unmount()  # a killed daemon leaves a dead mount behind
        report = self.sanitizer_report()
        if report:
            raise AssertionError(f"sanitizer report in {self.log_path}:\n{report}")
        return rc

    SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                         "runtime error:", "VALGRIND-ERROR-BEGIN")

    def sanitizer_report(self):
        """The first ASan/LSan/UBSan or valgrind report in the log, or "" (a binary
        built with -Db_sanitize=address,undefined prints them at exit; valgrind, through
        tests/valgrind-ftpsfs.sh, as it finds them)."""
        lines = self.log_text().splitlines()
        for i, line in enumerate(lines):
            if any(m in line for m in self.SANITIZER_MARKERS):
                return "\n".join(lines[i:i + 40])
        return ""

    def log_text(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def _tail(self, lines=40):
        return "\n".join(self.log_text().splitlines()[-lines:])

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
