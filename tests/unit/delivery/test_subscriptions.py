"""Subscriptions TOML: a webhook is https://, plain http:// only to this machine or when allowed."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas.errors import SubscriptionError
from streams.delivery.subscriptions import is_loopback_host, load_subscriptions


def write(tmp_path: Path, webhook: str, extra: str = "") -> Path:
    path = tmp_path / "subscriptions.toml"
    path.write_text(f'[[subscription]]\ncentre = "ES-NCC"\nwebhook = "{webhook}"\nsecret = "s"\n{extra}')
    return path


@pytest.mark.parametrize(
    "webhook",
    [
        "https://ncc.example.es/hooks/borderwatch",
        "HTTPS://ncc.example.es/",
        "http://127.0.0.1:8080/hook",
        "http://127.9.9.9/hook",
        "http://127.1/hook",  # the parser reads it as 127.0.0.1, and so does the HTTP client
        "http://localhost/hook",
        "HTTP://LocalHost:8080/hook",
        "http://[::1]/hook",
        "http://[::1]:8080/hook",
        "http://evil.example@127.0.0.1/",  # userinfo 'evil.example', host 127.0.0.1
        "http://127.0.0.1#@evil.example/",  # a fragment, host 127.0.0.1
    ],
)
def test_https_or_loopback_webhooks_are_accepted(tmp_path: Path, webhook: str) -> None:
    (sub,) = load_subscriptions(write(tmp_path, webhook))
    assert sub.webhook is not None and not sub.allow_http


@pytest.mark.parametrize(
    ("webhook", "host"),
    [
        ("http://ncc.example.es/hooks/borderwatch", "ncc.example.es"),
        ("HTTP://ncc.example.es/", "ncc.example.es"),
        ("http://127.0.0.1.evil.example/", "127.0.0.1.evil.example"),
        ("http://localhost.evil.example", "localhost.evil.example"),
        ("http://localhost%2eevil.example/", "localhost.evil.example"),
        ("http://127.0.0.1@evil.example/", "evil.example"),
        ("http://localhost:80@evil.example/", "evil.example"),
        ("http://[::1]@evil.example/", "evil.example"),
        ("http://10.0.0.7/hook", "10.0.0.7"),
        ("http://0.0.0.0/hook", "0.0.0.0"),
        ("http://[::ffff:127.0.0.1]/", "[::ffff:7f00:1]"),
    ],
)
def test_plain_http_to_another_host_stops_the_worker(tmp_path: Path, webhook: str, host: str) -> None:
    path = write(tmp_path, webhook)
    with pytest.raises(SubscriptionError) as error:
        load_subscriptions(path)
    message = str(error.value)
    assert repr(str(path)) in message and "subscription 1 ('ES-NCC')" in message
    assert f"is plain http:// to {host!r}: use https://, or set allow_http = true" in message


def test_allow_http_lets_a_trusted_network_use_plain_http(tmp_path: Path) -> None:
    (sub,) = load_subscriptions(write(tmp_path, "http://ncc.internal:8080/hook", "allow_http = true\n"))
    assert sub.allow_http and str(sub.webhook) == "http://ncc.internal:8080/hook"


def test_allow_http_must_be_a_boolean(tmp_path: Path) -> None:
    with pytest.raises(SubscriptionError, match="allow_http"):
        load_subscriptions(write(tmp_path, "http://ncc.internal/hook", 'allow_http = "no"\n'))


def test_a_missing_secret_is_still_reported_first(tmp_path: Path) -> None:
    path = tmp_path / "subscriptions.toml"
    path.write_text('[[subscription]]\ncentre = "X"\nwebhook = "http://h/x"\n')
    with pytest.raises(SubscriptionError, match="needs a shared secret"):
        load_subscriptions(path)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("127.0.0.1", True),
        ("127.255.255.254", True),
        ("[::1]", True),
        ("::1", True),
        (None, False),
        ("", False),
        ("localhost.", False),
        ("localhost.evil.example", False),
        ("127.0.0.1.evil.example", False),
        ("128.0.0.1", False),
        ("[::2]", False),
        ("[::1", False),
    ],
)
def test_is_loopback_host(host: str | None, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback
