"""The live picture in a real browser (Debian's chromium, driven by Selenium through chromedriver) on a real
worker (bundled Tansu broker, chdb), fed the demo's scripted night.

One worker for the module; the steps' screenshots go to a temporary folder printed at the start.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from streams.client.worker_api import WorkerApi, start_worker_process, stop_process, wait_for_worker
from streams.demo.scenario import build_scenario, default_start
from streams.kafka.admin import ensure_topics
from streams.kafka.broker import free_port, start_local_broker
from streams.kafka.topics import INTERCEPTIONS, VESSELS
from streams.sources.replay import replay_lines
from streams.web.tokens import hash_token

pytestmark = pytest.mark.slow
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM = Path("/usr/bin/chromium")
ANALYST, OPERATOR = "analyst-token-for-the-picture-test", "operator-token-for-the-picture-test"
LEAVER = "an-analyst-who-leaves-during-the-picture-test"  # taken out of the tokens file by the last test
T = TypeVar("T")


@dataclass
class Site:
    """The worker under test and where the screenshots go."""

    url: str
    api: WorkerApi
    shots: Path
    later: list[bytes]  # the Lampedusa surge's reports, sent while a page is open
    broker_url: str
    tokens: Path

    def sql(self, query: str) -> list[list[Any]]:
        answer = self.api.sql(query)
        assert "error" not in answer, answer
        return list(answer["rows"])


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """One worker with an analyst and an operator token, fed the scripted night but its Lampedusa surge."""
    if not (CHROMEDRIVER.exists() and CHROMIUM.exists()):
        pytest.fail("the browser tests need Debian's chromium and chromium-driver (README, Run the tests)")
    root = tmp_path_factory.mktemp("picture")
    shots = Path(tempfile.mkdtemp(prefix="borderwatch-picture-shots-"))
    print(f"\nscreenshots of the picture test: {shots}")
    tokens = root / "tokens.toml"
    holders = [("analyst", "analyst", ANALYST), ("operator", "operator", OPERATOR)]
    holders.append(("leaver", "analyst", LEAVER))
    tokens.write_text(
        "".join(
            f'[[token]]\nname = "{name}"\nrole = "{role}"\nsha256 = "{hash_token(secret)}"\n'
            for name, role, secret in holders
        )
    )
    scenario = build_scenario(default_start(), partitions=2)
    watch = root / "watch.csv"
    watch.write_text(scenario.watch_list_csv)
    surge = [line for line in scenario.interceptions if b'"IT-LAMPEDUSA"' in line]
    first = [line for line in scenario.interceptions if line not in surge]
    with start_local_broker(root / "broker") as broker:
        asyncio.run(ensure_topics(broker.url, partitions=2))
        data_dir, port = root / "data", free_port()
        data_dir.mkdir()
        log = data_dir / "worker.log"
        process = start_worker_process(
            log, kafka=broker.url, data_dir=str(data_dir), web_port=str(port), partitions="2",
            watch_list=str(watch), web_tokens_file=str(tokens), worker_id=f"bw-picture-{os.getpid()}",
        )  # fmt: skip
        try:
            url = f"http://127.0.0.1:{port}"
            api = wait_for_worker(process, url, data_dir, log)
            asyncio.run(replay_lines(iter(first), INTERCEPTIONS, broker.url))
            asyncio.run(replay_lines(iter(scenario.vessels), VESSELS, broker.url))
            site = Site(url, api, shots, surge, broker.url, tokens)
            poll(lambda: len(site.sql("SELECT id FROM borderwatch.alerts FINAL")) >= 4 or None, 120)
            yield site
        finally:
            stop_process(process)


def poll(found: Callable[[], T | None], timeout_s: float, every_s: float = 0.25) -> T:
    """Wait for `found()` to give something, at most timeout_s: a bounded poll, not a timing."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = found()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"nothing after {timeout_s} s")
        time.sleep(every_s)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    """A fresh headless chromium: its own profile, no background traffic, the performance log on."""
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                 f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1500,1900"):  # fmt: skip
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def sign_in(browser: webdriver.Chrome, site: Site, token: str) -> None:
    browser.get(site.url + "/")
    browser.find_element(By.ID, "token").send_keys(token)
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()


def wait_for(browser: webdriver.Chrome, css: str, timeout_s: float = 30) -> Any:
    return poll(lambda: browser.find_elements(By.CSS_SELECTOR, css), timeout_s)


def click_fresh(browser: webdriver.Chrome, css: str, timeout_s: float = 30) -> None:
    """Click the first match of `css`, again if a refresh redrew the list between finding and clicking."""

    def attempt() -> bool | None:
        try:
            wait_for(browser, css, timeout_s)[0].click()
        except StaleElementReferenceException:
            return None
        return True

    poll(attempt, timeout_s)


def shot(browser: webdriver.Chrome, site: Site, name: str) -> Path:
    path = site.shots / f"{name}.png"
    browser.save_screenshot(str(path))
    return path


def requested_urls(browser: webdriver.Chrome) -> set[str]:
    """Every URL the browser asked for since the last call, from its performance log (CDP Network events)."""
    urls = set()
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            urls.add(message["params"]["request"]["url"])
    return urls


def test_a_wrong_token_is_refused_and_nothing_is_shown(browser: webdriver.Chrome, site: Site) -> None:
    sign_in(browser, site, "not-a-token")
    error = wait_for(browser, ".error")[0]
    assert "not valid" in error.text
    assert not browser.find_elements(By.ID, "map")
    shot(browser, site, "01-wrong-token")
    browser.get(site.url + "/picture/situation")  # the data too: no session, no answer
    assert "bearer token is required" in browser.find_element(By.TAG_NAME, "body").text


def test_the_analyst_sees_every_crossing_a_live_surge_and_its_reasons_but_no_action(
    browser: webdriver.Chrome, site: Site
) -> None:
    sign_in(browser, site, ANALYST)
    wait_for(browser, "body[data-refreshed]")
    crossings = {e.get_attribute("data-crossing") for e in wait_for(browser, "path[data-crossing]")}
    catalogue = _catalogue_crossings()
    assert crossings == catalogue
    assert "analyst" in browser.find_element(By.ID, "who").text
    assert browser.find_element(By.TAG_NAME, "body").get_attribute("data-may-act") == "false"
    assert len(browser.find_elements(By.CSS_SELECTOR, "#t-crossings tbody tr")) == len(catalogue)
    assert not browser.find_elements(By.CSS_SELECTOR, '[data-id^="surge:IT-LAMPEDUSA"]')
    wait_for(browser, "#live-status")
    poll(lambda: browser.find_element(By.ID, "live-status").text == "live" or None, 30)
    shot(browser, site, "02-analyst-before-the-surge")

    # The surge's reports arrive while the page is open; the page shows the alert without a reload.
    asyncio.run(replay_lines(iter(site.later), INTERCEPTIONS, site.broker_url))
    stored = "SELECT count() FROM borderwatch.alerts FINAL WHERE id LIKE 'surge:IT-LAMPEDUSA%'"
    poll(lambda: site.sql(stored)[0][0] or None, 120, every_s=0.1)
    in_clickhouse = time.monotonic()
    item = wait_for(browser, '#alerts [data-id^="surge:IT-LAMPEDUSA"]', timeout_s=30)[0]
    print(f"the surge was on the page {time.monotonic() - in_clickhouse:.1f} s after it was in ClickHouse")
    wait_for(browser, '.leaflet-marker-icon [data-alert^="surge:IT-LAMPEDUSA"]')
    shot(browser, site, "03-analyst-after-the-surge")

    item.click()
    reasons = wait_for(browser, "#detail:not([hidden]) #reasons")[0]
    assert reasons.text.strip()
    assert "IT-LAMPEDUSA" in browser.find_element(By.ID, "detail-title").text
    assert browser.find_elements(By.CSS_SELECTOR, "#evidence tbody tr")
    assert not browser.find_element(By.ID, "ack").is_displayed()  # an analyst sees no action
    assert not browser.find_element(By.ID, "silence").is_displayed()
    cap = browser.find_element(By.ID, "cap-link").get_attribute("href")
    shot(browser, site, "04-analyst-alert-detail")
    browser.get(cap)
    assert "urn:oasis:names:tc:emergency:cap:1.2" in browser.page_source

    # Nothing left 127.0.0.1, and every script came from the package.
    urls = requested_urls(browser)
    assert urls and all(urlparse(u).hostname == "127.0.0.1" for u in urls if u.startswith("http")), urls
    # data: is Leaflet's blank image, in memory; chrome: the browser's own XML viewer
    assert {urlparse(u).scheme for u in urls} <= {"http", "data", "chrome"}


def test_every_script_is_the_packages_own_under_a_strict_policy(
    browser: webdriver.Chrome, site: Site
) -> None:
    sign_in(browser, site, ANALYST)
    wait_for(browser, "body[data-refreshed]")
    scripts = [e.get_attribute("src") for e in browser.find_elements(By.TAG_NAME, "script")]
    assert scripts == [site.url + "/static/vendor/leaflet/leaflet.js", site.url + "/static/picture.js"]
    assert not [e for e in browser.find_elements(By.CSS_SELECTOR, "script:not([src]), style, [style]")
                if e.tag_name in ("script", "style")]  # fmt: skip
    policy = browser.execute_script(
        "return fetch('/').then(r => r.headers.get('Content-Security-Policy'))"
    )
    assert policy.startswith("default-src 'self'") and "unsafe-inline" not in policy
    with pytest.raises(WebDriverException):  # an inline script does not run under the policy
        browser.execute_script(
            "const s = document.createElement('script'); s.textContent = 'window.ran = 1';"
            "document.body.append(s); if (!window.ran) throw new Error('blocked');"
        )
    violations = [e for e in browser.get_log("browser") if "Content Security Policy" in e["message"]]
    assert violations  # the blocked inline script, and nothing of the page's own


def test_the_operator_signs_in_with_a_one_time_link_and_sees_the_action(
    browser: webdriver.Chrome, site: Site
) -> None:
    operator = WorkerApi(site.url, OPERATOR)
    answer = operator.post("/picture/code", {})
    assert "code" in answer, answer
    browser.get(site.url + answer["path"])
    wait_for(browser, "body[data-refreshed]")
    assert browser.find_element(By.TAG_NAME, "body").get_attribute("data-may-act") == "true"
    wait_for(browser, "#alerts .alert-item")[0].click()
    ack = poll(lambda: browser.find_element(By.ID, "ack") if browser.find_element(By.ID, "ack").is_displayed()
               else None, 30)  # fmt: skip
    assert ack.text == "Acknowledge"
    shot(browser, site, "05-operator-alert-detail")
    ack.click()
    result = poll(lambda: browser.find_element(By.ID, "ack-result").text or None, 30)
    assert result == "Acknowledged.", result
    shot(browser, site, "05b-operator-acknowledged")
    browser.find_element(By.ID, "silence-reason").send_keys("known situation, handled by the duty officer")
    browser.find_element(By.ID, "silence").click()
    silenced = poll(lambda: browser.find_element(By.ID, "ack-result").text.startswith("Silenced") and (
        browser.find_element(By.ID, "ack-result").text
    ), 30)  # fmt: skip
    assert silenced.startswith("Silenced until"), silenced
    shot(browser, site, "05c-operator-silenced")
    # The link was for one sign-in only.
    browser.delete_all_cookies()
    browser.get(site.url + answer["path"])
    assert "used or has expired" in wait_for(browser, ".error")[0].text


def test_the_ais_gap_is_drawn_dashed_on_its_vessels_track(browser: webdriver.Chrome, site: Site) -> None:
    sign_in(browser, site, ANALYST)
    wait_for(browser, "body[data-refreshed]")
    browser.find_element(By.CSS_SELECTOR, "#span option[value='7d']").click()
    click_fresh(browser, '#alerts [data-id^="ais_gap:"]')
    dark = wait_for(browser, "path.track.dark")
    assert dark[0].get_attribute("stroke-dasharray")
    assert "dark" in browser.find_element(By.ID, "t-tracks").get_attribute("textContent")
    shot(browser, site, "06-ais-gap-track")


def test_the_alerts_are_reached_and_opened_with_the_keyboard_alone(
    browser: webdriver.Chrome, site: Site
) -> None:
    sign_in(browser, site, ANALYST)
    wait_for(browser, "body[data-refreshed]")
    wait_for(browser, "#alerts .alert-item")
    keys = ActionChains(browser)
    focused = "return document.activeElement"
    first = browser.execute_script(focused + ".className")
    for _ in range(300):  # Tab from the top until an alert has the focus: bounded, not timed
        keys.send_keys(Keys.TAB).perform()
        if browser.execute_script(focused + ".matches('#alerts .alert-item')"):
            break
    else:
        raise AssertionError("300 Tabs did not reach the alerts list")
    assert first != "alert-item"
    alert_id = browser.execute_script(focused + ".dataset.id")
    keys.send_keys(Keys.ENTER).perform()
    wait_for(browser, "#detail:not([hidden]) #reasons")
    poll(lambda: browser.execute_script(focused + ".id === 'detail'") or None, 30)  # the focus follows
    headline = browser.find_element(By.CSS_SELECTOR, f'#alerts [data-id="{alert_id}"] .headline').text
    assert headline and headline in browser.find_element(By.ID, "detail-title").text
    shot(browser, site, "08-alert-opened-with-the-keyboard")


def test_a_session_ends_when_its_token_is_taken_out_and_the_tokens_reloaded(
    browser: webdriver.Chrome, site: Site
) -> None:
    sign_in(browser, site, LEAVER)
    wait_for(browser, "body[data-refreshed]")
    poll(lambda: browser.find_element(By.ID, "live-status").text == "live" or None, 30)
    situation = "return fetch('/picture/situation').then(r => r.status)"
    assert browser.execute_script(situation) == 200
    kept = [block for block in site.tokens.read_text().split("[[token]]") if block.strip()]
    site.tokens.write_text("".join("[[token]]" + b for b in kept if hash_token(LEAVER) not in b))
    answer = WorkerApi(site.url, OPERATOR).post("/reload", {})
    assert answer["reloaded"]["sessions_ended"] == 1, answer
    assert browser.execute_script(situation) == 401  # the session's very next request
    # The open page learns it from its event stream, which the worker closed: it shows the sign-in.
    wait_for(browser, "#token")
    shot(browser, site, "07-revoked-session-signs-in-again")


def _catalogue_crossings() -> set[str]:
    from geo.catalogue import load_catalogue

    return set(load_catalogue().crossings.ids)
