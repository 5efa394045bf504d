"""``imagepipe render``: the installed console script, run as a user would, over corpus files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import IO, Any

import pytest
from PIL import Image

from conftest import corpus
from imagepipe.models import DEFAULT_RECIPE

SCRIPT = Path(sys.executable).parent / "imagepipe"  # what `make install` put into .venv/bin


def imagepipe(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    assert SCRIPT.exists(), "the console script is missing: `make install` installs it"
    command: list[str | Path] = [SCRIPT, *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, check=False, env=env)


def rendering(folder: Path, out: Path, *args: str) -> subprocess.Popen[str]:
    """``imagepipe render FOLDER --out OUT ARGS`` under way, in a process group of its own (as a terminal's job:
    Ctrl-C reaches the whole group), its stdout and stderr piped to the test."""
    command: list[str | Path] = [SCRIPT, "render", folder, "--out", out, *args]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def _unbuffered_line(stream: IO[str]) -> str:
    """One line read straight from the pipe: ``readline()`` would buffer the lines after it, and ``communicate()``
    reads the pipe itself, so the lines in that buffer were lost to the test (not to the user)."""
    data = b""
    while not data.endswith(b"\n"):
        byte = os.read(stream.fileno(), 1)
        if not byte:
            break
        data += byte
    return data.decode()


def json_lines(stdout: str) -> dict[str, dict[str, Any]]:
    """The --json output, by input file name."""
    results = [json.loads(line) for line in stdout.splitlines()]
    return {Path(r["input"]).name: r for r in results}


@pytest.mark.parametrize("engine", ["vips", "pillow"])
def test_files_and_folders_render_and_a_truncated_file_fails(tmp_path: Path, engine: str) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("baseline/hopper.png", "orientation/Landscape_6.jpg"):
        shutil.copy(corpus("images", *name.split("/")), folder)
    truncated = corpus("images", "corrupt", "truncated_jpeg.jpg")

    result = imagepipe("render", folder, truncated, "--out", tmp_path / "out", "--engine", engine, "--json", "-j", "2")

    assert result.returncode == 1, result.stderr  # one input failed
    by_name = json_lines(result.stdout)
    assert set(by_name) == {"hopper.png", "Landscape_6.jpg", "truncated_jpeg.jpg"}
    assert f"3 inputs: 2 succeeded, 1 failed; variants in {tmp_path / 'out'}" in result.stderr
    failed = by_name["truncated_jpeg.jpg"]
    assert (failed["status"], failed["error"]["code"], failed["variants"]) == ("failed", "invalid_image", [])
    assert not (tmp_path / "out" / "truncated_jpeg").exists()
    landscape = by_name["Landscape_6.jpg"]
    assert landscape["status"] == "succeeded" and landscape["error"] is None
    assert (landscape["metadata"]["width"], landscape["metadata"]["height"]) == (1800, 1200)  # upright
    assert set(landscape["metadata"]["placeholder"]) == {"blurhash", "thumbhash"}
    assert len(landscape["metadata"]["phash"]) == 16
    # the same picture by hash, whichever engine and orientation tag: hopper.png is another photo entirely
    assert (
        int(landscape["metadata"]["phash"], 16) ^ int(by_name["hopper.png"]["metadata"]["phash"], 16)
    ).bit_count() > 20
    assert [v["name"] for v in landscape["variants"]] == [v.name for v in DEFAULT_RECIPE.variants]
    for variant, wanted in zip(landscape["variants"], DEFAULT_RECIPE.variants, strict=True):
        path = Path(variant["path"])
        assert path == tmp_path / "out" / "Landscape_6" / f"{wanted.name}.{wanted.format.extension}"
        assert variant["bytes"] == path.stat().st_size
        with Image.open(path) as image:
            assert (image.format, image.size) == (wanted.format.name, (variant["width"], variant["height"]))


def test_a_recipe_from_a_file_and_plain_output_when_not_a_terminal(tmp_path: Path) -> None:
    recipe = tmp_path / "recipe.json"
    recipe.write_text(json.dumps({"variants": [{"name": "tiny", "width": 32, "height": 32, "format": "png"}]}))
    source = corpus("images", "baseline", "hopper.jpg")
    result = imagepipe("render", source, "--out", tmp_path, "--recipe", f"@{recipe}")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"ok      {source} -> 1 variant"
    assert "\x1b[" not in result.stdout  # no progress bar or colour codes into a pipe
    with Image.open(tmp_path / "hopper" / "tiny.png") as image:
        assert image.size == (32, 32)


@pytest.mark.parametrize(
    "args",
    [
        ["--recipe", '{"variants": []}'],  # an invalid recipe
        ["--recipe", "@/nonexistent/recipe.json"],
        ["--engine", "imagemagick"],
        ["--jobs", "0"],
        ["--recipe", ""],  # an unset shell variable: not the default recipe, silently
        ["--recipe", f"@{corpus('images', 'baseline', 'hopper.jpg')}"],  # not text
        ["--recipe", str(corpus("images", "baseline", "hopper.jpg"))],  # a file named without @
    ],
    ids=["bad-recipe", "missing-recipe-file", "unknown-engine", "no-jobs", "empty-recipe", "binary-recipe", "no-at"],
)
def test_usage_errors_exit_2_and_render_nothing(tmp_path: Path, args: list[str]) -> None:
    result = imagepipe("render", corpus("images", "baseline", "hopper.jpg"), "--out", tmp_path / "out", *args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_wrong_variable_of_the_environment_is_a_usage_error_naming_it(tmp_path: Path) -> None:
    env = {**os.environ, "IMAGEPIPE_ENGINE": "bogus"}
    result = imagepipe("render", corpus("images", "baseline", "hopper.jpg"), "--out", tmp_path / "out", env=env)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "IMAGEPIPE_ENGINE: Input should be 'vips' or 'pillow'" in result.stderr
    assert not (tmp_path / "out").exists()


def test_inputs_with_one_stem_never_share_a_folder(tmp_path: Path) -> None:
    """``a/hopper.jpg``, ``b/hopper.jpg`` and a file whose own stem is ``hopper-2``: three folders, each holding
    the variants its line reports, whatever order the pool finishes them in."""
    for folder, name, source in (
        ("a", "hopper.jpg", "baseline/hopper.jpg"),
        ("b", "hopper.jpg", "baseline/hopper.png"),  # a PNG by another name: 128 px wide, like the JPEG
        ("a", "hopper-2.jpg", "orientation/Landscape_1.jpg"),  # 1800 px wide
    ):
        (tmp_path / "in" / folder).mkdir(parents=True, exist_ok=True)
        shutil.copy(corpus("images", *source.split("/")), tmp_path / "in" / folder / name)
    out = tmp_path / "out"
    result = imagepipe("render", tmp_path / "in", "--out", out, "--json", "-j", "2")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    folders = {Path(line["input"]).relative_to(tmp_path / "in").as_posix(): line for line in lines}
    assert {name: Path(line["variants"][0]["path"]).parent.name for name, line in folders.items()} == {
        "a/hopper.jpg": "hopper",
        "a/hopper-2.jpg": "hopper-2",
        "b/hopper.jpg": "hopper-3",
    }
    for line in lines:
        for variant in line["variants"]:
            with Image.open(variant["path"]) as image:
                assert image.size == (variant["width"], variant["height"]), line["input"]
    assert Image.open(out / "hopper-2" / "large.jpg").width == 1800


def test_a_fifo_or_a_device_fails_unread_and_the_others_go_on(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)  # opening it to read would wait for a writer forever
    source = corpus("images", "baseline", "hopper.jpg")
    result = imagepipe("render", fifo, "/dev/zero", source, "--out", tmp_path / "out", "--json")
    assert result.returncode == 1, result.stderr
    by_name = json_lines(result.stdout)
    for name in ("pipe.jpg", "zero"):
        assert by_name[name]["error"]["code"] == "unreadable"
        assert "not a regular file" in by_name[name]["error"]["message"]
    assert by_name["hopper.jpg"]["status"] == "succeeded"


def test_files_in_a_folder_that_are_not_images_are_left_out_with_a_note(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(corpus("images", "baseline", "hopper.jpg"), folder)
    (folder / "README.txt").write_text("holiday photos")
    result = imagepipe("render", folder, "--out", tmp_path / "out", "--json")
    assert result.returncode == 0, result.stderr
    assert list(json_lines(result.stdout)) == ["hopper.jpg"]
    assert f"left out, not images (1): {folder / 'README.txt'}" in result.stderr
    named = imagepipe("render", folder / "README.txt", "--out", tmp_path / "out", "--json")  # asked for: tried
    assert named.returncode == 1
    assert json_lines(named.stdout)["README.txt"]["error"]["code"] == "invalid_image"


def test_a_second_run_into_a_folder_inside_its_input_renders_the_inputs_only(tmp_path: Path) -> None:
    """``render photos --out photos/variants``, run again: the first run's variants are not inputs."""
    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(corpus("images", "baseline", "hopper.png"), folder)
    for _ in range(2):
        result = imagepipe("render", folder, "--out", folder / "variants", "--json")
        assert result.returncode == 0, result.stderr
        assert list(json_lines(result.stdout)) == ["hopper.png"]
    made = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    variants = [f"variants/hopper/{name}" for name in ("large.jpg", "medium.jpg", "thumb.webp")]
    assert made == ["hopper.png", *variants]


def test_an_input_folder_as_the_output_folder_is_a_usage_error(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(corpus("images", "baseline", "hopper.png"), folder)
    result = imagepipe("render", folder, "--out", tmp_path / "photos" / ".." / "photos")
    assert result.returncode == 2
    assert "is an input folder" in result.stderr
    assert [p.name for p in folder.iterdir()] == ["hopper.png"]


@pytest.mark.parametrize("where", ["a-file", "under-a-file"])
def test_an_out_that_cannot_be_a_folder_is_a_usage_error(tmp_path: Path, where: str) -> None:
    (tmp_path / "taken").write_text("not a folder")
    out = tmp_path / "taken" if where == "a-file" else tmp_path / "taken" / "variants"
    result = imagepipe("render", corpus("images", "baseline", "hopper.jpg"), "--out", out)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "--out" in result.stderr


def test_a_file_whose_variants_cannot_be_written_fails_alone(tmp_path: Path) -> None:
    """A file in the way of one input's folder (or a full disk) fails that input; the others are written."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "hopper").write_text("in the way")
    sources = [corpus("images", "baseline", "hopper.jpg"), corpus("images", "orientation", "Landscape_6.jpg")]
    result = imagepipe("render", *sources, "--out", out, "--json")
    assert result.returncode == 1, result.stderr
    by_name = json_lines(result.stdout)
    failed, written = by_name["hopper.jpg"], by_name["Landscape_6.jpg"]
    assert (failed["status"], failed["error"]["code"], failed["variants"]) == ("failed", "unwritable", [])
    assert written["status"] == "succeeded"
    assert sorted(p.name for p in (out / "Landscape_6").iterdir()) == ["large.jpg", "medium.jpg", "thumb.webp"]


def test_a_file_over_the_upload_limit_fails_as_the_api_refuses_it(tmp_path: Path) -> None:
    source = corpus("images", "baseline", "hopper.jpg")
    env = {**os.environ, "IMAGEPIPE_MAX_UPLOAD_BYTES": str(source.stat().st_size - 1)}
    result = imagepipe("render", source, "--out", tmp_path / "out", "--json", env=env)
    assert result.returncode == 1, result.stderr
    assert json_lines(result.stdout)["hopper.jpg"]["error"]["code"] == "too_large"


def test_a_missing_input_is_a_usage_error(tmp_path: Path) -> None:
    result = imagepipe("render", tmp_path / "nothing.jpg", "--out", tmp_path / "out")
    assert result.returncode == 2
    assert "does not exist" in result.stderr


def test_the_pool_is_started_before_parsing_only_for_arguments_read_for_sure(tmp_path: Path) -> None:
    from imagepipe_cli.pool import _plain

    for name in ("a.jpg", "b.jpg", "c.png"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "empty").mkdir()
    (tmp_path / "hidden" / ".cache").mkdir(parents=True)
    (tmp_path / "hidden" / ".cache" / "d.jpg").write_bytes(b"")
    folder, one, out = str(tmp_path), str(tmp_path / "a.jpg"), str(tmp_path / "out")
    for plain in (
        [folder, "--out", out, "-j", "2", "--json"],
        ["--engine=pillow", "--jobs", "8", "-o", out, folder],
        [one, one, "--out", out, "--recipe", '{"variants": []}', "-j", "4"],
        ["--out", out, "--", one],
        [str(tmp_path / "empty"), one, "--out", out],
    ):
        assert _plain(plain), plain
    for unsure in (
        [one, "--out", out, "--help"],
        [one, "--out", out, "-j2"],  # a value attached to a short option: typer's to read
        [one, "--out", out, "-j", "0"],
        [one, "--out", out, "-j", "two"],
        [one, "--out"],
        [one],  # no --out: typer refuses it
        [str(tmp_path / "missing.jpg"), "--out", out],
        [str(tmp_path / "out"), "--out", out],  # names nothing
        [str(tmp_path / "empty"), "--out", out],  # no file in it
        [str(tmp_path / "hidden"), "--out", out],  # hidden files only
        ["--out", out],
    ):
        assert not _plain(unsure), unsure


def test_an_unknown_engine_is_told_before_an_unreadable_recipe_file(tmp_path: Path) -> None:
    source = corpus("images", "baseline", "hopper.jpg")
    args = ("--engine", "imagemagick", "--recipe", "@/nonexistent/recipe.json")
    result = imagepipe("render", source, "--out", tmp_path / "out", *args)
    assert result.returncode == 2
    assert "imagemagick" in result.stderr and "nonexistent" not in result.stderr
    result = imagepipe("render", source, "--out", tmp_path / "out", "--recipe", "@/nonexistent/recipe.json")
    assert result.returncode == 2
    assert "cannot read /nonexistent/recipe.json" in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("presses", [1, 3])
def test_ctrl_c_stops_the_run_and_leaves_only_whole_variants_all_reported(tmp_path: Path, presses: int) -> None:
    """Ctrl-C reaches the whole process group, as a terminal sends it: nothing new starts, the files being
    rendered are finished and reported (each once, however often Ctrl-C is pressed while they finish), and no
    pool process prints a traceback or keeps rendering."""
    import signal
    import time

    folder, out = tmp_path / "in", tmp_path / "out"
    folder.mkdir()
    landscape = corpus("images", "orientation", "Landscape_6.jpg")
    for n in range(40):
        shutil.copy(landscape, folder / f"{n:02d}.jpg")
    proc = rendering(folder, out, "--json", "-j", "2")
    assert proc.stdout is not None
    first = _unbuffered_line(proc.stdout)  # the run is under way
    for _ in range(presses):
        os.killpg(proc.pid, signal.SIGINT)
        time.sleep(0.02)  # a second and a third press while the files under way finish
    rest, stderr = proc.communicate(timeout=120)

    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr
    reported = json_lines(first + rest)
    left = 40 - len(reported)
    assert f"40 inputs: {len(reported)} succeeded, 0 failed, {left} not rendered (interrupted)" in stderr
    assert len(reported) == len((first + rest).splitlines())  # no file reported twice
    written = {path.name for path in out.iterdir()}
    assert {Path(name).stem for name in reported} == written  # every folder written was reported
    assert 1 <= len(written) < 40  # it stopped
    for name in written:
        for variant in (out / name).iterdir():
            with Image.open(variant) as image:
                image.load()  # whole files, not cut off mid-write


@pytest.fixture(scope="module")
def slow_images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """24 copies of a 12 MP PNG: each takes a pool process about 0.1 s or more, and all of them well over a
    second, long enough to act while one renders or before the last one is done."""
    folder = tmp_path_factory.mktemp("slow")
    picture = Image.linear_gradient("L").resize((4000, 3000)).convert("RGB")
    picture.save(folder / "0.png", compress_level=1)
    for n in range(1, 24):
        shutil.copy(folder / "0.png", folder / f"{n}.png")
    return folder


def test_after_ctrl_c_no_file_starts_that_had_not_started(tmp_path: Path, slow_images: Path) -> None:
    """One process: Ctrl-C as the first file is reported finds the second rendering (or not yet handed over),
    and nothing after it starts. A pool handed every file at once would have queued more in its pipe, and
    rendered them after the Ctrl-C."""
    import signal

    out = tmp_path / "out"
    proc = rendering(slow_images, out, "--json", "-j", "1")
    assert proc.stdout is not None
    first = _unbuffered_line(proc.stdout)
    os.killpg(proc.pid, signal.SIGINT)
    rest, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    reported = json_lines(first + rest)
    assert 1 <= len(reported) <= 2, reported.keys()
    assert len(list(out.iterdir())) == len(reported)


def test_a_closed_output_stops_the_run_quietly(tmp_path: Path, slow_images: Path) -> None:
    """``imagepipe render ... | head -1``: once nobody reads stdout, nothing new starts, the files under way are
    finished, no traceback, and the exit code is the one a shell gives a command that SIGPIPE ended."""
    out = tmp_path / "out"
    proc = rendering(slow_images, out, "-j", "1")
    assert proc.stdout is not None and proc.stderr is not None
    _unbuffered_line(proc.stdout)
    proc.stdout.close()  # what `head -1` does once it has its line
    stderr = proc.stderr.read()
    assert proc.wait(timeout=120) == 141, stderr
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr
    assert "not rendered (output closed)" in stderr
    assert 2 <= len(list(out.iterdir())) < 24


@pytest.mark.parametrize("after", [0.2, 0.4, 0.8])
def test_ctrl_c_at_any_moment_of_the_start_is_quiet(tmp_path: Path, slow_images: Path, after: float) -> None:
    """Pressed while typer imports, while the pool's server imports the engine, or while the pool starts: exit
    130 and no traceback from any process of the group (the server's start-up ignores it, a half-made pool is
    shut down, not abandoned)."""
    import signal
    import time

    proc = rendering(slow_images, tmp_path / "out", "-j", "2")
    time.sleep(after)
    os.killpg(proc.pid, signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "Fatal" not in stderr, stderr
    assert "interrupted" in stderr
    assert not list(tmp_path.rglob(".*.part"))


def test_a_file_met_twice_is_rendered_once(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(corpus("images", "baseline", "hopper.jpg"), folder)
    named = folder / "hopper.jpg"
    result = imagepipe("render", named, folder / ".." / "photos" / "hopper.jpg", folder, "--out", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"ok      {named} -> 3 variants"]
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["hopper"]


def test_sigterm_stops_the_run_as_ctrl_c_does(tmp_path: Path, slow_images: Path) -> None:
    """``timeout 60 imagepipe render ...`` sends SIGTERM to the command alone: the files under way are finished
    and reported, nothing new starts, and it exits 143 with the count (it used to die at once, leaving the
    pool's semaphores to the resource tracker's warning)."""
    import signal

    out = tmp_path / "out"
    proc = rendering(slow_images, out, "--json", "-j", "1")
    assert proc.stdout is not None
    first = _unbuffered_line(proc.stdout)
    proc.send_signal(signal.SIGTERM)
    rest, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 143, stderr
    reported = json_lines(first + rest)
    assert 1 <= len(reported) <= 2
    assert f"24 inputs: {len(reported)} succeeded, 0 failed, {24 - len(reported)} not rendered (terminated)" in stderr
    assert "leaked" not in stderr and "Traceback" not in stderr, stderr
    assert not list(out.rglob(".*.part"))
