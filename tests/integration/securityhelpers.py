"""Certificates, fingerprints and small tools for the security tests (stdlib + openssl CLI).

servers.py's Certs makes one CA-signed server certificate; the security tests also need
self-signed server certificates (for pinning and trust on first use) and client certificates
(for vsftpd's require_cert). Everything here is made with the openssl command line, like
servers.py does.
"""

import hashlib
import random
import subprocess
import time
from pathlib import Path


def _openssl(*args, cwd, input=None):
    return subprocess.run(["openssl", *args], cwd=cwd, check=True, input=input,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE).stdout


def _ec_key():
    return ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]


class SelfSignedCerts:
    """A self-signed server certificate (CN/SAN localhost and 127.0.0.1): what many FTPS
    servers run with. Quacks like servers.Certs where the servers use it (cert_file,
    key_file, ca_file, key_type)."""

    key_type = "ec"

    def __init__(self, dirpath, name="self"):
        self.dir = Path(dirpath)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.cert_file = self.dir / f"{name}.pem"
        self.key_file = self.dir / f"{name}.key"
        self.ca_file = self.cert_file  # its own issuer
        _openssl("req", "-x509", *_ec_key(), "-nodes", "-days", "3650",
                 "-keyout", self.key_file.name, "-out", self.cert_file.name,
                 "-subj", "/CN=localhost",
                 "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                 cwd=self.dir)
        self.key_file.chmod(0o600)


class CASignedServerCert:
    """A server certificate signed by `ca_cert`/`ca_key` with the subjectAltName `san`
    (e.g. "DNS:localhost"). Quacks like servers.Certs for the servers."""

    key_type = "ec"

    def __init__(self, dirpath, ca_cert, ca_key, san, name="server"):
        self.dir = Path(dirpath)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.cert_file = self.dir / f"{name}.pem"
        self.key_file = self.dir / f"{name}.key"
        self.ca_file = Path(ca_cert)
        (self.dir / f"{name}.ext").write_text(
            "basicConstraints = CA:FALSE\n"
            "keyUsage = critical, digitalSignature\n"
            "extendedKeyUsage = serverAuth\n"
            f"subjectAltName = {san}\n")
        _openssl("req", *_ec_key(), "-nodes", "-keyout", self.key_file.name,
                 "-out", f"{name}.csr", "-subj", "/CN=localhost", cwd=self.dir)
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", str(ca_cert),
                 "-CAkey", str(ca_key), "-set_serial", str(random.getrandbits(63)),
                 "-days", "3650", "-extfile", f"{name}.ext", "-out", self.cert_file.name,
                 cwd=self.dir)
        self.key_file.chmod(0o600)


class ClientCert:
    """A client certificate (extendedKeyUsage clientAuth) signed by `ca_cert`/`ca_key`.
    With `passphrase`, the private key file is encrypted (AES-256, PKCS#8)."""

    def __init__(self, dirpath, ca_cert, ca_key, name="client", passphrase=None):
        self.dir = Path(dirpath)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.cert_file = self.dir / f"{name}.pem"
        self.key_file = self.dir / f"{name}.key"
        plain_key = self.dir / f"{name}.plain.key"
        (self.dir / f"{name}.ext").write_text(
            "basicConstraints = CA:FALSE\n"
            "keyUsage = critical, digitalSignature\n"
            "extendedKeyUsage = clientAuth\n")
        _openssl("req", *_ec_key(), "-nodes", "-keyout", plain_key.name,
                 "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=self.dir)
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", str(ca_cert),
                 "-CAkey", str(ca_key), "-set_serial", str(random.getrandbits(63)),
                 "-days", "3650", "-extfile", f"{name}.ext", "-out", self.cert_file.name,
                 cwd=self.dir)
        if passphrase is None:
            plain_key.rename(self.key_file)
        else:
            _openssl("pkcs8", "-topk8", "-v2", "aes-256-cbc", "-in", plain_key.name,
                     "-out", self.key_file.name, "-passout", "stdin",
                     cwd=self.dir, input=passphrase.encode() + b"\n")
            plain_key.unlink()
        self.key_file.chmod(0o600)


def self_signed_client_cert(dirpath, name="stranger"):
    """A self-signed client certificate: not issued by any CA the server trusts."""
    d = Path(dirpath)
    d.mkdir(parents=True, exist_ok=True)
    _openssl("req", "-x509", *_ec_key(), "-nodes", "-days", "3650",
             "-keyout", f"{name}.key", "-out", f"{name}.pem", "-subj", f"/CN={name}",
             "-addext", "extendedKeyUsage=clientAuth", cwd=d)
    return d / f"{name}.pem", d / f"{name}.key"


def cert_sha256(cert_file):
    """SHA-256 of the certificate's DER encoding, as bytes."""
    der = _openssl("x509", "-in", str(cert_file), "-outform", "DER", cwd=".")
    return hashlib.sha256(der).digest()


def spki_sha256(cert_file):
    """SHA-256 of the certificate's SubjectPublicKeyInfo (DER), as bytes."""
    pem = _openssl("x509", "-in", str(cert_file), "-pubkey", "-noout", cwd=".")
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pem,
                         check=True, stdout=subprocess.PIPE).stdout
    return hashlib.sha256(der).digest()


def fp_text(digest, colons=False, upper=False):
    """"sha256:..." as ftpsfs prints it, or OpenSSL's colon form."""
    hexs = digest.hex().upper() if upper else digest.hex()
    if colons:
        hexs = ":".join(hexs[i:i + 2] for i in range(0, len(hexs), 2))
    return "sha256:" + hexs


def write_executable(path, text):
    path = Path(path)
    path.write_text(text)
    path.chmod(0o755)
    return path


def vm_hwm_kib(pid):
    """Peak resident set size (VmHWM) of process `pid`, in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmHWM for {pid}")


def visible_process_text(pid):
    """What other local users can see of process `pid` and of every ftpsfs process: `ps`
    output, /proc/PID/cmdline and /proc/PID/environ, as one bytes blob."""
    ps = subprocess.run(["ps", "-eww", "-o", "pid,args"], stdout=subprocess.PIPE,
                        check=True).stdout
    blobs = [line for line in ps.splitlines() if b"ftpsfs" in line]
    for name in ("cmdline", "environ"):
        with open(f"/proc/{pid}/{name}", "rb") as f:
            blobs.append(f.read())
    return b"\n".join(blobs)


def wait_for(predicate, timeout=10.0, interval=0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
