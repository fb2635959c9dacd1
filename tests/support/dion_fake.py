"""A fake Dion for tests: a real HTTPS server on loopback that demands a client certificate (mutual TLS).

Certificates (a CA, a server certificate for 127.0.0.1, a client certificate, and a client certificate from a
foreign CA) are generated per test session with ``cryptography``. One server plays both APIs, in the shapes
Dion documents (docs/dion.md) and no more: the IAPI under ``/v1`` (``POST /events``, ``GET /events/{id}``,
``GET /events/{id}/users``, ``GET /user/{id}``) and the Dion.Chats bot API at the root
(``/platform/v1/token``, ``/chats/v2/<method>``). Where Dion publishes no answer (``POST /events``, the
participant list) the fake answers with Mimic's documented assumption. It records every request, counts the
requests in flight, and answers from a script (matched by method and path) before its default behaviour.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import itertools
import json
import ssl
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

IAPI_TOKEN = "iapi-token-0123"
BOT_EMAIL = "mimic-bot@bank.example"
BOT_PASSWORD = "bot-password"
EVENT_FIELDS = frozenset(
    {
        "owner_email",
        "title",
        "moderators_emails",
        "event_params",
        "use_org_servers",
        "personalized_room_name",
        "start_at",
        "end_at",
    }
)


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
    # Only for a request with this method and a path starting with this (empty: the next request).
    method: str = ""
    path: str = ""


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    payload: Any
    client_cn: str

    @property
    def route(self) -> str:
        return urlsplit(self.path).path

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.path).query)


def _now_iso() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Handler(BaseHTTPRequestHandler):
    server: FakeDionServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            payload = json.loads(raw) if raw else None
        except ValueError:
            payload = "<not json>"
        peer = self.connection.getpeercert() or {}
        cn = next((v for rdn in peer.get("subject", ()) for k, v in rdn if k == "commonName"), "")
        seen = Seen(method, self.path, dict(self.headers.items()), payload, cn)
        server = self.server
        with server.lock:
            server.seen.append(seen)
            server.in_flight += 1
            server.max_in_flight = max(server.max_in_flight, server.in_flight)
            scripted = server.take_script(seen)
        try:
            if scripted is None:
                scripted = server.default(seen)
            if scripted.delay:
                time.sleep(scripted.delay)
            data = b"" if scripted.body is None else json.dumps(scripted.body).encode()
        finally:
            with server.lock:
                server.in_flight -= 1
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
    request_queue_size = 64

    def __init__(self, pki: Pki) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(pki.server_cert, pki.server_key)
        context.load_verify_locations(pki.ca)
        context.verify_mode = ssl.CERT_REQUIRED  # mutual TLS: no client certificate, no request
        self.socket = context.wrap_socket(self.socket, server_side=True)
        self.lock = threading.Lock()
        self.updates_ready = threading.Condition(self.lock)
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.reset()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.server_address[1]}"

    @property
    def iapi_url(self) -> str:
        return self.url + "/v1"

    def start(self) -> FakeDionServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def reset(self) -> None:
        with self.lock:
            self.seen: list[Seen] = []
            self.script: list[Scripted] = []
            self.in_flight = 0
            self.max_in_flight = 0
            self.delay = 0.0  # added to every IAPI answer (the concurrency test)
            self.users: dict[str, dict[str, str]] = {}  # Dion accounts: user id -> {"email", "name"}
            self.events: dict[str, dict[str, Any]] = {}
            self.participants: dict[str, dict[str, list[dict[str, Any]]]] = {}  # event -> user -> sessions
            self.link_in_post_answer = False
            self.bot_tokens: list[str] = []
            self.valid_bot_token = ""
            self.updates: list[dict[str, Any]] = []
            self.sent: list[dict[str, Any]] = []
            self.bot_settings: dict[str, Any] = {}
            self.bot_commands: list[dict[str, str]] = []
            self._update_ids = itertools.count(1000)

    def take_script(self, seen: Seen) -> Scripted | None:
        for i, scripted in enumerate(self.script):
            if (not scripted.method or scripted.method == seen.method) and seen.route.startswith(scripted.path):
                return self.script.pop(i)
        return None

    # Test helpers ------------------------------------------------------------------------------------------------

    def add_user(self, user_id: str, email: str, name: str = "") -> None:
        with self.lock:
            self.users[user_id] = {"email": email, "name": name or email.split("@")[0]}

    def message(self, text: str, *, sender: str, chat_id: int = 501, chat_type: str = "private") -> dict[str, Any]:
        """A manager writes to the bot: the update getUpdates will return."""
        with self.updates_ready:
            update = {
                "update_id": next(self._update_ids),
                "message": {
                    "message_id": len(self.updates) + 1,
                    "chat": {"id": chat_id, "type": chat_type, "name": "Mimic"},
                    "from": {"id": sender},
                    "text": text,
                },
            }
            self.updates.append(update)
            self.updates_ready.notify_all()
            return update

    def join(self, event_id: str, user_id: str) -> None:
        with self.lock:
            sessions = self.participants.setdefault(event_id, {}).setdefault(user_id, [])
            sessions.append({"time_start": _now_iso(), "time_end": None})

    def leave_all(self, event_id: str) -> None:
        """Everyone leaves the meeting (what the end of the meeting looks like through the API)."""
        with self.lock:
            for sessions in self.participants.get(event_id, {}).values():
                for session in sessions:
                    session["time_end"] = session["time_end"] or _now_iso()

    def expire_bot_token(self) -> None:
        with self.lock:
            self.valid_bot_token = ""

    def requests(self, method: str, route_prefix: str) -> list[Seen]:
        with self.lock:
            return [s for s in self.seen if s.method == method and s.route.startswith(route_prefix)]

    # Dion ----------------------------------------------------------------------------------------------------------

    def default(self, seen: Seen) -> Scripted:
        route = seen.route
        if route.startswith("/v1/"):
            if self.delay:
                time.sleep(self.delay)
            return self._iapi(seen, route[len("/v1") :])
        if route == "/platform/v1/token":
            return self._token(seen)
        if route.startswith("/chats/v2/"):
            return self._bot(seen, route[len("/chats/v2/") :])
        return Scripted(404, {"message": "not found"})

    def _iapi(self, seen: Seen, route: str) -> Scripted:
        if seen.headers.get("X-Client-Access-Token") != IAPI_TOKEN:
            return Scripted(401, {"message": "access token expired or missing"})
        parts = route.strip("/").split("/")
        with self.lock:
            if seen.method == "POST" and parts == ["events"]:
                return self._create_event(seen.payload)
            if seen.method == "GET" and len(parts) == 2 and parts[0] == "events":
                event = self.events.get(parts[1])
                return Scripted(200, event) if event else Scripted(404, {"message": "event not found"})
            if seen.method == "GET" and len(parts) == 3 and parts[0] == "events" and parts[2] == "users":
                if parts[1] not in self.events:
                    return Scripted(404, {"message": "event not found"})
                if not (seen.query.get("time_start") and seen.query.get("time_end")):
                    return Scripted(400, {"message": "time_start and time_end are required"})
                users = [
                    {"user_id": uid, "email": self.users.get(uid, {}).get("email", ""), "sessions": sessions}
                    for uid, sessions in self.participants.get(parts[1], {}).items()
                ]
                return Scripted(200, {"users": json.loads(json.dumps(users))})
            if seen.method == "GET" and len(parts) == 2 and parts[0] == "user":
                user = self.users.get(parts[1])
                return Scripted(200, dict(user)) if user else Scripted(404, {"message": "user not found"})
        return Scripted(404, {"message": "not found"})

    def _create_event(self, payload: Any) -> Scripted:
        if not isinstance(payload, dict) or not isinstance(payload.get("owner_email"), str):
            return Scripted(400, {"message": "owner_email is required"})
        if set(payload) - EVENT_FIELDS:
            return Scripted(400, {"message": f"unknown fields: {sorted(set(payload) - EVENT_FIELDS)}"})
        known = {u["email"] for u in self.users.values()}
        for email in [payload["owner_email"], *payload.get("moderators_emails", [])]:
            if email not in known:
                return Scripted(400, {"message": f"user {email} is not registered in DION"})
        event_id = str(uuid.uuid4())
        link = f"https://dion.example/{event_id[:8]}"
        self.events[event_id] = {
            "id": event_id,
            "title": payload.get("title", ""),
            "owner_email": payload["owner_email"],
            "link": link,
        }
        answer = {"id": event_id, "link": link} if self.link_in_post_answer else {"id": event_id}
        return Scripted(200, answer)

    def _token(self, seen: Seen) -> Scripted:
        if seen.payload != {"email": BOT_EMAIL, "password": BOT_PASSWORD}:
            return Scripted(401, {"message": "wrong e-mail or password"})
        with self.lock:
            token = f"bot-{len(self.bot_tokens) + 1}"
            self.bot_tokens.append(token)
            self.valid_bot_token = token
        return Scripted(200, {"access_token": token})

    def _bot(self, seen: Seen, method: str) -> Scripted:
        with self.lock:
            valid = self.valid_bot_token
        if not valid or seen.headers.get("Authorization") != f"Bearer {valid}":
            return Scripted(401, {"ok": False, "description": "Unauthorized"})
        payload = seen.payload if isinstance(seen.payload, dict) else {}
        if method == "getMe":
            return Scripted(200, {"ok": True, "result": {"id": "bot-1", "name": "Mimic"}})
        if method == "setMySettings":
            with self.lock:
                self.bot_settings = payload
            return Scripted(200, {"ok": True, "result": True})
        if method == "setMyCommands":
            with self.lock:
                self.bot_commands = payload.get("commands", [])
            return Scripted(200, {"ok": True, "result": True})
        if method == "sendMessage":
            if "chat_id" not in payload or not payload.get("text"):
                return Scripted(400, {"ok": False, "description": "chat_id and text are required"})
            with self.lock:
                self.sent.append(payload)
                message_id = len(self.sent)
            return Scripted(200, {"ok": True, "result": {"message_id": message_id, "chat": {"id": payload["chat_id"]}}})
        if method == "getUpdates":
            return Scripted(200, {"ok": True, "result": self._get_updates(payload)})
        return Scripted(404, {"ok": False, "description": "method not found"})

    def _get_updates(self, payload: dict[str, Any]) -> list[dict[str, Any]]:
        """Telegram's semantics: an offset confirms every update before it (they are gone for good)."""
        offset, limit = payload.get("offset"), int(payload.get("limit") or 100)
        deadline = time.monotonic() + min(float(payload.get("timeout") or 0), 2.0)
        with self.updates_ready:
            while True:
                if isinstance(offset, int):
                    self.updates = [u for u in self.updates if u["update_id"] >= offset]
                if self.updates or time.monotonic() >= deadline:
                    return json.loads(json.dumps(self.updates[:limit]))
                self.updates_ready.wait(max(0.0, deadline - time.monotonic()))
