"""`make bench` works: the benchmark runs end to end on a tiny corpus and writes every figure it promises.
No timing is asserted here; speed is measured by `make bench` and reported as ratios."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

pytestmark = pytest.mark.slow


def test_benchmark_runs_on_a_tiny_corpus(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    result = subprocess.run(
        [sys.executable, "benchmarks/run.py", "--quick", "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    figures = json.loads(out.read_text())
    cores = min(2, os.cpu_count() or 1)
    assert set(figures["figures"]) >= {
        "bare_vips_1_core",
        "limit_1_core",
        "limit_pillow_1_core",
        f"bare_vips_files_{cores}_core",
        f"render_cli_vips_{cores}_core",
        f"imagepipe_pillow_{cores}_core",
        "peak_rss_2mp_vips",
        "peak_rss_2mp_pillow",
        "engine_vips_interleaved",
        "engine_pillow_interleaved",
        "seed_design",
        "imagepipe_1_core",
        "dispatch_imagepipe",
        "dispatch_raw_arq",
        "import_api",
        "import_trigger",
        "import_baseline",
        *(
            f"analysis_{step}_{engine}"
            for step in ("analysis_image", "placeholders", "phash", "smart_box")
            for engine in ("vips", "pillow")
        ),
    }
    # a share of the machine's CPU may be nothing (no idle time on a busy machine); every other figure is not
    assert all(f["value"] > 0 or (f["unit"] == "% of CPU" and f["value"] == 0) for f in figures["figures"].values())
    assert {"imaging_cpu_share_1_core", "others_cpu_share_1_core", "idle_cpu_share_1_core"} <= set(figures["figures"])
    assert set(figures["ratios"]) == set(figures["targets"])
