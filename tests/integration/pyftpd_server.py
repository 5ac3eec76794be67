"""pyftpdlib's TLS server for the integration tests (Debian python3-pyftpdlib + python3-openssl).

Run by servers.Pyftpdlib as /usr/bin/python3 pyftpd_server.py CONFIG.json. It binds
127.0.0.1:PORT, reads the certificate and opens its log as root, then becomes the test user
(so files it creates belong to that user, as with the other servers) and serves one virtual
user (DummyAuthorizer) whose home is the server root. Explicit TLS only (AUTH TLS), TLS
required on the control connection (USER/PASS) and on data connections (PROT P before
EPSV/PASV/PORT/EPRT).

With "mlsd_hides_dot_files" in the config, MLSD leaves out names that start with a dot while
LIST (and MLST) still show them: what Apache FtpServer (MINA) does for an MLSD without its
non-standard "-a" argument, a server that cannot run here.

Besides pyftpdlib's own log of every command and reply, it logs one line per TLS data
connection: "data connection TLSv1.x, session reused" or "... session NOT reused" (pyftpdlib
does not require reuse: its data connections use the control connection's SSL context, so
a client may resume).
"""

import json
import logging
import os
import sys

from OpenSSL import SSL
from OpenSSL._util import lib as _ssl_lib
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.filesystems import AbstractedFS
from pyftpdlib.handlers import TLS_DTPHandler, TLS_FTPHandler
from pyftpdlib.servers import FTPServer

TLS_VERSIONS = {"1.2": SSL.TLS1_2_VERSION, "1.3": SSL.TLS1_3_VERSION}


class LoggingDTPHandler(TLS_DTPHandler):
    """Logs whether each TLS data connection resumed a session, once its handshake is done."""

    def _do_ssl_handshake(self):
        super()._do_ssl_handshake()
        if self._ssl_established and not getattr(self, "_reuse_logged", False):
            self._reuse_logged = True
            reused = _ssl_lib.SSL_session_reused(self.socket._ssl) == 1
            logging.info("data connection %s, session %s",
                         self.socket.get_protocol_version_name(),
                         "reused" if reused else "NOT reused")


class DotHidingFS(AbstractedFS):
    """listdir() without dot names while `hide_dots` is set (during MLSD only)."""

    hide_dots = False

    def listdir(self, path):
        names = super().listdir(path)
        return [n for n in names if not n.startswith(".")] if self.hide_dots else names


class DotHidingMLSDHandler(TLS_FTPHandler):
    """MLSD hides dot files (Apache FtpServer's VisibleFileFilter); LIST shows them."""

    abstracted_fs = DotHidingFS

    def ftp_MLSD(self, path):
        self.fs.hide_dots = True
        try:
            return super().ftp_MLSD(path)
        finally:
            self.fs.hide_dots = False


def main():
    with open(sys.argv[1]) as f:
        cfg = json.load(f)
    logging.basicConfig(filename=cfg["log"], level=logging.DEBUG,
                        format="%(asctime)s %(levelname)s %(message)s")
    ctx = SSL.Context(SSL.TLS_METHOD)
    ctx.set_min_proto_version(SSL.TLS1_2_VERSION)
    ctx.set_max_proto_version(TLS_VERSIONS[cfg.get("tls_max") or "1.3"])
    ctx.use_certificate_chain_file(cfg["cert"])
    ctx.use_privatekey_file(cfg["key"])
    # An id context lets TLS 1.2 session ids resume (OpenSSL's server cache is per context).
    ctx.set_session_id(b"ftpsfs-test-pyftpdlib")

    authorizer = DummyAuthorizer()
    # e l r a d f m w M T: every right, including SITE CHMOD (M) and MFMT (T)
    authorizer.add_user(cfg["user"], cfg["password"], cfg["root"], perm="elradfmwMT")

    handler = DotHidingMLSDHandler if cfg.get("mlsd_hides_dot_files") else TLS_FTPHandler
    handler.ssl_context = ctx
    handler.authorizer = authorizer
    handler.tls_control_required = True
    handler.tls_data_required = True
    handler.dtp_handler = LoggingDTPHandler
    handler.passive_ports = range(cfg["pasv_min"], cfg["pasv_max"] + 1)
    handler.masquerade_address = None
    handler.permit_foreign_addresses = False
    handler.use_sendfile = False
    handler.banner = "pyftpdlib test server ready."

    server = FTPServer(("127.0.0.1", cfg["port"]), handler)
    os.setgroups([])
    os.setgid(cfg["gid"])
    os.setuid(cfg["uid"])
    os.umask(0o022)
    # pyftpdlib's CWD goes back to os.getcwd() after a failure: one the user may enter.
    os.chdir(cfg["root"])
    server.serve_forever(handle_exit=True)


if __name__ == "__main__":
    main()
