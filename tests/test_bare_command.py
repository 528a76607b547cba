"""The mission's own command line, typed as a user types it: `snakemake --cores 2 results/lsts_flow`
in a clone of the project, no --workflow-profile, no --configfile. Snakemake finds
profiles/default by itself (next to the Snakefile), so its checksum setting applies: touching a
video, a shard or an annotation file then reruns nothing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
#: the clone's own config/config.yaml = the repo's, with these test sizes merged in: one training
#: and one validation video of 12 frames, I3D flow LSTS-sized (33-frame windows at 132 px: the
#: smallest input giving Mixed_5c 5x5x5, as in test_workflow_layouts.py), one short LSTS epoch
SMALL = {
    "datasets": {"demo": {"splits": {"train": "1", "val": "601"}}},
    "demo_data": {"seed": 1, "frames": 12, "size": "160x90"},
    "stages": {"flow_tvl1": {"size": "32x32", "out_size": "132x132"},
               "i3d_flow": {"window": 33, "stride": 10, "pool": "5x5x5", "pad_start": True}},
    "models": {"lsts_flow": {"epochs": 1, "batch_size": 4, "frames_per_video": 4}},
    "evaluate": {"scheduler": "sync", "workers": 1, "n_splits": 10, "overlays": 1},
}


def _merge(base: dict, top: dict) -> dict:
    out = dict(base)
    for key, value in top.items():
        out[key] = _merge(base[key], value) if isinstance(value, dict) and isinstance(base.get(key), dict) else value
    return out


def clone(dst: Path, config: dict | None = None) -> Path:
    """The project's workflow files, as `git clone` gives them; ``config`` merged into its config.yaml."""
    dst.mkdir(parents=True)
    shutil.copy(REPO / "Snakefile", dst / "Snakefile")
    for folder in ("workflow", "config", "envs", "profiles"):
        shutil.copytree(REPO / folder, dst / folder)
    if config:
        path = dst / "config" / "config.yaml"
        path.write_text(yaml.safe_dump(_merge(yaml.safe_load(path.read_text()), config), sort_keys=False))
    return dst


def bare(project: Path, *args: str) -> subprocess.CompletedProcess:
    """``snakemake --cores 2 <args>`` in ``project``, as typed: nothing else on the command line."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run(["snakemake", "--cores", "2", *args], cwd=project, env=env, capture_output=True, text=True,
                          timeout=900)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    project = clone(tmp_path_factory.mktemp("bare") / "salprep", SMALL)
    proc = bare(project, "results/lsts_flow")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return project, proc


def test_the_bare_command_reads_the_default_profile(built):
    _, proc = built
    assert "Using workflow specific profile profiles/default" in proc.stdout + proc.stderr


def test_touching_inputs_then_the_bare_command_reruns_nothing(built):
    project, _ = built
    model = project / "results" / ".train" / "lsts_flow" / "model.pt"
    before = model.stat().st_mtime_ns
    ann = project / "data" / "demo" / "annotation"
    for path in (project / "data" / "demo" / "video" / "001.AVI", project / "data" / "demo" / "video" / "601.AVI",
                 project / "store" / "demo" / "gt" / "601.h5", project / "store" / "demo" / "flow_tvl1" / "001.h5",
                 project / "store" / "demo" / "i3d_flow" / "601.h5", ann / "0001" / "fixation" / "0003.png",
                 ann / "0601" / "maps" / "0001.png", ann / "0601"):
        assert path.exists(), path
        os.utime(path)
    proc = bare(project, "results/lsts_flow")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert "Nothing to be done" in out, out[-3000:]
    assert model.stat().st_mtime_ns == before
    # the same touch seen without the profile's checksum threshold (mtime only) is a change:
    # what the bare command planned before profiles/ sat next to the Snakefile
    (project / "data" / "demo" / "video" / "001.AVI").touch()
    proc = bare(project, "-n", "--workflow-profile", "none", "--max-checksum-file-size", "1KB", "results/lsts_flow")
    assert proc.returncode == 0 and "Job stats:" in proc.stdout + proc.stderr
