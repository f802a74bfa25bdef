"""The live picture's cookies over the worker's TLS: Secure, HttpOnly and SameSite=Strict, for the sign-in
form's own cookie and for the session it opens (by token and by one-time code); plain HTTP, no browser."""

from __future__ import annotations

import http.client
import json
import re
import ssl
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlparse

from streams.web.picture_sessions import PRE_SESSION_COOKIE, SESSION_COOKIE
from streams.web.tokens import hash_token
from tests.helpers.pki import TestCA

ANALYST, OPERATOR = "picture-tls-analyst-0123456789", "picture-tls-operator-0123456789"


class Tls:
    """Requests to one worker over TLS, trusting the test CA, never following a redirect."""

    def __init__(self, base_url: str, ca: Path) -> None:
        url = urlparse(base_url)
        self.host, self.port = url.hostname or "127.0.0.1", url.port
        self.trust = ssl.create_default_context(cafile=str(ca))

    def send(
        self, method: str, path: str, headers: dict[str, str] | None = None, body: bytes | None = None
    ) -> tuple[http.client.HTTPResponse, bytes]:
        connection = http.client.HTTPSConnection(self.host, self.port, context=self.trust, timeout=30)
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        data = response.read()
        connection.close()
        return response, data


def cookie_named(response: http.client.HTTPResponse, name: str) -> tuple[str, dict[str, Any]]:
    """The value and attributes of the Set-Cookie for `name` (its attribute names lower-cased)."""
    for header in response.headers.get_all("Set-Cookie") or []:
        if header.startswith(f"{name}="):
            morsel = SimpleCookie(header)[name]
            return morsel.value, {key.lower(): value for key, value in morsel.items() if value != ""}
    raise AssertionError(f"no Set-Cookie for {name}: {response.headers.get_all('Set-Cookie')}")


def assert_locked_down(attributes: dict[str, Any]) -> None:
    assert attributes.get("secure") is True, attributes
    assert attributes.get("httponly") is True, attributes
    assert attributes.get("samesite") == "Strict", attributes


def test_over_tls_the_pictures_cookies_are_secure_http_only_and_strict(
    start_worker: Any, tmp_path: Path
) -> None:
    ca = TestCA(tmp_path / "pki")
    server = ca.issue("bw.test")
    tokens = tmp_path / "tokens.toml"
    tokens.write_text(
        f'[[token]]\nname = "maria"\nrole = "analyst"\nsha256 = "{hash_token(ANALYST)}"\n\n'
        f'[[token]]\nname = "jon"\nrole = "operator"\nsha256 = "{hash_token(OPERATOR)}"\n'
    )
    worker = start_worker(web_tls_cert_file=str(server.cert), web_tls_key_file=str(server.key),
                          web_tokens_file=str(tokens))  # fmt: skip
    assert worker.base_url.startswith("https://")
    tls = Tls(worker.base_url, ca.cert)

    # The sign-in form and its own CSRF cookie.
    form, page = tls.send("GET", "/")
    assert form.status == 200 and b'name="form_token"' in page
    pre_value, pre = cookie_named(form, PRE_SESSION_COOKIE)
    assert_locked_down(pre)
    found = re.search(rb'name="form_token" value="([^"]+)"', page)
    assert found is not None and found.group(1).decode() == pre_value

    # Signing in with a token.
    body = urlencode({"token": ANALYST, "form_token": pre_value}).encode()
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "Cookie": f"{PRE_SESSION_COOKIE}={pre_value}",
    }
    signed, _ = tls.send("POST", "/signin", headers, body)
    assert signed.status == 303, signed.status
    session_value, session = cookie_named(signed, SESSION_COOKIE)
    assert_locked_down(session)
    assert session.get("path") == "/"
    answer, data = tls.send("GET", "/picture/me", {"Cookie": f"{SESSION_COOKIE}={session_value}"})
    assert answer.status == 200 and json.loads(data)["name"] == "maria"

    # Signing in with a one-time code asked for by the operator's token.
    asked, data = tls.send("POST", "/picture/code", {"Authorization": f"Bearer {OPERATOR}",
                                                      "Content-Type": "application/json"}, b"{}")  # fmt: skip
    assert asked.status == 200, data
    redeemed, _ = tls.send("GET", json.loads(data)["path"])
    assert redeemed.status == 303, redeemed.status
    _, by_code = cookie_named(redeemed, SESSION_COOKIE)
    assert_locked_down(by_code)
