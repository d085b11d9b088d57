"""A local Web Push service for the tests: an HTTP server on 127.0.0.1 in the test process.

Each ``Browser`` is a push subscription with its own P-256 key pair and auth secret, as a browser
would make one. The server decrypts every message it receives with the subscription's private key
(``http_ece``, aes128gcm), verifies the VAPID signature, and queues what it got; each subscription can be
told to answer with other statuses (404, 410, 429, 5xx ...) or to hang until released.

    with local_push_service() as service:
        browser = service.browser("alice-chrome")
        PushSubscription.objects.create(user=alice, **browser.fields())
        ...
        message = service.next_message()   # a Received: payload (dict), headers, jwt claims
"""

from __future__ import annotations

import base64
import json
import os
import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import http_ece
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    payload: dict[str, Any]
    claims: dict[str, Any]
    vapid_key: str


@dataclass
class Browser:
    """One push subscription: what ``PushSubscription.toJSON()`` gives, and the keys to decrypt."""

    endpoint: str
    private_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    auth: bytes = field(default_factory=lambda: os.urandom(16))
    #: Statuses to answer, one per request; afterwards 201.
    statuses: list[int] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    #: Set: requests wait until it is cleared (release()).
    hang: threading.Event | None = None

    @property
    def p256dh(self) -> str:
        point = self.private_key.public_key().public_bytes(
            Encoding.X962, PublicFormat.UncompressedPoint
        )
        return b64url(point)

    def to_json(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "keys": {"p256dh": self.p256dh, "auth": b64url(self.auth)},
        }

    def fields(self) -> dict[str, Any]:
        return {"endpoint": self.endpoint, "p256dh": self.p256dh, "auth": b64url(self.auth)}


def _verify_vapid(authorization: str) -> tuple[dict[str, Any], str]:
    """The claims of a `vapid t=<jwt>, k=<key>` header, after checking its ES256 signature."""
    scheme, _, params = authorization.partition(" ")
    assert scheme == "vapid", authorization
    values = dict(part.strip().split("=", 1) for part in params.split(","))
    token, key = values["t"], values["k"]
    header, claims, signature = token.split(".")
    raw = unb64url(signature)
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(key))
    try:
        public.verify(
            encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")),
            f"{header}.{claims}".encode(),
            ec.ECDSA(hashes.SHA256()),
        )
    except InvalidSignature:
        raise AssertionError("The VAPID signature does not verify") from None
    return json.loads(unb64url(claims)), key


class LocalPushService:
    def __init__(self) -> None:
        self.browsers: dict[str, Browser] = {}
        self.messages: queue.Queue[Received] = queue.Queue()
        self.requests: list[tuple[str, int]] = []  # (path, status answered)
        self.errors: list[str] = []
        self.waiting = threading.Semaphore(0)  # released when a request starts to hang
        service = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                browser = service.browsers.get(self.path)
                if browser is None:
                    self._answer(404)
                    return
                if browser.hang is not None and browser.hang.is_set():
                    service.waiting.release()
                    while browser.hang.is_set():
                        browser.hang.wait(0.05)  # hold the request open until released
                status = browser.statuses.pop(0) if browser.statuses else 201
                if status < 300:
                    try:
                        service.messages.put(
                            service._decode(browser, self.path, self.headers, body)
                        )
                    except Exception as exc:  # reported by the test, never swallowed
                        service.errors.append(f"{type(exc).__name__}: {exc}")
                        status = 400
                self._answer(status, browser.headers if status >= 300 else {})

            def _answer(self, status: int, headers: dict[str, str] | None = None) -> None:
                service.requests.append((self.path, status))
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _decode(self, browser: Browser, path: str, headers: Any, body: bytes) -> Received:
        assert headers["Content-Encoding"] == "aes128gcm"
        plain = http_ece.decrypt(
            body, private_key=browser.private_key, auth_secret=browser.auth, version="aes128gcm"
        )
        claims, key = _verify_vapid(headers["Authorization"])
        return Received(
            path, {k.lower(): v for k, v in headers.items()}, json.loads(plain), claims, key
        )

    def browser(self, name: str) -> Browser:
        browser = Browser(endpoint=f"{self.url}/push/{name}")
        self.browsers[f"/push/{name}"] = browser
        return browser

    def next_message(self, timeout: float = 10) -> Received:
        try:
            return self.messages.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(
                f"No push arrived; requests: {self.requests}; errors: {self.errors}"
            ) from None

    def close(self) -> None:
        for browser in self.browsers.values():
            if browser.hang is not None:
                browser.hang.clear()
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def local_push_service() -> Iterator[LocalPushService]:
    service = LocalPushService()
    service.thread.start()
    try:
        yield service
    finally:
        service.close()
    assert not service.errors, service.errors
