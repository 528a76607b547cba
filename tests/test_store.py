import json
import signal
import subprocess
import sys
import textwrap

import h5py
import numpy as np
import pytest

from salprep import store
from salprep.cli import main


def _write(path, frames=3, fail_at=None, **kw):
    with store.write_shard(path, stage="gt", dataset="d", video="001", n_frames=frames,
                           source_sha256="abc", params={"sigma": 1.0}, **kw) as shard:
        maps = shard.create_frames("maps", (frames, 4, 5), np.uint16)
        fixes = shard.create_frames("fixations", (frames, 4, 5), np.uint8)
        for t in range(frames):
            if t == fail_at:
                raise RuntimeError("boom")
            maps[t] = t
            fixes[t] = 1
        shard.put("fixation_points", np.zeros((2, 3), np.int32))


def _hidden(folder):
    return sorted(p.name for p in folder.iterdir())


def test_shard_attributes_and_layout(tmp_path):
    path = tmp_path / "gt" / "001.h5"
    _write(path)
    attrs = store.read_attrs(path)
    for key in ("salprep_type", "salprep_version", "source_sha256", "params", "weights", "created",
                "stage_version", "n_frames"):
        assert key in attrs
    assert attrs["salprep_type"] == "gt" and attrs["params"] == {"sigma": 1.0}
    with h5py.File(path, "r") as h5:
        assert h5["maps"].chunks == (1, 4, 5) and h5["maps"].compression == "gzip"
    assert store.verify_shard(path) == []
    assert _hidden(path.parent) == ["001.h5"]


def test_failed_write_leaves_nothing_and_keeps_old_shard(tmp_path):
    path = tmp_path / "001.h5"
    with pytest.raises(RuntimeError):
        _write(path, fail_at=1)
    assert list(tmp_path.iterdir()) == []
    _write(path)
    before = path.read_bytes()
    with pytest.raises(RuntimeError):
        _write(path, frames=5, fail_at=4)
    assert path.read_bytes() == before
    assert _hidden(tmp_path) == ["001.h5"]


def test_killed_writer_leaves_no_shard(tmp_path):
    path = tmp_path / "gt" / "001.h5"
    code = textwrap.dedent(f"""
        import os, signal, numpy as np
        from salprep import store
        with store.write_shard({str(path)!r}, stage="gt", dataset="d", video="001", n_frames=50,
                               source_sha256="x", params={{}}) as shard:
            ds = shard.create_frames("maps", (50, 64, 64), np.float32)
            for t in range(50):
                ds[t] = np.random.rand(64, 64)
                if t == 20:
                    shard.h5.flush()
                    os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True)
    assert proc.returncode == -signal.SIGKILL
    assert not path.exists()
    leftovers = list(path.parent.iterdir())
    assert len(leftovers) == 1 and leftovers[0].name.startswith(".001.") and leftovers[0].name.endswith(".tmp.h5")
    # verify ignores the hidden temp as a shard but mentions it; --clean removes it (its writer is dead)
    assert main(["verify", str(path.parent)]) == 0
    assert leftovers[0].exists()
    assert main(["verify", "--clean", str(path.parent)]) == 0
    assert list(path.parent.iterdir()) == []
    assert main(["verify", str(path.parent)]) == 2  # nothing left to check is an error


def test_verify_finds_problems(tmp_path):
    good = tmp_path / "good.h5"
    _write(good)
    bad_frames = tmp_path / "bad_frames.h5"
    _write(bad_frames)
    with h5py.File(bad_frames, "a") as h5:
        h5.attrs["n_frames"] = 7
    stale = tmp_path / "stale.h5"
    _write(stale)
    with h5py.File(stale, "a") as h5:
        h5.attrs["stage_version"] = "0"
        del h5.attrs["created"]
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not hdf5")
    assert store.verify_shard(good) == []
    assert any("3 frames, n_frames is 7" in p for p in store.verify_shard(bad_frames))
    problems = store.verify_shard(stale)
    assert any("stale" in p for p in problems) and any("created" in p for p in problems)
    assert store.verify_shard(junk)[0].startswith("not a readable HDF5")
    assert store.verify_shard(good, video_frames=4) == ["n_frames 3 != 4 frames decoded from the video"]
    assert main(["verify", "--no-video-check", str(good)]) == 0
    assert main(["verify", "--no-video-check", str(tmp_path)]) == 1


def test_verify_checks_frame_count_against_source_video(tiny_dhf1k, tmp_path, capsys):
    root, _ = tiny_dhf1k
    out = tmp_path / "s" / "001.h5"
    assert main(["gt", "--root", str(root), "--video", "001", "--out", str(out)]) == 0
    assert main(["verify", str(out)]) == 0
    with h5py.File(out, "a") as h5:
        h5.attrs["source_video"] = str(root / "video" / "601.AVI")
        h5.attrs["n_frames"] = 5
        del h5["fixations"], h5["maps"], h5["shipped_maps"]
        h5.create_dataset("fixations", data=np.zeros((5, 2, 2), np.uint8))
        h5.create_dataset("maps", data=np.zeros((5, 2, 2), np.float32))
    capsys.readouterr()
    assert main(["verify", str(out)]) == 1
    assert "n_frames 5 != 6 frames decoded" in capsys.readouterr().out


def test_params_json_and_hashes(tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("x")
    b.write_text("y")
    h1 = store.sha256_files([a, b])
    assert h1 == store.sha256_files([b, a])
    b.write_text("z")
    assert store.sha256_files([a, b]) != h1
    path = tmp_path / "p.h5"
    _write(path)
    with h5py.File(path, "r") as h5:
        assert json.loads(h5.attrs["params"]) == {"sigma": 1.0}
