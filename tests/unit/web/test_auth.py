"""Worker HTTP API: who may ask (token, Host, Origin, method, content type), and the middleware that asks."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from streams.web.auth import Denied, auth_middleware, caller_of, check_request, local_hosts
from streams.web.tokens import ApiRole, Callers, NamedToken, hash_token

PORT = 6066
TOKEN = "s3cr3t-token-of-this-data-dir"
HOSTS = local_hosts(PORT)
HOST = f"127.0.0.1:{PORT}"
ANALYST, OPERATOR = "analyst-token-of-maria", "operator-token-of-jon"
CALLERS = Callers(TOKEN, [
    NamedToken(name="maria", role=ApiRole.ANALYST, sha256=hash_token(ANALYST)),
    NamedToken(name="jon", role=ApiRole.OPERATOR, sha256=hash_token(OPERATOR)),
])  # fmt: skip


def ask(
    method: str = "GET", path: str = "/status", *, token: str | None = TOKEN, **headers: str
) -> Denied | None:
    """check_request with a loopback Host and the right bearer token unless told otherwise."""
    sent = {"Host": HOST, **{name.replace("_", "-"): value for name, value in headers.items()}}
    if token is not None:
        sent.setdefault("Authorization", f"Bearer {token}")
    return check_request(method, path, sent, caller_of(sent, CALLERS), HOSTS)


def status(denied: Denied | None) -> int:
    return 200 if denied is None else denied.status


def test_a_request_with_the_token_from_this_worker_is_allowed() -> None:
    assert ask() is None
    assert ask("POST", "/sql", Content_Type="application/json") is None
    assert ask("POST", "/sql", Content_Type="application/json; charset=utf-8") is None


@pytest.mark.parametrize(
    "host", [f"127.0.0.1:{PORT}", f"localhost:{PORT}", f"[::1]:{PORT}", f"LOCALHOST:{PORT}"]
)
def test_every_loopback_name_of_the_worker_is_its_host(host: str) -> None:
    assert ask(Host=host) is None


def test_a_missing_token_is_401() -> None:
    assert status(ask(token=None)) == 401
    assert status(ask("POST", "/sql", token=None, Content_Type="application/json")) == 401


@pytest.mark.parametrize(
    "authorization",
    [
        f"Bearer {TOKEN}x",
        f"Bearer {TOKEN[:-1]}",
        "Bearer ",
        "Bearer",
        f"Bearer{TOKEN}",
        f"bearer {TOKEN.upper()}",
    ],
)
def test_a_wrong_token_is_401(authorization: str) -> None:
    assert status(ask(Authorization=authorization)) == 401


@pytest.mark.parametrize("authorization", [f"Basic {TOKEN}", f"Token {TOKEN}", TOKEN, f"Digest {TOKEN}"])
def test_the_token_under_another_scheme_is_401(authorization: str) -> None:
    assert status(ask(Authorization=authorization)) == 401


def test_the_bearer_scheme_is_case_insensitive() -> None:
    assert ask(Authorization=f"bearer {TOKEN}") is None


@pytest.mark.parametrize(
    "host",
    [f"evil.example:{PORT}", "evil.example", "127.0.0.1", f"127.0.0.1:{PORT + 1}", f"127.0.0.2:{PORT}",
     f"localhost.evil.example:{PORT}", f"0.0.0.0:{PORT}", ""],
)  # fmt: skip
def test_a_foreign_host_is_421_dns_rebinding(host: str) -> None:
    assert status(ask(Host=host)) == 421
    assert status(ask("GET", "/health", token=None, Host=host)) == 421


def test_a_request_without_host_is_421() -> None:
    sent = {"Authorization": f"Bearer {TOKEN}"}
    assert status(check_request("GET", "/status", sent, caller_of(sent, CALLERS), HOSTS)) == 421


@pytest.mark.parametrize(
    "origin", ["http://evil.example", "null", "https://evil.example", f"http://evil.example:{PORT}",
               f"http://127.0.0.1:{PORT}.evil.example", "file://"],
)  # fmt: skip
def test_a_foreign_origin_is_403(origin: str) -> None:
    assert status(ask(Origin=origin)) == 403
    assert status(ask("POST", "/sql", Origin=origin, Content_Type="application/json")) == 403


@pytest.mark.parametrize(
    "origin", [f"http://127.0.0.1:{PORT}", f"http://localhost:{PORT}", f"http://[::1]:{PORT}"]
)
def test_the_origin_of_the_worker_itself_is_allowed(origin: str) -> None:
    assert ask(Origin=origin) is None
    assert ask("POST", "/sql", Origin=origin, Content_Type="application/json") is None


@pytest.mark.parametrize(
    ("method", "path"), [("POST", "/status"), ("GET", "/sql"), ("PUT", "/sql"), ("DELETE", "/alerts"),
                         ("POST", "/health"), ("OPTIONS", "/sql"), ("get", "/status")],
)  # fmt: skip
def test_a_wrong_method_is_405(method: str, path: str) -> None:
    assert status(ask(method, path, Content_Type="application/json")) == 405


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "", "text/json"],
)
def test_sql_takes_json_only_so_no_simple_cross_site_form_post_415(content_type: str) -> None:
    assert status(ask("POST", "/sql", Content_Type=content_type)) == 415


@pytest.mark.parametrize("path", ["/status", "/counts", "/alerts"])
def test_a_get_with_a_body_is_415(path: str) -> None:
    assert status(ask("GET", path, Content_Length="12")) == 415
    assert status(ask("GET", path, Content_Type="text/plain")) == 415
    assert ask("GET", path, Content_Length="0") is None
    assert status(ask("GET", path, Transfer_Encoding="chunked")) == 415  # a body without a length


def test_health_is_open_without_a_token_but_not_to_other_hosts() -> None:
    assert ask("GET", "/health", token=None) is None
    assert status(ask("GET", "/health", token=None, Origin="http://evil.example")) == 403


@pytest.mark.parametrize("path", ["/admin", "/sql/", "/SQL", "/health/../sql", "/status?x=1", "/static"])
def test_an_unknown_path_is_404(path: str) -> None:
    assert status(ask("GET", path)) == 404


def test_host_and_origin_are_checked_before_the_path_so_nothing_leaks_to_a_foreign_page() -> None:
    assert status(ask("GET", "/nope", Host="evil.example")) == 421
    assert status(ask("GET", "/nope", Origin="null")) == 403


def test_the_middleware_answers_refusals_in_json_and_lets_the_rest_through() -> None:
    async def scenario() -> list[tuple[int, object]]:
        async def ok(request: web.Request) -> web.Response:
            return web.json_response({"ok": True})

        app = web.Application(middlewares=[auth_middleware(CALLERS, HOSTS)])
        app.router.add_get("/status", ok)
        app.router.add_get("/health", ok)
        answers: list[tuple[int, object]] = []
        async with TestClient(TestServer(app)) as client:
            for path, headers in [
                ("/status", {"Host": HOST}),
                ("/status", {"Host": HOST, "Authorization": f"Bearer {TOKEN}"}),
                ("/health", {"Host": HOST}),
                ("/status", {"Host": "evil.example", "Authorization": f"Bearer {TOKEN}"}),
            ]:
                response = await client.get(path, headers=headers)
                answers.append((response.status, await response.json()))
        return answers

    answers = asyncio.run(scenario())
    assert [code for code, _ in answers] == [401, 200, 200, 421]
    assert answers[1][1] == {"ok": True} and answers[2][1] == {"ok": True}
    assert "error" in answers[0][1] and "error" in answers[3][1]  # type: ignore[operator]


@pytest.mark.parametrize(
    ("token", "allowed", "refused"),
    [
        (ANALYST, ["/counts", "/alerts", "/sql"], ["/status", "/erase"]),
        (OPERATOR, ["/status", "/erase"], ["/counts", "/alerts", "/sql"]),
        (TOKEN, ["/counts", "/alerts", "/sql", "/status", "/erase"], []),
    ],
)
def test_a_named_token_reaches_only_its_roles_endpoints(
    token: str, allowed: list[str], refused: list[str]
) -> None:
    def asked(path: str) -> Denied | None:
        post = path in ("/sql", "/erase")
        extra = {"Content_Type": "application/json"} if post else {}
        return ask("POST" if post else "GET", path, token=token, **extra)

    assert [p for p in allowed if asked(p) is not None] == []
    for path in refused:
        denied = asked(path)
        assert denied is not None and denied.status == 403 and "may not use" in denied.reason, path


def test_only_the_hash_of_a_named_token_is_kept_and_a_near_miss_is_nobody() -> None:
    assert CALLERS.of(ANALYST).name == "maria"  # type: ignore[union-attr]
    assert CALLERS.of(ANALYST + "x") is None and CALLERS.of(hash_token(ANALYST)) is None
    assert ANALYST not in repr(vars(CALLERS))


def test_a_name_the_worker_is_reached_by_is_its_host_and_an_https_origin_of_it_too() -> None:
    hosts = local_hosts(PORT, ["bw1.example.org"])
    sent = {"Host": f"bw1.example.org:{PORT}", "Origin": f"https://bw1.example.org:{PORT}",
            "Authorization": f"Bearer {TOKEN}"}  # fmt: skip
    assert check_request("GET", "/status", sent, caller_of(sent, CALLERS), hosts) is None
    assert (
        check_request(
            "GET", "/status", {**sent, "Host": f"evil.example:{PORT}"}, caller_of(sent, CALLERS), hosts
        )
        is not None
    )
