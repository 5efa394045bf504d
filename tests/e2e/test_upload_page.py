"""The upload page at ``/`` in a real headless Chromium (Debian's chromium and chromium-driver) against the
real local stack: pick files, watch them finish, read an error code, look at a variant's details; ride out a
lost network and a rate limit; fit a phone's screen."""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from e2e import test_local_stack
from e2e.test_cli import api_key, noise_png
from PIL import Image

from conftest import REPO, corpus
from imagepipe.apikeys import parse_key
from imagepipe.direct_upload import DIRECT_UPLOAD_LIMIT
from imagepipe.ratelimit import counter_key
from local_stack import RunningStack

pytestmark = pytest.mark.e2e
stack = test_local_stack.stack  # this module's own local stack (a module-scoped fixture)

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# a run writes its screenshot under .local/ (ignored); docs/upload-page.png is the committed copy, refreshed by hand
SCREENSHOTS = REPO / ".local" / "screenshots"
SCREENSHOT = SCREENSHOTS / "upload-page.png"
FINISH_TIMEOUT = 120.0
PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 3, "mobile": True}
# each character of an element's text with the top of the line it is laid out on
LAID_OUT = """
const text = [], tops = [];
const walker = document.createTreeWalker(arguments[0], NodeFilter.SHOW_TEXT);
for (let node = walker.nextNode(); node; node = walker.nextNode()) {
  for (let i = 0; i < node.length; i++) {
    const range = document.createRange();
    range.setStart(node, i);
    range.setEnd(node, i + 1);
    text.push(node.data[i]);
    tops.push(Math.round(range.getBoundingClientRect().top));
  }
}
return [text.join(""), tops];
"""
# every text a card's stage line shows, as the user would have seen it go by
WATCH_STAGES = """
window.stagesSeen = [];
new MutationObserver(() => {
  for (const stage of document.querySelectorAll("#grid .stage")) window.stagesSeen.push(stage.textContent);
}).observe(document.getElementById("grid"), { subtree: true, childList: true, characterData: true });
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium through chromedriver; nothing is downloaded at run time."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        reason = f"needs {CHROMIUM} and {CHROMEDRIVER} (apt-get install chromium chromium-driver)"
        if os.environ.get("CI", "").lower() in ("true", "1"):
            pytest.fail(f"CI must run the browser test: {reason}")
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    yield driver
    driver.quit()


def open_page(browser: Any, stack: RunningStack, key: str | None) -> None:
    """The page in a fresh state, with ``key`` already entered in this tab (or none)."""
    browser.get(f"{stack.api}/")
    browser.execute_script(
        "sessionStorage.clear(); if (arguments[0]) sessionStorage.setItem('imagepipe.apiKey', arguments[0]);", key
    )
    browser.refresh()


def pick(browser: Any, *files: Path | str) -> None:
    from selenium.webdriver.common.by import By

    browser.find_element(By.ID, "files").send_keys("\n".join(str(f) for f in files))


def finished_cards(browser: Any, count: int, timeout: float = FINISH_TIMEOUT) -> dict[str, Any]:
    """The ``count`` cards by file name once each has succeeded or failed."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def finished(driver: Any) -> list[Any]:
        """Every card once each is finished; empty (keep waiting) before."""
        cards = driver.find_elements(By.CSS_SELECTOR, "#grid .card")
        done = [c for c in cards if c.get_attribute("data-status") in ("succeeded", "failed")]
        return cards if len(cards) == count and len(done) == count else []

    return {c.get_attribute("data-name"): c for c in WebDriverWait(browser, timeout).until(finished)}


def assert_whole_words(browser: Any, element: Any) -> None:
    """An error code too long for its line breaks after an underscore, never inside a word."""
    text, tops = browser.execute_script(LAID_OUT, element)
    starts = [0, *(i for i in range(1, len(text)) if tops[i] > tops[i - 1]), len(text)]
    lines = [text[start:end] for start, end in itertools.pairwise(starts)]
    assert all(line.endswith("_") for line in lines[:-1]), lines


def rate_limit(stack: RunningStack, seconds: int) -> None:
    """Spend the banner key's rate for the next ``seconds``: the API answers 429 with a Retry-After."""
    key_id = parse_key(api_key(stack))
    assert key_id, "the stack's key has no key id"
    with redis.Redis.from_url(stack.shown["Redis"]) as client:
        client.set(counter_key(key_id), 1_000_000, px=seconds * 1000)


def with_major_brand(source: Path, brand: bytes, path: Path) -> Path:
    """``source`` (an ISO media file) with another major brand in its ftyp box; its compatible brands stay."""
    data = bytearray(source.read_bytes())
    assert data[4:8] == b"ftyp"
    data[8:12] = brand
    path.write_bytes(bytes(data))
    return path


def test_the_page_has_a_strict_content_security_policy(stack: RunningStack) -> None:
    response = httpx.get(f"{stack.api}/", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    policy = dict(part.strip().split(" ", 1) for part in response.headers["content-security-policy"].split(";"))
    assert policy["default-src"] == "'none'"
    assert "'unsafe-inline'" not in response.headers["content-security-policy"]
    assert policy["script-src"].startswith("'sha256-")
    assert policy["img-src"] == f"'self' {stack.shown['S3 endpoint']}"
    assert policy["connect-src"] == f"'self' {stack.shown['S3 endpoint']}"
    assert "http://" not in response.text.replace(stack.api, "") and "https://" not in response.text


def test_picked_files_upload_finish_and_show_thumbnails_errors_and_details(
    stack: RunningStack, browser: Any, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    picks = tmp_path / "picks"
    picks.mkdir()
    files = [
        shutil.copy(corpus("images", "baseline", "hopper.jpg"), picks / "hopper.jpg"),
        shutil.copy(corpus("images", "orientation", "Landscape_5.jpg"), picks / "landscape.jpg"),
        shutil.copy(corpus("images", "baseline", "hopper.webp"), picks / "hopper.webp"),
        noise_png(picks / "big-noise.png", 1400),  # over the direct limit: a presigned upload to S3
        shutil.copy(corpus("images", "corrupt", "truncated_jpeg.jpg"), picks / "truncated.jpg"),
        shutil.copy(corpus("images", "not_an_image", "test-ole-file.doc"), picks / "minutes.jpg"),
        # the API sniffs ISO media by their ftyp brands: the page must accept what it accepts
        shutil.copy(corpus("images", "other_formats", "hopper.heif"), picks / "hopper.heif"),
        with_major_brand(corpus("images", "other_formats", "hopper.avif"), b"mif1", picks / "mif1.avif"),
    ]
    open_page(browser, stack, key=None)
    browser.find_element(By.ID, "key").send_keys(api_key(stack))
    pick(browser, *files)

    cards = finished_cards(browser, len(files))
    status = {name: card.get_attribute("data-status") for name, card in cards.items()}
    assert status == {
        "hopper.jpg": "succeeded",
        "landscape.jpg": "succeeded",
        "hopper.webp": "succeeded",
        "big-noise.png": "succeeded",
        "truncated.jpg": "failed",
        "minutes.jpg": "failed",
        "hopper.heif": "succeeded",
        "mif1.avif": "succeeded",
    }
    for name in ("hopper.jpg", "landscape.jpg", "hopper.webp", "big-noise.png", "hopper.heif", "mif1.avif"):
        thumb = cards[name].find_element(By.CSS_SELECTOR, ".thumb img")
        # loaded from the output bucket's presigned URL, so the policy let it in
        assert browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth", thumb) == 256
    assert "invalid_image" in cards["truncated.jpg"].text
    assert "unsupported_media_type" in cards["minutes.jpg"].text
    assert_whole_words(browser, cards["minutes.jpg"].find_element(By.CSS_SELECTOR, ".thumb"))
    assert browser.execute_script("return sessionStorage.getItem('imagepipe.apiKey')") == api_key(stack)
    assert f"over {DIRECT_UPLOAD_LIMIT // 2**20} MiB" in browser.find_element(By.ID, "drop").text

    # cards are buttons: Space opens one as Enter and a click do
    assert cards["truncated.jpg"].get_attribute("role") == "button"
    cards["truncated.jpg"].send_keys(Keys.SPACE)
    assert browser.find_element(By.CSS_SELECTOR, "#details .code").text == "invalid_image"
    cards["landscape.jpg"].click()
    variants = browser.find_element(By.CSS_SELECTOR, "#details table.variants").text
    assert "thumb 256\u00d7256 webp" in variants and "medium 1024\u00d7" in variants, variants
    assert "Metadata" in browser.find_element(By.ID, "details").text

    # the file picker shows keyboard focus: Tab from the key field lands on it, inside the drop zone
    browser.find_element(By.ID, "key").send_keys(Keys.TAB)
    assert browser.switch_to.active_element.get_attribute("id") == "files"
    drop = browser.find_element(By.ID, "drop")
    assert drop.value_of_css_property("outline-style") != "none"

    # no console errors at all: no policy violation, no missing favicon
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOT))
    with Image.open(SCREENSHOT) as shot:
        assert shot.size[0] >= 1000


def test_accepted_images_ride_out_a_lost_network_and_the_rate_limit(
    stack: RunningStack, browser: Any, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    files = [
        shutil.copy(corpus("images", "baseline", "hopper.jpg"), tmp_path / "hopper.jpg"),
        shutil.copy(corpus("images", "baseline", "hopper.png"), tmp_path / "hopper.png"),
    ]
    open_page(browser, stack, key=api_key(stack))
    browser.execute_script(WATCH_STAGES)
    browser.execute_cdp_cmd("Network.enable", {})
    # status checks (GET /images/{id}) fail as with the API down; uploads (POST /images) still get through
    browser.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*/images/*"]})
    try:
        rate_limit(stack, seconds=2)  # the uploads are refused with a Retry-After first
        pick(browser, *files)

        def all_retrying(driver: Any) -> list[Any]:
            cards = driver.find_elements(By.CSS_SELECTOR, "#grid .card")
            retrying = [c for c in cards if c.get_attribute("data-status") == "retrying"]
            return cards if len(retrying) == len(files) else []

        for card in WebDriverWait(browser, 30).until(all_retrying):
            image_id = card.get_attribute("data-image-id")
            assert image_id and image_id in card.text, card.text  # the user can still find the image
            assert "unreachable" in card.text and "undefined" not in card.text, card.text
        rate_limit(stack, seconds=2)  # and the first status checks once the network is back
    finally:
        browser.execute_cdp_cmd("Network.setBlockedURLs", {"urls": []})

    cards = finished_cards(browser, len(files), timeout=60)
    assert {name: card.get_attribute("data-status") for name, card in cards.items()} == {
        "hopper.jpg": "succeeded",
        "hopper.png": "succeeded",
    }
    seen = browser.execute_script("return window.stagesSeen")
    assert any(text.startswith("rate limited: uploading again in") for text in seen), seen
    assert any("checking again" in text and "rate_limited" in text for text in seen), seen
    assert not any(text.startswith(("unreachable", "rate_limited")) for text in seen), seen  # never failed


def test_the_page_fits_a_phone(stack: RunningStack, browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)
    try:
        open_page(browser, stack, key="ip_not-a-key")
        pick(browser, shutil.copy(corpus("images", "not_an_image", "test-ole-file.doc"), tmp_path / "minutes.jpg"))
        pick(browser, shutil.copy(corpus("images", "baseline", "hopper.jpg"), tmp_path / "hopper.jpg"))
        finished_cards(browser, 2)
        note = browser.find_element(By.ID, "key-note")
        assert "The API refused the key" in note.text
        # a phone widens its layout viewport to fit content that is too wide: that alone shows the overflow
        width = browser.execute_script("return window.innerWidth")
        assert width == PHONE["width"]
        assert browser.execute_script("return document.documentElement.scrollWidth") <= width
        box = browser.execute_script("return arguments[0].getBoundingClientRect().toJSON()", note)
        assert note.is_displayed() and box["left"] >= 0 and box["right"] <= width, box
        assert_whole_words(browser, browser.find_element(By.CSS_SELECTOR, ".card[data-name='minutes.jpg'] .thumb"))
        browser.save_screenshot(str(SCREENSHOTS / "upload-page-phone.png"))
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def test_a_dropped_folder_fails_its_card_clearly(stack: RunningStack, browser: Any, tmp_path: Path) -> None:
    folder = tmp_path / "holiday"
    folder.mkdir()
    shutil.copy(corpus("images", "baseline", "hopper.jpg"), folder / "hopper.jpg")
    open_page(browser, stack, key=api_key(stack))
    pick(browser, folder)  # a folder as the browser hands it over: a file it cannot read

    card = finished_cards(browser, 1, timeout=30)["holiday"]
    assert card.get_attribute("data-status") == "failed"
    assert "unreadable" in card.text and "a folder" in card.text, card.text


def test_without_a_key_the_page_asks_for_one_and_then_uploads(
    stack: RunningStack, browser: Any, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    open_page(browser, stack, key=None)
    pick(browser, shutil.copy(corpus("images", "baseline", "hopper.jpg"), tmp_path / "hopper.jpg"))
    card = WebDriverWait(browser, 10).until(
        lambda driver: driver.find_element(By.CSS_SELECTOR, ".card[data-name='hopper.jpg']")
    )
    WebDriverWait(browser, 10).until(lambda _: "waiting for an API key" in card.text)
    assert browser.find_element(By.ID, "key-note").text == "Enter an API key to upload."
    assert card.get_attribute("data-image-id") is None  # nothing was sent

    browser.find_element(By.ID, "key").send_keys(api_key(stack), Keys.ENTER)
    assert finished_cards(browser, 1)["hopper.jpg"].get_attribute("data-status") == "succeeded"
    assert browser.find_element(By.ID, "key-note").text == ""


def test_a_file_name_cannot_disguise_itself(stack: RunningStack, browser: Any, tmp_path: Path) -> None:
    """A right-to-left override makes "photo\u202egpj.exe" read as "photoexe.jpg": the page shows it without."""
    name = "photo\u202egpj.exe"
    open_page(browser, stack, key=api_key(stack))
    pick(browser, shutil.copy(corpus("images", "baseline", "hopper.jpg"), tmp_path / name))
    card = finished_cards(browser, 1)[name]
    assert card.get_attribute("data-status") == "succeeded"
    shown = card.find_element("css selector", ".name")
    assert shown.text == "photogpj.exe" and shown.get_attribute("title") == "photogpj.exe"
