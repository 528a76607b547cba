"""Reliability battery (issue 16): faults of the store itself. A full disk, damaged chunks,
altered attributes, NaN data, shards lacking datasets, stale temporaries of dead writers and
two writers of one shard. Each case asserts the exit code, the one line, that no partial file
is visible and that every other shard is byte-identical."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from salprep import gt as gtlib
from salprep.atomic import temp_name
from salprep.cli import main
from salprep.store import open_shard, write_shard

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest import make_tiny_dhf1k  # noqa: E402
from faults import one_error_line, snapshot  # noqa: E402

BIN = Path(sys.executable).parent


def flip_chunk(path: Path, dataset: str, row: int, n: int = 4096) -> None:
    """Invert up to ``n`` bytes in the middle of chunk ``row`` of ``dataset`` (bit rot)."""
    with h5py.File(path, "r") as h5:
        info = h5[dataset].id.get_chunk_info(row)
    n = min(n, info.size // 2)
    start = info.byte_offset + (info.size - n) // 2
    with open(path, "r+b") as fh:
        fh.seek(start)
        data = fh.read(n)
        fh.seek(start)
        fh.write(bytes(b ^ 0xFF for b in data))


@pytest.fixture
def gt_store(tiny_dhf1k, tmp_path):
    """GT shards of the tiny dataset in the store layout: store/tiny/gt/{001,601}.h5."""
    root, _ = tiny_dhf1k
    gt = tmp_path / "store" / "tiny" / "gt"
    for video in ("001", "601"):
        assert main(["gt", "--root", str(root), "--video", video, "--dataset-name", "tiny",
                     "--out", str(gt / f"{video}.h5")]) == 0
    return root, gt


# --- a full disk ------------------------------------------------------------------------------

def _can_mount_tmpfs() -> bool:
    if shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
                          capture_output=True).returncode == 0


@pytest.mark.parametrize("limit", ["tmpfs", "ulimit"])
@pytest.mark.parametrize("command", ["gt", "flow"])
def test_a_full_disk_is_one_line_and_leaves_the_other_shards(tmp_path, limit, command):
    if limit == "tmpfs" and not _can_mount_tmpfs():
        pytest.skip("cannot mount a tmpfs here (no user namespaces); the ulimit case covers it")
    root = tmp_path / "ds"
    make_tiny_dhf1k(root, videos=(1,), frames=6)  # small: its shard fits
    make_tiny_dhf1k(root, videos=(2,), frames=12, shape=(180, 320), seed=1)  # its shard does not
    disk = tmp_path / "disk"
    disk.mkdir()
    # shard sizes: gt 001 ~80 KB, 002 ~250 KB; flow 001 (16x16) ~13 KB, 002 (TV-L1 at 32x18, stored
    # at 128x72: a large shard for little computing) ~28 KB
    kib = {"gt": 160, "flow": 20}[command]
    size = {"001": ("16x16", "16x16"), "002": ("32x18", "128x72")}
    args = {"gt": lambda v: f"{BIN}/salprep gt --root '{root}' --video {v} --out '{disk}/{command}/{v}.h5'",
            "flow": lambda v: (f"{BIN}/salprep flow --method tvl1 --backend opencv --video '{root}/video/{v}.AVI' "
                               f"--size {size[v][0]} --out-size {size[v][1]} --out '{disk}/{command}/{v}.h5'")}[command]
    script = f"{args('001')} && cp -a '{disk}/{command}' '{tmp_path}/before' && {args('002')}"
    if limit == "tmpfs":
        cmd = ["unshare", "-rm", "sh", "-c", f"mount -t tmpfs -o size={kib}k tmpfs '{disk}' && {script}; "
               f"rc=$?; cp -a '{disk}/{command}' '{tmp_path}/after'; exit $rc"]
    else:
        cmd = ["bash", "-c", f"ulimit -f {kib}; {script}; rc=$?; cp -a '{disk}/{command}' '{tmp_path}/after'; exit $rc"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "SALPREP_PROGRESS": "0"})
    err = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2, proc.stderr
    expected = "No space left on device (errno 28)" if limit == "tmpfs" else "File too large (errno 27)"
    assert err == [f"salprep: error: {disk}/{command}/002.h5: cannot write: {expected}; nothing was written and "
                   "any earlier file is unchanged"], proc.stderr
    assert snapshot(tmp_path / "after") == snapshot(tmp_path / "before")  # 001.h5 only, byte-identical
    assert sorted(p.name for p in (tmp_path / "after").iterdir()) == ["001.h5"]  # no temporary left


# --- damaged data -----------------------------------------------------------------------------

def test_verify_reads_every_chunk_and_names_the_damaged_frames(gt_store, capsys):
    _, gt = gt_store
    flip_chunk(gt / "001.h5", "maps", 3)
    assert main(["verify", "--quick", str(gt)]) == 0  # attributes only: cannot see it
    capsys.readouterr()
    assert main(["verify", str(gt)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert f"{gt}/001.h5: dataset 'maps': 1 unreadable chunk row(s) [3] (a chunk fails its checksum or does " \
           "not decompress)" in out
    assert f"{gt}/601.h5: ok" in out


def test_every_dataset_is_checksummed(gt_store):
    _, gt = gt_store
    with h5py.File(gt / "001.h5", "r") as h5:
        assert h5.attrs["store_format"] == 2
        assert all(h5[name].fletcher32 for name in h5), {name: h5[name].fletcher32 for name in h5}


def test_a_flip_that_still_decompresses_fails_the_checksum(gt_store):
    """Without fletcher32 a flipped bit in a chunk gzip still inflates would read as wrong data."""
    _, gt = gt_store
    path = gt / "001.h5"
    with h5py.File(path, "r") as h5:
        info = h5["fixations"].id.get_chunk_info(2)
    with open(path, "r+b") as fh:  # the last byte before the 4-byte checksum: gzip's adler32
        fh.seek(info.byte_offset + info.size - 5)
        byte = fh.read(1)
        fh.seek(info.byte_offset + info.size - 5)
        fh.write(bytes([byte[0] ^ 1]))
    with open_shard(path, "gt") as h5:
        with pytest.raises(Exception, match="cannot read dataset 'fixations'"):
            h5["fixations"][2]


@pytest.mark.parametrize("reader,dataset", [("train", "maps"), ("evaluate", "fixations"),
                                            ("evaluate", "shipped_maps")])
def test_readers_turn_a_damaged_chunk_into_one_line(gt_store, tmp_path, capsys, reader, dataset):
    _, gt = gt_store
    train_dir = tmp_path / "train"
    assert main(["train", "--model", "center_bias", "--gt", str(gt / "001.h5"), "--out-dir", str(train_dir)]) == 0
    flip_chunk(gt / "601.h5", dataset, 2)
    before = snapshot(tmp_path / "store")
    out = tmp_path / f"out_{reader}"
    capsys.readouterr()
    if reader == "train":
        args = ["train", "--model", "center_bias", "--gt", str(gt / "601.h5"), "--out-dir", str(out)]
    else:
        args = ["evaluate", "--model", "center_bias", "--checkpoint", str(train_dir / "model.pt"),
                "--split", "val", str(gt / "601.h5"), "--out-dir", str(out)]
    assert main(args) == 2
    assert one_error_line(capsys) == (f"salprep: error: {gt}/601.h5: cannot read dataset '{dataset}' (a chunk fails its "
                                      "checksum or does not decompress): the shard is damaged; 'salprep verify' "
                                      "lists the damage, rebuild the shard")
    assert not out.exists()  # no partial results
    assert snapshot(tmp_path / "store") == before


def _feature_shards(root: Path, video: str, windows=(3, 5)) -> None:
    rng = np.random.default_rng(int(video))
    with write_shard(root / "gt" / f"{video}.h5", stage="gt", dataset="t", video=video, n_frames=6,
                     source_sha256="0", params={}) as shard:
        fix = np.zeros((6, 36, 64), np.uint8)
        fix[:, 10, 20] = 1
        shard.create_frames("fixations", fix.shape, np.uint8)[...] = fix
        shard.create_frames("maps", fix.shape, np.uint16)[...] = gtlib.quantize_unit(
            gtlib.saliency_map(fix[0].astype(bool), 4.0))
        shard.h5["maps"].attrs["scale"] = gtlib.MAP_SCALE
        shard.put("fixation_points", np.stack([np.arange(6), np.full(6, 10), np.full(6, 20)], 1).astype(np.int32))
    with write_shard(root / "i3d_flow" / f"{video}.h5", stage="i3d_flow", dataset="t", video=video, n_frames=6,
                     source_sha256="0", params={}, weights="random-init") as shard:
        shard.put("frame_index", np.asarray(windows, np.int32))
        feats = rng.random((len(windows), 1024, 5, 5, 5)).astype(np.float16)
        shard.create_frames("features", feats.shape, np.float16)[...] = feats


def test_training_on_a_damaged_feature_shard_is_one_line(tmp_path, capsys):
    root = tmp_path / "store" / "t"
    for video in ("001", "002"):
        _feature_shards(root, video)
    flip_chunk(root / "i3d_flow" / "002.h5", "features", 1)
    before = snapshot(tmp_path / "store")
    out = tmp_path / "train"
    assert main(["train", "--model", "lsts_flow", "--gt", str(root / "gt" / "001.h5"), str(root / "gt" / "002.h5"),
                 "--out-dir", str(out), "--device", "cpu",
                 "--settings-json", json.dumps({"epochs": 1, "batch_size": 4, "lr": 1e-3})]) == 2
    assert one_error_line(capsys).startswith(f"salprep: error: {root}/i3d_flow/002.h5: cannot read dataset "
                                             "'features' (a chunk fails its checksum")
    assert not out.exists()
    assert snapshot(tmp_path / "store") == before


@pytest.mark.parametrize("reader", ["train", "evaluate"])
def test_a_gt_shard_lacking_a_dataset_is_one_line(gt_store, tmp_path, capsys, reader):
    _, gt = gt_store
    train_dir = tmp_path / "train"
    assert main(["train", "--model", "center_bias", "--gt", str(gt / "001.h5"), "--out-dir", str(train_dir)]) == 0
    with h5py.File(gt / "601.h5", "a") as h5:
        del h5["fixation_points"]
    capsys.readouterr()
    out = tmp_path / f"out_{reader}"
    args = (["train", "--model", "center_bias", "--gt", str(gt / "601.h5"), "--out-dir", str(out)]
            if reader == "train" else
            ["evaluate", "--model", "center_bias", "--checkpoint", str(train_dir / "model.pt"),
             "--split", "val", str(gt / "601.h5"), "--out-dir", str(out)])
    assert main(args) == 2
    assert one_error_line(capsys) == (f"salprep: error: {gt}/601.h5: gt shard lacks datasets ['fixation_points']: "
                                      "rebuild it ('salprep verify' checks every shard)")
    assert not out.exists()


# --- attributes and values verify refuses -----------------------------------------------------

def test_verify_compares_source_sha256_with_the_source(gt_store, tmp_path, capsys):
    root, gt = gt_store
    flow = tmp_path / "store" / "tiny" / "flow_tvl1" / "001.h5"
    assert main(["flow", "--method", "tvl1", "--video", str(root / "video" / "001.AVI"), "--out", str(flow),
                 "--size", "16x16", "--out-size", "16x16", "--dataset-name", "tiny"]) == 0
    assert main(["verify", str(tmp_path / "store")]) == 0
    for path in (gt / "001.h5", flow):
        with h5py.File(path, "a") as h5:
            h5.attrs["source_sha256"] = "0" * 64
    capsys.readouterr()
    assert main(["verify", str(tmp_path / "store")]) == 1
    out = capsys.readouterr().out
    assert f"{gt}/001.h5: source_sha256 000000000000... does not match the annotations under {root}" in out
    assert f"{flow}: source_sha256 000000000000... does not match {root}/video/001.AVI now" in out
    assert f"{gt}/601.h5: ok" in out


def test_verify_compares_gt_sources_after_an_annotation_edit(gt_store, capsys):
    root, gt = gt_store
    png = root / "annotation" / "0601" / "fixation" / "0002.png"
    png.write_bytes(png.read_bytes())  # same bytes: same hash
    assert main(["verify", "--no-video-check", str(gt)]) == 0
    from PIL import Image

    img = np.asarray(Image.open(png)).copy()
    img[0, 0] = 255 - img[0, 0]
    Image.fromarray(img).save(png)
    capsys.readouterr()
    assert main(["verify", "--no-video-check", str(gt)]) == 1
    assert "601.h5: source_sha256" in capsys.readouterr().out


def test_verify_refuses_an_altered_video_attribute(gt_store, capsys):
    _, gt = gt_store
    with h5py.File(gt / "601.h5", "a") as h5:
        h5.attrs["video"] = "001"
    assert main(["verify", str(gt)]) == 1
    assert (f"{gt}/601.h5: attribute video='001' but the shard is stored as video '601'"
            in capsys.readouterr().out)


def test_verify_refuses_nan_in_a_flow_shard(tmp_path, capsys):
    path = tmp_path / "store" / "t" / "flow_spynet" / "001.h5"
    with write_shard(path, stage="flow_spynet", dataset="t", video="001", n_frames=4, source_sha256="0",
                     params={}) as shard:
        shard.put("frame_index", np.arange(3, dtype=np.int32))
        shard.create_frames("flow", (3, 2, 8, 8), np.float16)[...] = np.nan
    assert main(["verify", str(path)]) == 1
    assert f"{path}: dataset 'flow': 384 NaN/Inf value(s) (no stage writes them)" in capsys.readouterr().out


# --- temporaries of dead writers, and two writers of one shard ---------------------------------

def _hold(tmp: Path) -> subprocess.Popen:
    """A process that holds ``tmp`` the way a live writer does (flock), until killed."""
    code = ("import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT); "
            "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); time.sleep(600)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_writer_removes_the_temporaries_of_dead_writers(tiny_dhf1k, tmp_path):
    root, _ = tiny_dhf1k
    out = tmp_path / "gt" / "001.h5"
    out.parent.mkdir()
    dead = temp_name(out)
    dead.write_bytes(b"half a shard")  # nobody holds it: its writer died
    other = temp_name(tmp_path / "gt" / "601.h5")
    other.write_bytes(b"another shard's")
    assert main(["gt", "--root", str(root), "--video", "001", "--out", str(out)]) == 0
    assert not dead.exists() and out.is_file()
    assert other.exists()  # only its own shard's temporaries; verify --clean takes the rest


def test_a_second_writer_of_one_shard_fails_with_one_line(tiny_dhf1k, tmp_path, capsys):
    root, _ = tiny_dhf1k
    out = tmp_path / "gt" / "001.h5"
    assert main(["gt", "--root", str(root), "--video", "001", "--out", str(out)]) == 0
    before = out.read_bytes()
    live = temp_name(out)
    holder = _hold(live)
    try:
        capsys.readouterr()
        assert main(["gt", "--root", str(root), "--video", "001", "--out", str(out)]) == 2
        line = one_error_line(capsys)
        assert line == (f"salprep: error: {out}: another process is writing this file now (its temporary "
                        f"{live.name}); wait for it to finish or stop it, then run again")
        assert out.read_bytes() == before and live.exists()
        assert sorted(p.name for p in out.parent.iterdir()) == sorted(["001.h5", live.name])
        assert main(["verify", "--clean", str(out.parent)]) == 0
        assert live.exists()  # a live writer's temporary is kept
        assert "being written now by a live process (kept)" in capsys.readouterr().out
    finally:
        holder.kill()
        holder.wait()
    assert main(["verify", "--clean", str(out.parent)]) == 0  # its writer is dead now
    assert not live.exists()
    assert main(["gt", "--root", str(root), "--video", "001", "--out", str(out)]) == 0


#: a real shard writer that says when it holds its temporary, then waits for the test's word
#: (a line on stdin) before it finishes: the overlap of two writers is made, not timed
WRITER = """
import sys, numpy as np
from salprep.store import write_shard
from salprep.errors import SalprepError
out, name = sys.argv[1], sys.argv[2]
try:
    with write_shard(out, stage="gt", dataset="d", video="001", n_frames=4, source_sha256="0",
                     params={"writer": name}) as shard:
        shard.create_frames("maps", (4, 16, 16), np.uint16)[...] = 1
        shard.create_frames("fixations", (4, 16, 16), np.uint8)
        shard.put("fixation_points", np.zeros((1, 3), np.int32))
        print("writing", flush=True)  # past the start check, holding its temporary
        sys.stdin.readline()  # until the test says finish
except SalprepError as exc:
    print(exc.one_line(), flush=True)
    sys.exit(2)
print("done", flush=True)
"""


def _writer(out: Path, name: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", WRITER, str(out), name], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)


def _finish(proc: subprocess.Popen) -> tuple[int, str]:
    out, _ = proc.communicate("go\n", timeout=120)
    return proc.returncode, out.strip()


def test_a_second_writer_while_the_first_writes_fails_and_the_first_finishes(tmp_path):
    """Two real writers of one shard, the second started while the first holds its temporary
    (it said so on a pipe): the second fails at once with one line, the first completes."""
    out = tmp_path / "gt" / "001.h5"
    first = _writer(out, "a")
    try:
        assert first.stdout.readline().strip() == "writing"
        code, said = _finish(_writer(out, "b"))
        assert code == 2 and "another process is writing this file now" in said, said
        assert not out.exists()
        assert _finish(first) == (0, "done")
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert sorted(p.name for p in out.parent.iterdir()) == ["001.h5"]
    with h5py.File(out, "r") as h5:
        assert json.loads(h5.attrs["params"]) == {"writer": "a"}


def test_of_two_writers_that_passed_the_start_check_only_the_earlier_renames(tmp_path):
    """Two writers that start at the same instant both pass the start check; the check before
    the rename lets only the one whose temporary sorts first complete. Made certain here: the
    writer ``b`` is past its start check (it said so) when a live writer with an earlier-sorting
    temporary appears (a held flock, as a writer that started a moment earlier has)."""
    out = tmp_path / "gt" / "001.h5"
    earlier = temp_name(out)
    earlier = earlier.with_name(".001." + "0" * (len(earlier.name) - len(".001..tmp.h5")) + ".tmp.h5")  # sorts first
    late = _writer(out, "b")
    holder = None
    try:
        assert late.stdout.readline().strip() == "writing"
        holder = _hold(earlier)
        code, said = _finish(late)
        assert code == 2 and f"another process is writing this file now (its temporary {earlier.name})" in said, said
        assert not out.exists()
        assert sorted(p.name for p in out.parent.iterdir()) == [earlier.name]  # b removed its own
    finally:
        for proc in (late, holder):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()


def test_features_from_a_damaged_flow_shard_is_one_line(tmp_path, capsys):
    from salprep.checkpoints import mark_random_init
    from salprep.models.i3d.checkpoint import save_random_i3d
    from salprep.video import write_video

    rng = np.random.default_rng(0)
    video = tmp_path / "001.AVI"
    write_video(video, [(rng.random((32, 32, 3)) * 255).astype(np.uint8) for _ in range(10)])
    ckpt = tmp_path / "flow_imagenet.pt"
    save_random_i3d(ckpt, 3, "flow")
    mark_random_init(ckpt, seed=0)
    store = tmp_path / "store" / "d"
    flow = store / "flow_tvl1" / "001.h5"
    assert main(["flow", "--method", "tvl1", "--video", str(video), "--out", str(flow), "--size", "16x16",
                 "--out-size", "32x32", "--warps", "1", "--nscales", "1"]) == 0
    flip_chunk(flow, "flow", 4)
    before = snapshot(tmp_path / "store")
    out = store / "i3d_flow" / "001.h5"
    capsys.readouterr()
    assert main(["features", "--modality", "flow", "--flow", str(flow), "--checkpoint", str(ckpt), "--out", str(out),
                 "--window", "4", "--stride", "2", "--pool", "1x1x1", "--device", "cpu"]) == 2
    assert one_error_line(capsys).startswith(f"salprep: error: {flow}: cannot read dataset 'flow' (a chunk fails")
    assert not out.exists() and snapshot(tmp_path / "store") == before


def test_a_second_writer_of_a_results_folder_leaves_the_first_ones_folder(tmp_path):
    """Folders (evaluate's results) go through the same writer: the existing folder survives."""
    from salprep.atomic import atomic_output
    from salprep.errors import SalprepError

    dest = tmp_path / "results" / "center_bias"
    with atomic_output(dest, directory=True) as tmp:
        (tmp / "metrics.json").write_text("{}")
    live = temp_name(dest)
    live.mkdir()
    fd = os.open(live, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)  # another open file description: a live writer
    try:
        with pytest.raises(SalprepError, match="another process is writing this file now"):
            with atomic_output(dest, directory=True) as tmp:
                (tmp / "metrics.json").write_text('{"new": 1}')
    finally:
        os.close(fd)
    assert (dest / "metrics.json").read_text() == "{}"
    assert sorted(p.name for p in dest.parent.iterdir()) == sorted(["center_bias", live.name])
