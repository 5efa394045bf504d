"""The ``imagepipe`` console script against the real local stack, as a person types it."""

from __future__ import annotations

import json
import os
import pty
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
from e2e import test_local_stack
from PIL import Image

from conftest import corpus
from local_stack import RunningStack

pytestmark = pytest.mark.e2e
stack = test_local_stack.stack  # this module's own local stack (a module-scoped fixture)

SCRIPT = Path(sys.executable).with_name("imagepipe")
RUN_TIMEOUT = 180.0
_KEY = re.compile(r"API key:\s*(\S+)")


def api_key(stack: RunningStack) -> str:
    """The key ``make run`` prints; any key while the API does not check them."""
    return next((m[1] for line in stack.lines if (m := _KEY.search(line))), "no-keys-yet")


def imagepipe(stack: RunningStack, *args: str, key: str | None = None) -> subprocess.CompletedProcess[str]:
    assert SCRIPT.exists(), f"no console script at {SCRIPT}: run `make install`"
    env = {**os.environ, "IMAGEPIPE_URL": stack.api, "IMAGEPIPE_API_KEY": key or api_key(stack)}
    return subprocess.run(
        [str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False
    )


def rows(stdout: str) -> dict[str, dict[str, Any]]:
    """``--json`` output by input file name."""
    found = [json.loads(line) for line in stdout.splitlines() if line.strip()]
    return {Path(row["input"]).name: row for row in found}


def noise_png(path: Path, side: int) -> Path:
    """A PNG of random pixels: it does not compress, so ``side`` sets its size in bytes."""
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(path)
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Two good images, a truncated JPEG one folder down, and a Word file nobody should upload."""
    root = tmp_path / "photos"
    (root / "more").mkdir(parents=True)
    shutil.copy(corpus("images", "baseline", "hopper.jpg"), root / "hopper.jpg")
    # a name that lies: the content decides
    shutil.copy(corpus("images", "baseline", "hopper.png"), root / "portrait.dat")
    shutil.copy(corpus("images", "corrupt", "truncated_jpeg.jpg"), root / "more" / "truncated_jpeg.jpg")
    shutil.copy(corpus("images", "not_an_image", "test-ole-file.doc"), root / "notes.doc")
    return root


def test_a_folder_with_a_truncated_file_gives_one_row_each_and_the_variants(
    stack: RunningStack, folder: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    result = imagepipe(stack, "submit", str(folder), "--json", "--out", str(out))

    assert result.returncode == 1, result
    found = rows(result.stdout)
    assert set(found) == {"hopper.jpg", "portrait.dat", "truncated_jpeg.jpg"}, result.stdout
    assert "skipped 1 non-image file" in result.stderr and "notes.doc" in result.stderr
    broken = found["truncated_jpeg.jpg"]
    assert broken["status"] == "failed" and broken["error"]["code"] == "invalid_image", broken
    assert broken["image_id"] and broken["variants"] == []
    for name, stem in (("hopper.jpg", "hopper"), ("portrait.dat", "portrait")):
        row = found[name]
        assert row["status"] == "succeeded" and row["error"] is None, row
        assert {v["name"] for v in row["variants"]} == {"thumb", "medium", "large"}
        for variant in row["variants"]:
            ext = "jpg" if variant["format"] == "jpeg" else variant["format"]
            path = out / stem / f"{variant['name']}.{ext}"
            assert variant["file"] == str(path)
            with Image.open(path) as image:
                assert image.size == (variant["width"], variant["height"])
                assert image.format == variant["format"].upper()


def test_a_file_too_big_for_the_api_goes_through_a_presigned_upload(stack: RunningStack, tmp_path: Path) -> None:
    big = noise_png(tmp_path / "big.png", 1400)
    assert big.stat().st_size > 5 * 1024 * 1024  # over what Lambda could take in one request
    result = imagepipe(stack, "submit", str(big), "--json", "--out", str(tmp_path / "out"))

    assert result.returncode == 0, result
    row = rows(result.stdout)["big.png"]
    assert row["status"] == "succeeded", row
    with Image.open(tmp_path / "out" / "big" / "large.jpg") as image:
        assert image.size == (1400, 1400)
    key = {"Authorization": f"Bearer {api_key(stack)}"}
    record = httpx.get(f"{stack.api}/images/{row['image_id']}", headers=key, timeout=10).json()
    assert record["source"]["size"] == big.stat().st_size


def test_a_non_image_named_on_the_command_line_is_refused_in_its_row(stack: RunningStack) -> None:
    doc = corpus("images", "not_an_image", "test-ole-file.doc")
    good = corpus("images", "baseline", "hopper.webp")
    result = imagepipe(stack, "submit", str(doc), str(good), "--json")

    assert result.returncode == 1, result
    found = rows(result.stdout)
    assert found["test-ole-file.doc"]["status"] == "failed"
    assert found["test-ole-file.doc"]["image_id"] is None
    assert found["test-ole-file.doc"]["error"]["code"] == "unsupported_media_type"
    assert found["hopper.webp"]["status"] == "queued" and found["hopper.webp"]["image_id"]


def test_a_recipe_the_api_refuses_is_a_failed_row(stack: RunningStack, tmp_path: Path) -> None:
    recipe = tmp_path / "recipe.json"
    recipe.write_text(json.dumps({"variants": [{"name": "Bad Name", "width": 10}]}))
    photo = str(corpus("images", "baseline", "hopper.jpg"))
    result = imagepipe(stack, "submit", photo, "--json", "--recipe", f"@{recipe}")

    assert result.returncode == 1, result
    row = rows(result.stdout)["hopper.jpg"]
    assert row["status"] == "failed" and row["image_id"] is None
    assert row["error"]["code"] == "invalid_recipe", row


def test_usage_errors_exit_2(stack: RunningStack, tmp_path: Path) -> None:
    assert imagepipe(stack, "ls", "--status", "lost").returncode == 2
    missing = imagepipe(stack, "submit", str(tmp_path / "nothing-here.jpg"))
    assert missing.returncode == 2 and "nothing-here.jpg" in missing.stderr
    bad_recipe = imagepipe(stack, "submit", str(corpus("images", "baseline", "hopper.jpg")), "--recipe", "{nope")
    assert bad_recipe.returncode == 2 and "not JSON" in bad_recipe.stderr
    no_images = imagepipe(stack, "submit", str(corpus("images", "not_an_image")))
    assert no_images.returncode == 2 and "no images" in no_images.stderr


def test_a_refused_key_exits_2_with_a_clear_message(stack: RunningStack) -> None:
    result = imagepipe(stack, "submit", str(corpus("images", "baseline", "hopper.jpg")), "--json", key="wrong")
    assert result.returncode == 2, result
    assert "refused the key" in result.stderr and "IMAGEPIPE_API_KEY" in result.stderr


def test_keys_made_listed_and_revoked_from_the_cli(stack: RunningStack) -> None:
    made = imagepipe(stack, "keys", "create", "--tenant", "acme", "--scope", "images:read", "--name", "ro", "--json")
    assert made.returncode == 0, made
    key = json.loads(made.stdout)
    assert (key["tenant"], key["scopes"]) == ("acme", ["images:read"]) and key["key"].startswith("ip_")

    listed = imagepipe(stack, "keys", "ls", "--json")
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [r["name"] for r in rows if r["key_id"] == key["key_id"]] == ["ro"] and key["key"] not in listed.stdout
    assert imagepipe(stack, "ls", key=key["key"]).returncode == 0
    # a read-only key may not upload: refused, exit 2
    assert imagepipe(stack, "submit", str(corpus("images", "baseline", "hopper.jpg")), key=key["key"]).returncode == 2

    assert imagepipe(stack, "keys", "revoke", key["key_id"]).returncode == 0
    refused = imagepipe(stack, "ls", key=key["key"])
    assert refused.returncode == 2 and "refused the key" in refused.stderr
    unknown = imagepipe(stack, "keys", "create", "--tenant", "acme", "--scope", "everything")
    assert unknown.returncode == 2 and "unknown scope" in unknown.stderr


def test_off_a_terminal_the_output_is_plain_lines(stack: RunningStack) -> None:
    result = imagepipe(stack, "submit", str(corpus("images", "corrupt", "truncated_jpeg.jpg")), "--wait")

    assert result.returncode == 1, result
    assert "\x1b" not in result.stdout + result.stderr
    assert re.search(r"^failed  \S+truncated_jpeg\.jpg  invalid_image: ", result.stdout, re.MULTILINE), result.stdout


def test_on_a_terminal_one_bar_for_the_batch_and_a_line_per_failure(stack: RunningStack) -> None:
    images = corpus("images", "baseline")
    broken = corpus("images", "corrupt", "truncated_jpeg.jpg")
    env = {**os.environ, "IMAGEPIPE_URL": stack.api, "IMAGEPIPE_API_KEY": api_key(stack), "COLUMNS": "120"}
    controller, terminal = pty.openpty()
    proc = subprocess.Popen([str(SCRIPT), "submit", str(images), str(broken), "--wait"], env=env, stdout=terminal)
    os.close(terminal)
    output = b""
    while chunk := _read(controller):
        output += chunk
    os.close(controller)
    assert proc.wait(RUN_TIMEOUT) == 1
    text = output.decode(errors="replace")
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)
    assert "\x1b[" in text  # a terminal gets the bar's redraws
    assert "uploading" in plain and "processing" in plain and "5/5 images" in plain
    assert re.search(r"failed  \S+truncated_jpeg\.jpg  invalid_image: ", plain), plain
    assert "4 succeeded, 1 failed" in plain


def _read(fd: int) -> bytes:
    try:
        return os.read(fd, 65536)
    except OSError:  # EIO: the other side closed
        return b""


def test_status_ls_get_reprocess_rm_and_queue(stack: RunningStack, tmp_path: Path) -> None:
    submitted = imagepipe(stack, "submit", str(corpus("images", "baseline", "hopper.png")), "--wait", "--json")
    assert submitted.returncode == 0, submitted
    image_id = rows(submitted.stdout)["hopper.png"]["image_id"]

    status = imagepipe(stack, "status", image_id, "--json")
    assert status.returncode == 0 and json.loads(status.stdout)["status"] == "succeeded"
    listed = imagepipe(stack, "ls", "--status", "succeeded", "--limit", "100", "--json")
    assert image_id in [json.loads(line)["image_id"] for line in listed.stdout.splitlines()]
    table = imagepipe(stack, "ls", "--limit", "5")
    assert image_id in table.stdout and "succeeded" in table.stdout

    thumb = tmp_path / "thumb.webp"
    got = imagepipe(stack, "get", image_id, "--variant", "thumb", "-o", str(thumb))
    assert got.returncode == 0, got
    with Image.open(thumb) as image:
        assert (image.format, image.size) == ("WEBP", (256, 256))

    recipe = json.dumps({"variants": [{"name": "tiny", "width": 16, "format": "png"}]})
    assert imagepipe(stack, "reprocess", image_id, "--recipe", recipe).returncode == 0
    tiny = tmp_path / "tiny.png"
    for _ in range(240):  # the reprocessed record replaces its variants once the worker is done
        record = json.loads(imagepipe(stack, "status", image_id, "--json").stdout)
        if record["status"] == "succeeded" and [v["name"] for v in record["variants"]] == ["tiny"]:
            break
    assert imagepipe(stack, "get", image_id, "-o", str(tiny)).returncode == 0
    with Image.open(tiny) as image:
        assert image.size == (16, 16)

    queue = imagepipe(stack, "queue", "--json")
    assert queue.returncode == 0
    assert set(json.loads(queue.stdout)) >= {"depth", "in_progress", "dead_letters", "workers"}

    assert imagepipe(stack, "rm", image_id).returncode == 0
    gone = imagepipe(stack, "status", image_id, "--json")
    assert gone.returncode == 1 and json.loads(gone.stdout)["error"]["code"] == "not_found"


def test_queue_watch_refreshes_until_interrupted(stack: RunningStack) -> None:
    env = {**os.environ, "IMAGEPIPE_URL": stack.api, "IMAGEPIPE_API_KEY": api_key(stack)}
    args = [str(SCRIPT), "queue", "--watch", "--json", "--interval", "0.5"]
    with subprocess.Popen(args, env=env, stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None
        seen = [json.loads(proc.stdout.readline()) for _ in range(2)]
        proc.send_signal(signal.SIGINT)
        assert proc.wait(RUN_TIMEOUT) == 0
    assert all(row["workers"] >= 1 for row in seen), seen


def test_an_id_that_is_not_an_image_id_never_reaches_another_route(stack: RunningStack) -> None:
    """``rm ../keys/KEY_ID`` once revoked the key (httpx resolves the dots); now nothing is sent."""
    made = imagepipe(stack, "keys", "create", "--tenant", "acme", "--scope", "images:read", "--json")
    key = json.loads(made.stdout)

    removed = imagepipe(stack, "rm", f"../keys/{key['key_id']}", "")
    assert removed.returncode == 1 and removed.stdout == "", removed
    assert removed.stderr.count("invalid_id: not an image id") == 2, removed.stderr
    status = imagepipe(stack, "status", "../../keys", "--json")
    assert status.returncode == 1 and json.loads(status.stdout)["error"]["code"] == "invalid_id", status
    assert imagepipe(stack, "ls", key=key["key"]).returncode == 0  # the key still works


def _line(stream: IO[bytes]) -> bytes:
    """One line read straight from the pipe, leaving the rest in it for ``communicate()``."""
    data = b""
    while not data.endswith(b"\n") and (byte := os.read(stream.fileno(), 1)):
        data += byte
    return data


def _ids(stack: RunningStack) -> set[str]:
    key = {"Authorization": f"Bearer {api_key(stack)}"}
    page = httpx.get(f"{stack.api}/images", params={"limit": 100}, headers=key, timeout=10).json()
    return {item["image_id"] for item in page["items"]}


@pytest.mark.parametrize(("signum", "code", "wait"), [(signal.SIGINT, 130, True), (signal.SIGTERM, 143, False)])
def test_a_stopped_submit_reports_every_image_the_api_accepted(
    stack: RunningStack, tmp_path: Path, signum: int, code: int, wait: bool
) -> None:
    """Ctrl-C once the API has the first upload: the uploads under way finish, no other starts, and every image
    the API accepted is reported with its id (not lost to the user while it goes on to be processed)."""
    for n in range(30):
        shutil.copy(corpus("images", "baseline", "hopper.jpg"), tmp_path / f"h{n}.jpg")
    before = _ids(stack)
    env = {**os.environ, "IMAGEPIPE_URL": stack.api, "IMAGEPIPE_API_KEY": api_key(stack)}
    args = [str(SCRIPT), "submit", str(tmp_path), "--json", "--concurrency", "1", *(["--wait"] if wait else [])]
    with subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        while not _ids(stack) - before and proc.poll() is None:
            pass
        proc.send_signal(signum)
        proc.send_signal(signum)  # a second one changes nothing
        out, err = proc.communicate(timeout=RUN_TIMEOUT)
    assert proc.returncode == code, err
    reported = [json.loads(line) for line in out.splitlines()]
    assert sorted(row["image_id"] for row in reported) == sorted(_ids(stack) - before)
    assert all(row["status"] in ("queued", "processing", "succeeded") for row in reported), reported
    stopped = "interrupted" if signum == signal.SIGINT else "terminated"
    left = re.search(rf"^30 inputs: .*, (\d+) not submitted \({stopped}\)$", err, re.MULTILINE)
    assert left and int(left[1]) == 30 - len(reported) > 0, err


def test_a_closed_output_stops_submit_quietly(stack: RunningStack, tmp_path: Path) -> None:
    """``imagepipe submit DIR --json | head -1``: no traceback, nothing new uploaded, 141."""
    for n in range(12):
        shutil.copy(corpus("images", "baseline", "hopper.png"), tmp_path / f"h{n}.png")
    env = {**os.environ, "IMAGEPIPE_URL": stack.api, "IMAGEPIPE_API_KEY": api_key(stack)}
    args = [str(SCRIPT), "submit", str(tmp_path), "--json", "--concurrency", "1"]
    with subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        assert json.loads(_line(proc.stdout))["status"] == "queued"
        proc.stdout.close()  # what `head -1` does once it has its line
        err = proc.stderr.read().decode()
    assert proc.wait(RUN_TIMEOUT) == 141, err
    assert "Traceback" not in err and re.search(r"\d+ not submitted \(output closed\)", err), err
