"""A fake Dion for tests: a real HTTPS server on loopback that demands a client certificate (mutual TLS).

Certificates (a CA, a server certificate for 127.0.0.1, a client certificate, and a client certificate from a
foreign CA) are generated per test session with ``cryptography``. The server records every request it
handles and answers from a script, else with its default behaviour: rooms, bot tokens, chat messages.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

IAPI_TOKEN = "iapi-token-0123"
BOT_LOGIN = "mimic-bot"
BOT_PASSWORD = "bot-password"


@dataclass(frozen=True)
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    foreign_cert: Path
    foreign_key: Path


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _issue(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool = False,
    server: bool = False,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        ).add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    else:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False
        )
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        if server:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
            )
    return builder.sign(issuer_key, hashes.SHA256())


def _write(path: Path, cert: x509.Certificate | None = None, key: ec.EllipticCurvePrivateKey | None = None) -> Path:
    if cert is not None:
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    else:
        assert key is not None
        path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    return path


def make_pki(directory: Path) -> Pki:
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _issue("Test Dion CA", ca_key, _name("Test Dion CA"), ca_key, ca=True)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = _issue("127.0.0.1", server_key, ca.subject, ca_key, server=True)
    client_key = ec.generate_private_key(ec.SECP256R1())
    client = _issue("mimic-client", client_key, ca.subject, ca_key)
    foreign_ca_key = ec.generate_private_key(ec.SECP256R1())
    foreign_ca = _issue("Foreign CA", foreign_ca_key, _name("Foreign CA"), foreign_ca_key, ca=True)
    foreign_key = ec.generate_private_key(ec.SECP256R1())
    foreign = _issue("intruder", foreign_key, foreign_ca.subject, foreign_ca_key)
    return Pki(
        ca=_write(directory / "ca.pem", ca),
        server_cert=_write(directory / "server.pem", server),
        server_key=_write(directory / "server.key", key=server_key),
        client_cert=_write(directory / "client.pem", client),
        client_key=_write(directory / "client.key", key=client_key),
        foreign_cert=_write(directory / "foreign.pem", foreign),
        foreign_key=_write(directory / "foreign.key", key=foreign_key),
    )


@dataclass
class Scripted:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    payload: Any
    client_cn: str


class _Handler(BaseHTTPRequestHandler):
    server: FakeDionServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            payload = json.loads(raw) if raw else None
        except ValueError:
            payload = "<not json>"
        peer = self.connection.getpeercert() or {}
        cn = next((v for rdn in peer.get("subject", ()) for k, v in rdn if k == "commonName"), "")
        seen = Seen("POST", self.path, dict(self.headers.items()), payload, cn)
        with self.server.lock:
            self.server.seen.append(seen)
            scripted = self.server.script.pop(0) if self.server.script else None
        if scripted is None:
            scripted = self.server.default(seen)
        if scripted.delay:
            time.sleep(scripted.delay)
        data = b"" if scripted.body is None else json.dumps(scripted.body).encode()
        try:
            self.send_response(scripted.status)
            for name, value in scripted.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            pass  # the client gave up (timeout test)


class FakeDionServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, pki: Pki) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(pki.server_cert, pki.server_key)
        context.load_verify_locations(pki.ca)
        context.verify_mode = ssl.CERT_REQUIRED  # mutual TLS: no client certificate, no request
        self.socket = context.wrap_socket(self.socket, server_side=True)
        self.lock = threading.Lock()
        self.seen: list[Seen] = []
        self.script: list[Scripted] = []
        self.rooms = 0
        self.bot_tokens = 0
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.server_address[1]}"

    def start(self) -> FakeDionServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def reset(self) -> None:
        with self.lock:
            self.seen.clear()
            self.script.clear()

    def default(self, seen: Seen) -> Scripted:
        """Dion as documented, plus our default room endpoint."""
        if seen.path.endswith("/auth/token"):
            if seen.payload != {"login": BOT_LOGIN, "password": BOT_PASSWORD}:
                return Scripted(401, {"error": "bad technical account"})
            self.bot_tokens += 1
            return Scripted(200, {"access_token": f"bot-{self.bot_tokens}", "expires_in": 43200})
        if "/chats/" in seen.path:
            if seen.headers.get("Authorization") != f"Bearer bot-{self.bot_tokens}":
                return Scripted(401, {"error": "bad bearer token"})
            if not isinstance(seen.payload, dict) or not seen.payload.get("text"):
                return Scripted(400, {"error": "text is required"})
            return Scripted(201, {"id": "msg-1"})
        if seen.headers.get("X-Client-Access-Token") != IAPI_TOKEN:
            return Scripted(401, {"error": "access token expired or missing"})
        payload = seen.payload
        if not (
            isinstance(payload, dict)
            and set(payload) == {"name", "owner_email", "participants"}
            and isinstance(payload["participants"], list)
        ):
            return Scripted(400, {"message": "bad room payload"})
        if not payload["owner_email"].endswith("@bank.example"):
            return Scripted(422, {"message": f"no Dion account for {payload['owner_email']}"})
        self.rooms += 1
        room = f"room-{self.rooms}"
        return Scripted(201, {"id": room, "url": f"https://dion.example/{room}", "chat_id": f"chat-{self.rooms}"})
