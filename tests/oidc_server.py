"""A loopback stand-in for Google's ID-token certificates endpoint, and a token minter.

    with OidcTestServer() as issuer:
        token = issuer.mint(audience="https://callbacks", email="sa@p.iam.gserviceaccount.com")
        OidcVerifier("https://callbacks", ["sa@p.iam.gserviceaccount.com"],
                     certs_url=issuer.certs_url).verify(token)

The server answers ``GET /certs`` like ``https://www.googleapis.com/oauth2/v1/certs``:
a JSON object of key id -> PEM x509 certificate, with ``Cache-Control: max-age``.
It counts the requests it served so tests can assert the verifier's cache.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from google.auth import crypt, jwt

GOOGLE_ISSUER = "https://accounts.google.com"


class SigningKey:
    """A locally generated RSA key with its self-signed certificate."""

    def __init__(self, kid: str) -> None:
        self.kid = kid
        self._private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"opsplane-test-{kid}")])
        now = datetime.now(UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._private.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=30))
            .sign(self._private, hashes.SHA256())
        )
        self.cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
        private_pem = self._private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        self.signer = crypt.RSASigner.from_string(private_pem, key_id=kid)


class OidcTestServer:
    """Serves certificates over loopback HTTP and mints ID tokens signed by its keys."""

    def __init__(self, *, max_age: int = 3600, kids: tuple[str, ...] = ("key-1",)) -> None:
        self.keys = {kid: SigningKey(kid) for kid in kids}
        self.max_age = max_age
        self.requests = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread: threading.Thread | None = None

    @property
    def certs_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/certs"

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path != "/certs":
                    self.send_error(404)
                    return
                owner.requests += 1
                body = json.dumps({kid: k.cert_pem for kid, k in owner.keys.items()}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Cache-Control", f"public, max-age={owner.max_age}")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    def start(self) -> OidcTestServer:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:  # shutdown() waits for serve_forever, so only if started
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> OidcTestServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def claims(
        self,
        *,
        audience: str,
        email: str,
        issuer: str = GOOGLE_ISSUER,
        email_verified: bool = True,
        issued_at: float | None = None,
        lifetime: int = 3600,
        **extra: Any,
    ) -> dict[str, Any]:
        """The claims of a Google ID token, as a service account's token carries them."""
        iat = int(time.time() if issued_at is None else issued_at)
        return {
            "iss": issuer,
            "aud": audience,
            "azp": "1234567890",
            "sub": "1234567890",
            "email": email,
            "email_verified": email_verified,
            "iat": iat,
            "exp": iat + lifetime,
            **extra,
        }

    def sign(self, claims: dict[str, Any], *, kid: str | None = None) -> str:
        """A JWT over ``claims`` signed by key ``kid`` (the first key by default)."""
        key = self.keys[kid] if kid else next(iter(self.keys.values()))
        return jwt.encode(key.signer, claims).decode()

    def mint(self, *, audience: str, email: str, kid: str | None = None, **kwargs: Any) -> str:
        """A signed ID token for ``audience`` and ``email``; kwargs tune the claims."""
        return self.sign(self.claims(audience=audience, email=email, **kwargs), kid=kid)
