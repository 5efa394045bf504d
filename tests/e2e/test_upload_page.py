"""The upload page at ``/`` in a real headless Chromium (Debian's chromium and chromium-driver) against the
real local stack: pick files, watch them finish, read an error code, look at a variant's details."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from e2e import test_local_stack
from e2e.test_cli import api_key, noise_png
from PIL import Image

from conftest import REPO, corpus
from local_stack import RunningStack

pytestmark = pytest.mark.e2e
stack = test_local_stack.stack  # this module's own local stack (a module-scoped fixture)

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# a run writes its screenshot under .local/ (ignored); docs/upload-page.png is the committed copy, refreshed by hand
SCREENSHOT = REPO / ".local" / "screenshots" / "upload-page.png"
FINISH_TIMEOUT = 120.0


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
    from selenium.webdriver.support.ui import WebDriverWait

    picks = tmp_path / "picks"
    picks.mkdir()
    files = [
        shutil.copy(corpus("images", "baseline", "hopper.jpg"), picks / "hopper.jpg"),
        shutil.copy(corpus("images", "orientation", "Landscape_5.jpg"), picks / "landscape.jpg"),
        shutil.copy(corpus("images", "baseline", "hopper.webp"), picks / "hopper.webp"),
        noise_png(picks / "big-noise.png", 1400),  # over the direct limit: a presigned upload to S3
        shutil.copy(corpus("images", "corrupt", "truncated_jpeg.jpg"), picks / "truncated.jpg"),
        shutil.copy(corpus("images", "not_an_image", "test-ole-file.doc"), picks / "minutes.jpg"),
    ]
    browser.get(f"{stack.api}/")
    browser.find_element(By.ID, "key").send_keys(api_key(stack))
    browser.find_element(By.ID, "files").send_keys("\n".join(str(f) for f in files))

    def finished(driver: Any) -> list[Any]:
        """Every card once each is finished; empty (keep waiting) before."""
        cards = driver.find_elements(By.CSS_SELECTOR, "#grid .card")
        done = [c for c in cards if c.get_attribute("data-status") in ("succeeded", "failed")]
        return cards if len(cards) == len(files) and len(done) == len(files) else []

    cards = {c.get_attribute("data-name"): c for c in WebDriverWait(browser, FINISH_TIMEOUT).until(finished)}
    status = {name: card.get_attribute("data-status") for name, card in cards.items()}
    assert status == {
        "hopper.jpg": "succeeded",
        "landscape.jpg": "succeeded",
        "hopper.webp": "succeeded",
        "big-noise.png": "succeeded",
        "truncated.jpg": "failed",
        "minutes.jpg": "failed",
    }
    for name in ("hopper.jpg", "landscape.jpg", "hopper.webp", "big-noise.png"):
        thumb = cards[name].find_element(By.CSS_SELECTOR, ".thumb img")
        # loaded from the output bucket's presigned URL, so the policy let it in
        assert browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth", thumb) == 256
    assert "invalid_image" in cards["truncated.jpg"].text
    assert "unsupported_media_type" in cards["minutes.jpg"].text
    assert browser.execute_script("return sessionStorage.getItem('imagepipe.apiKey')") == api_key(stack)

    cards["truncated.jpg"].click()
    assert browser.find_element(By.CSS_SELECTOR, "#details .code").text == "invalid_image"
    cards["landscape.jpg"].click()
    variants = browser.find_element(By.CSS_SELECTOR, "#details table.variants").text
    assert "thumb 256\u00d7256 webp" in variants and "medium 1024\u00d7" in variants, variants
    assert "Metadata" in browser.find_element(By.ID, "details").text

    violations = [e for e in browser.get_log("browser") if "Content Security Policy" in e["message"]]
    assert not violations, violations
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOT))
    with Image.open(SCREENSHOT) as shot:
        assert shot.size[0] >= 1000
