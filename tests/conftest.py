"""Shared fixtures: a tiny dataset in DHF1K layout built from scratch (no demo generator)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

# One torch (OpenMP) thread per process, set before torch is imported: `make test` runs three test
# processes on two cores, and the Snakemake jobs they start run beside them; with a thread per
# core each, OpenMP's waiting threads spin on cores the others need (the in-process network tests
# took 179 CPU-s that way, 116 with one thread). Inherited by every command a test starts. A value
# already set is kept.
os.environ.setdefault("OMP_NUM_THREADS", "1")

from salprep import gt as gtlib
from salprep.video import write_video

TINY_SHAPE = (48, 80)  # H, W
TINY_FRAMES = 6


def make_tiny_dhf1k(root: Path, videos=(1, 601), frames=TINY_FRAMES, shape=TINY_SHAPE, seed=0) -> dict:
    """Videos ``video/NNN.AVI`` + ``annotation/NNNN/{fixation,maps}/NNNN.png``; returns the points."""
    rng = np.random.default_rng(seed)
    h, w = shape
    points = {}
    for number in videos:
        vid = f"{number:03d}"
        imgs = [(rng.random((h, w, 3)) * 255).astype(np.uint8) for _ in range(frames)]
        write_video(root / "video" / f"{vid}.AVI", imgs, fps=30)
        ann = root / "annotation" / f"{number:04d}"
        (ann / "fixation").mkdir(parents=True)
        (ann / "maps").mkdir(parents=True)
        points[vid] = []
        for t in range(frames):
            pts = np.stack([rng.integers(0, w, 3), rng.integers(0, h, 3)], axis=1)
            points[vid].append(pts)
            fix = gtlib.fixation_map(pts, shape)
            Image.fromarray(fix.astype(np.uint8) * 255, mode="L").save(ann / "fixation" / f"{t + 1:04d}.png")
            smap = gtlib.saliency_map(fix, gtlib.GT_PRESETS["dhf1k"]["sigma"])
            Image.fromarray(np.round(smap * 255).astype(np.uint8), mode="L").save(ann / "maps" / f"{t + 1:04d}.png")
    return points


@pytest.fixture
def tiny_dhf1k(tmp_path) -> tuple[Path, dict]:
    root = tmp_path / "tiny"
    points = make_tiny_dhf1k(root)
    return root, points


@pytest.fixture(autouse=True)
def _quiet_tqdm(monkeypatch):
    monkeypatch.setenv("SALPREP_PROGRESS", "0")
    yield


def pytest_configure(config):
    os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture
def no_tf32(monkeypatch):
    """Float32 in CUDA comparison paths: TF32 convolutions and matmuls off for the test."""
    import torch

    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)


#: the files that take longest, started first so that the processes finish together (pytest-xdist
#: hands out whole files in collection order with --dist loadfile --no-loadscope-reorder, as the
#: Makefile runs it; without that flag it sorts files by their number of tests); the SLURM test
#: mostly waits for the scheduler, so it overlaps the others' computing
LONGEST_FIRST = ("test_workflow.py", "test_workflow_layouts.py", "test_profiles.py", "test_s3_store.py",
                 "test_train.py", "test_shared_cache.py", "test_bare_command.py", "test_workflow_own_dataset.py",
                 "test_store_faults.py", "test_evaluate.py", "test_flow_tvl1.py", "test_gpu_check.py",
                 "test_monodepth.py", "test_flow_spynet.py", "test_salgan.py")


def pytest_collection_modifyitems(config, items):
    """Collection order, except the files of :data:`LONGEST_FIRST` first (in that order); the
    order of tests inside a file is kept."""
    def rank(item) -> int:
        name = item.nodeid.split("::")[0].rsplit("/", 1)[-1]
        return LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)

    items[:] = sorted(items, key=rank)  # stable: file and test order kept within a rank
