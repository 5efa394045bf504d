"""What ``imagepipe submit`` takes from its arguments, and what it shows of a record's progress."""

from __future__ import annotations

import shutil
from pathlib import Path

from conftest import corpus
from imagepipe_cli.batch import destinations
from imagepipe_cli.display import stage
from imagepipe_cli.inputs import collect


def test_folders_globs_and_names_give_images_by_content_once_each(tmp_path: Path) -> None:
    (tmp_path / "a" / "deep").mkdir(parents=True)
    shutil.copy(corpus("images", "baseline", "hopper.jpg"), tmp_path / "a" / "one.jpg")
    shutil.copy(corpus("images", "baseline", "hopper.png"), tmp_path / "a" / "deep" / "no-extension")
    shutil.copy(corpus("images", "not_an_image", "test-ole-file.doc"), tmp_path / "a" / "fake.jpg")
    named = shutil.copy(corpus("images", "not_an_image", "test-ole-file.doc"), tmp_path / "named.png")

    found = collect([str(tmp_path / "a"), str(tmp_path / "a" / "*.jpg"), str(named), str(tmp_path / "missing*")])

    by_name = {item.path.name: item for item in found.inputs}
    assert list(by_name) == ["no-extension", "one.jpg", "named.png"]
    assert by_name["no-extension"].content_type == "image/png"
    assert not by_name["named.png"].is_image  # named on the command line: kept, to be refused in its row
    assert [p.name for p in found.skipped] == ["fake.jpg"]
    assert found.missing == [str(tmp_path / "missing*")]


def test_inputs_with_one_stem_get_their_own_folders(tmp_path: Path) -> None:
    found = collect([str(corpus("images", "baseline"))])
    where = destinations(found.inputs, tmp_path)
    assert sorted(p.name for p in where.values()) == ["hopper", "hopper-2", "hopper-3", "hopper-4"]


def test_a_record_shows_its_progress_while_it_has_one() -> None:
    progress = {"stage": "rendering", "done": 2, "total": 3}
    assert stage({"status": "processing", "progress": progress}) == "rendering 2/3"
    assert stage({"status": "queued"}) == "queued"
