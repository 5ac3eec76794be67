// ftp-srv (npm) for the integration tests: node ftpsrv_server.js CONFIG.json
//
// Run by servers.FtpSrv with the module installed by tests/deps.sh (NODE_PATH points at the
// private prefix). Explicit TLS (AUTH TLS) on 127.0.0.1:PORT; a login is refused unless the
// control connection is already TLS, and once it is, ftp-srv makes every data connection TLS
// (it answers PROT C with 536). One virtual user, rooted at the server root. After binding
// and reading the certificate it becomes the test user, so files belong to that user as with
// the other servers.
//
// Logging: ftp-srv's own bunyan log at trace level (every command and reply) goes to
// ftp-srv.log. ftp-srv creates a new tls.Server for every passive data connection; to see
// whether a data connection resumed the control connection's TLS session, tls.createServer is
// wrapped to log "data connection TLSv1.x, session reused|NOT reused" per handshake. That is
// the only thing the wrapper does: the server's behaviour is ftp-srv's.
'use strict';

const fs = require('fs');
const tls = require('tls');

const cfg = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const bunyan = require('bunyan');
// Opened now, as root: the work directory is not the test user's.
const appendStream = (path) => fs.createWriteStream(null, {fd: fs.openSync(path, 'a')});
const log = bunyan.createLogger({
  name: 'ftp-srv', level: 'trace', streams: [{stream: appendStream(cfg.log), level: 'trace'}],
});
const events = appendStream(cfg.log.replace(/\.log$/, '-tls.log'));

const createServer = tls.createServer;
tls.createServer = function (options, listener) {
  const server = createServer.call(tls, options, listener);
  server.on('secureConnection', (socket) => {
    events.write(`data connection ${socket.getProtocol()}, session ` +
                 `${socket.isSessionReused() ? 'reused' : 'NOT reused'}\n`);
  });
  server.on('tlsClientError', (err) => {
    events.write(`data connection TLS handshake failed: ${err.message}\n`);
  });
  return server;
};

const FtpSrv = require('ftp-srv');

// ftp-srv 4.6.3 races on AUTH TLS: it wraps the socket in TLS only some event-loop turns
// after "234" has been written (a promise chain), so a quick client's ClientHello can reach
// the plain-text command parser, which answers "502 Command not allowed" in the clear, and
// the client's handshake fails ("wrong version number": about one mount in ten here). That
// race is not what these tests are about: this handler is ftp-srv's handleTLS() (same reply,
// same TLSSocket, same forwarded events) with the wrapping done synchronously after the 234
// is queued, so no read can come in between.
const auth = require('ftp-srv/src/commands/registration/auth');
const authHandler = auth.handler;
auth.handler = function (args) {
  const method = String((args && args.command && args.command.arg) || '').toUpperCase();
  if (method !== 'TLS' || !this.server.options.tls || this.secure) {
    return authHandler.call(this, args);
  }
  const raw = this.commandSocket;
  raw.write('234 Honored\r\n', this.encoding);
  const secureSocket = new tls.TLSSocket(raw, {
    isServer: true, secureContext: tls.createSecureContext(this.server.options.tls),
  });
  ['data', 'timeout', 'end', 'close', 'drain', 'error'].forEach((event) => {
    secureSocket.on(event, (...a) => raw.emit(event, ...a));
  });
  this.commandSocket = secureSocket;
  this.secure = true;
  return Promise.resolve();
};

const tlsOptions = {
  key: fs.readFileSync(cfg.key),
  cert: fs.readFileSync(cfg.cert),
  minVersion: 'TLSv1.2',
  maxVersion: cfg.tls_max === '1.2' ? 'TLSv1.2' : 'TLSv1.3',
};

const server = new FtpSrv({
  url: `ftp://127.0.0.1:${cfg.port}`,
  pasv_url: '127.0.0.1',
  pasv_min: cfg.pasv_min,
  pasv_max: cfg.pasv_max,
  tls: tlsOptions,
  anonymous: false,
  greeting: ['ftp-srv test server'],
  log,
});

server.on('login', ({connection, username, password}, resolve, reject) => {
  if (!connection.secure) {
    reject(new Error('TLS required on the control connection: use AUTH TLS'));
  } else if (username === cfg.user && password === cfg.password) {
    resolve({root: cfg.root});
  } else {
    reject(new Error('Login incorrect.'));
  }
});

server.listen().then(() => {
  process.umask(0o022);
  process.setgroups([]);
  process.setgid(cfg.gid);
  process.setuid(cfg.uid);
  process.chdir(cfg.root);
  events.write('listening\n');
});
