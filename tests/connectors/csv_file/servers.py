"""Real servers for the CSV file tests: OpenSSH's sshd and an HTTPS server.

sshd is Debian's ``openssh-server`` (``.ci/run`` installs it), started once
per test session on a free loopback port with throwaway host keys, a config
of its own and a test account (``hrsynctest``, created when the tests run as
root). The HTTPS server is Python's http.server behind TLS with a CA and a
server certificate made for the session.
"""

from __future__ import annotations

import base64
import datetime as dt
import http.server
import ipaddress
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

SSHD = "/usr/sbin/sshd"
NOLOGIN = "/usr/sbin/nologin"
TEST_USER = "hrsynctest"
# Distinctive, so a leak into a log or message is easy to find.
TEST_PASSWORD = "Sftp-Pw-9q3ZtK-unmistakable"
KEY_PASSPHRASE = "Key-Passphrase-7Hw2-unmistakable"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, check=False, timeout=60)


def keygen(path: Path, key_type: str, *, passphrase: str = "", pem: bool = False) -> Path:
    args = ["ssh-keygen", "-q", "-t", key_type, "-N", passphrase, "-C", "hrsync-test", "-f", str(path)]
    if key_type == "rsa":
        args[4:4] = ["-b", "2048"]
    if pem:
        args += ["-m", "PEM"]
    result = _run(*args)
    if result.returncode != 0:
        raise RuntimeError(f"ssh-keygen failed: {result.stderr}")
    return path


def keygen_fingerprint(public_key_file: Path) -> str:
    """``SHA256:…`` as ``ssh-keygen -lf`` prints it."""
    out = _run("ssh-keygen", "-lf", str(public_key_file)).stdout.split()
    return out[1]


@dataclass
class SshServer:
    host: str
    port: int
    username: str
    password: str
    data_dir: Path
    host_keys: dict[str, Path]  # "ed25519"/"rsa" → private key file (".pub" beside it)
    client_keys: dict[str, Path]  # name → private key file
    auth_dir: Path | None = None
    process: subprocess.Popen | None = field(default=None, repr=False)
    log: Path | None = None

    def uri(self, name: str) -> str:
        return f"sftp://{self.host}:{self.port}{self.data_dir / name}"

    def write(self, name: str, content: str | bytes, *, mode: int = 0o644) -> Path:
        path = self.data_dir / name
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        path.chmod(mode)
        return path

    def host_key_line(self, kind: str = "ed25519") -> str:
        return Path(f"{self.host_keys[kind]}.pub").read_text().strip()

    def host_fingerprint(self, kind: str = "ed25519") -> str:
        return keygen_fingerprint(Path(f"{self.host_keys[kind]}.pub"))

    def private_key(self, name: str) -> str:
        return self.client_keys[name].read_text()


def _ensure_account() -> str | None:
    """Create (or reuse) the test account; None when that is not possible."""
    if os.geteuid() != 0 or shutil.which("useradd") is None or shutil.which("chpasswd") is None:
        return None
    if _run("id", "-u", TEST_USER).returncode != 0:
        shell = NOLOGIN if os.path.exists(NOLOGIN) else "/bin/false"
        if _run("useradd", "--create-home", "--shell", shell, TEST_USER).returncode != 0:
            return None
    result = subprocess.run(
        ["chpasswd"], input=f"{TEST_USER}:{TEST_PASSWORD}\n", capture_output=True, text=True, check=False
    )
    return TEST_USER if result.returncode == 0 else None


_SSHD_CONFIG = """\
Port {port}
ListenAddress 127.0.0.1
{host_keys}
PidFile {state}/sshd.pid
AuthorizedKeysFile {auth_dir}/authorized_keys
PasswordAuthentication yes
PubkeyAuthentication yes
KbdInteractiveAuthentication no
UsePAM no
PermitRootLogin no
AllowUsers {user}
Subsystem sftp internal-sftp
StrictModes no
LogLevel VERBOSE
MaxStartups 100
{extra}"""


def start_sshd(state: Path) -> tuple[SshServer | None, str]:
    """Start sshd; (server, "") or (None, why it is not available)."""
    if not os.path.exists(SSHD) or shutil.which("ssh-keygen") is None:
        return None, "OpenSSH server (sshd)"
    user = _ensure_account()
    if user is None:
        return None, "sshd test account (run the tests as root to create it)"
    # sshd's privilege separation directory; a service manager would make it.
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)

    host_keys = {
        "ed25519": keygen(state / "host_ed25519", "ed25519"),
        "rsa": keygen(state / "host_rsa", "rsa"),
    }
    client_dir = state / "client"
    client_dir.mkdir()
    client_keys = {
        "ed25519": keygen(client_dir / "id_ed25519", "ed25519"),
        "rsa": keygen(client_dir / "id_rsa", "rsa"),
        "rsa_pem": keygen(client_dir / "id_rsa_pem", "rsa", pem=True),
        "ecdsa": keygen(client_dir / "id_ecdsa", "ecdsa"),
        "ed25519_passphrase": keygen(client_dir / "id_ed25519_pp", "ed25519", passphrase=KEY_PASSPHRASE),
        "rsa_pem_passphrase": keygen(client_dir / "id_rsa_pem_pp", "rsa", passphrase=KEY_PASSPHRASE, pem=True),
        # Not in authorized_keys: a key the server does not know.
        "stranger": keygen(client_dir / "id_stranger", "ed25519"),
    }
    # The account reads its authorized keys and the files it serves itself,
    # so they live in world-readable folders outside pytest's private tmp.
    data_dir = Path(tempfile.mkdtemp(prefix="hrsync-sftp-data-"))
    data_dir.chmod(0o755)
    auth_dir = Path(tempfile.mkdtemp(prefix="hrsync-sftp-auth-"))
    auth_dir.chmod(0o755)
    authorized = auth_dir / "authorized_keys"
    authorized.write_text(
        "".join(
            Path(f"{path}.pub").read_text()
            for name, path in client_keys.items()
            if name != "stranger"
        )
    )
    authorized.chmod(0o644)

    port = free_port()
    config = state / "sshd_config"
    settings = {
        "port": port,
        "host_keys": "\n".join(f"HostKey {path}" for path in host_keys.values()),
        "state": state,
        "auth_dir": auth_dir,
        "user": user,
    }
    # Newer OpenSSH penalises sources that fail logins; the tests fail some on purpose.
    config.write_text(_SSHD_CONFIG.format(**settings, extra="PerSourcePenalties no\n"))
    if _run(SSHD, "-t", "-f", str(config)).returncode != 0:
        config.write_text(_SSHD_CONFIG.format(**settings, extra=""))
        checked = _run(SSHD, "-t", "-f", str(config))
        if checked.returncode != 0:
            raise RuntimeError(f"sshd rejected its test config: {checked.stderr}")

    log = state / "sshd.log"
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(config)], stdout=log_file, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    server = SshServer(
        host="127.0.0.1", port=port, username=user, password=TEST_PASSWORD, data_dir=data_dir,
        host_keys=host_keys, client_keys=client_keys, auth_dir=auth_dir, process=process, log=log,
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"sshd exited at start:\n{log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                if sock.recv(4).startswith(b"SSH-"):
                    return server, ""
        except OSError:
            time.sleep(0.05)
    stop_sshd(server)
    raise RuntimeError(f"sshd did not come up on port {port}:\n{log.read_text()}")


def stop_sshd(server: SshServer) -> None:
    if server.process is not None and server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=5)
    for folder in (server.data_dir, server.auth_dir):
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)


# -- HTTPS ---------------------------------------------------------------------------


@dataclass
class Certificates:
    ca_pem: str
    cert_file: Path
    key_file: Path


def make_certificates(folder: Path) -> Certificates:
    """A throwaway CA and a server certificate for 127.0.0.1 and localhost."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hrsync test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                key_encipherment=False, data_encipherment=False, key_agreement=False,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    cert_file = folder / "server.pem"
    key_file = folder / "server.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return Certificates(ca_cert.public_bytes(serialization.Encoding.PEM).decode(), cert_file, key_file)


@dataclass
class HttpsServer:
    port: int
    username: str
    password: str
    ca_pem: str
    files: dict[str, tuple[bytes, str]]  # path → (body, content type)
    requests: list[dict] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"https://127.0.0.1:{self.port}{path}"

    def put(self, path: str, content: str | bytes, content_type: str = "text/csv; charset=utf-8") -> str:
        self.files[path] = (content.encode() if isinstance(content, str) else content, content_type)
        return self.url(path)


def start_https(folder: Path) -> tuple[HttpsServer, http.server.ThreadingHTTPServer]:
    certificates = make_certificates(folder)
    state = HttpsServer(
        port=0, username="csvuser", password="Https-Pw-4Rt8-unmistakable", ca_pem=certificates.ca_pem, files={}
    )
    expected = "Basic " + base64.b64encode(f"{state.username}:{state.password}".encode()).decode()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):  # noqa: A002 - quiet
            pass

        def do_GET(self):  # noqa: N802
            state.requests.append({"path": self.path, "authorization": self.headers.get("Authorization")})
            if self.headers.get("Authorization") != expected:
                self._send(401, b"login required", "text/plain", {"WWW-Authenticate": 'Basic realm="files"'})
                return
            if self.path not in state.files:
                self._send(404, b"not found", "text/plain")
                return
            body, content_type = state.files[self.path]
            self._send(200, body, content_type)

        def _send(self, status, body, content_type, headers=None):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificates.cert_file, certificates.key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    state.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return state, server
