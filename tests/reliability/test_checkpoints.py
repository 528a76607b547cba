"""Reliability battery: every checkpoint a salprep command reads, each broken five ways.

Checkpoints (through the command that reads them): I3D rgb / flow (``features``), monodepth2
encoder and decoder (``depth``), SpyNet (``flow --method spynet``), the torchvision VGG16 file
(``train --settings-json '{"vgg16": ...}'``), a decoder ``model.pt`` and a centre-bias
``model.pt`` (``evaluate``), and a training ``checkpoint.pt`` (``train --resume``).

Breakages: (a) random bytes, (b) the first half of a real file, (c) right keys but one tensor all
NaN, (d) the keys of another model, (e) a pickled ``nn.Module``. Each: exit 2, exactly one line
``salprep: error: <checkpoint>: <reason>`` on stderr, nothing at the output path and the output
folder byte-identical.

The real files are the seeded random-init ones in the original formats (legacy ``torch.save``),
made once per module at the smallest sizes the commands accept; ``model.pt`` and
``checkpoint.pt`` come from a one-epoch ``salprep train`` of a 1/16-width SalBCE.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from salprep.checkpoints import save_original
from salprep.cli import main
from faults import one_error_line, snapshot

from conftest import make_tiny_dhf1k

CASES = ("random_bytes", "truncated", "nan", "wrong_keys", "pickled_module")


SALBCE = {"epochs": 1, "width": 0.0625, "batch_size": 6}  # the smallest SalBCE the loop trains in a second


# ------------------------------------------------------------------ the real files, made once


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """Dataset, store shards and one real file of every checkpoint kind (module-wide, read only)."""
    from salprep.flow.spynet import save_random_spynet
    from salprep.models.i3d import save_random_i3d
    from salprep.models.monodepth import save_random_monodepth2
    from salprep.models.salbce import ENCODER_CFG, N_RGB, make_layers

    base = tmp_path_factory.mktemp("ckpt_env")
    root = base / "tiny"
    make_tiny_dhf1k(root, videos=(1,))
    video = root / "video" / "001.AVI"
    store = base / "store" / "dhf1k"
    gt = store / "gt" / "001.h5"
    assert main(["gt", "--root", str(root), "--video", "001", "--out", str(gt)]) == 0
    assert main(["frames", "--video", str(video), "--out", str(store / "frames" / "001.h5"), "--size", "64x48",
                 "--dataset-name", "dhf1k", "--video-id", "001"]) == 0
    assert main(["flow", "--method", "tvl1", "--video", str(video), "--out", str(store / "flow_tvl1" / "001.h5"),
                 "--size", "16x16", "--out-size", "32x32", "--backend", "opencv"]) == 0

    ck = base / "checkpoints"
    files = {
        "i3d_rgb": ck / "rgb_imagenet.pt",
        "i3d_flow": ck / "flow_imagenet.pt",
        "md_encoder": ck / "mono_96x64" / "encoder.pth",
        "md_decoder": ck / "mono_96x64" / "depth.pth",
        "spynet": ck / "network-sintel-final.pytorch",
        "vgg16": ck / "vgg16-397923af.pth",
        "decoder_model": base / "train" / "model.pt",
        "center_bias_model": base / "center_bias" / "model.pt",
        "resume": base / "train" / "checkpoint.pt",
    }
    save_random_i3d(files["i3d_rgb"], 1, "rgb")
    save_random_i3d(files["i3d_flow"], 2, "flow")
    save_random_monodepth2(files["md_encoder"], files["md_decoder"], 3, height=64, width=96)
    save_random_spynet(files["spynet"], 4)
    torch.manual_seed(5)
    vgg = torch.nn.Module()  # torchvision vgg16's features.* (its classifier.* is optional)
    vgg.features, _ = make_layers(ENCODER_CFG, N_RGB, 1.0)
    save_original(vgg.state_dict(), files["vgg16"])
    assert main(["train", "--model", "salbce_rgb", "--gt", str(gt), "--out-dir", str(files["decoder_model"].parent),
                 "--device", "cpu", "--settings-json", json.dumps(SALBCE)]) == 0
    assert main(["train", "--model", "center_bias", "--gt", str(gt),
                 "--out-dir", str(files["center_bias_model"].parent)]) == 0
    assert all(p.is_file() for p in files.values())
    return {"root": root, "video": video, "store": store, "gt": gt, "files": files}


# ------------------------------------------------------------------ the commands that read them


def _stage(stage: str, args: list[str]):
    """A store-writing command: its output shard, the store folder as the output folder."""

    def command(env, ckpt: Path, tmp: Path):
        folder = tmp / "store"
        out = folder / "dhf1k" / stage / "001.h5"
        argv = [a.format(video=env["video"], ckpt=ckpt, flow=env["store"] / "flow_tvl1" / "001.h5",
                         enc=env["files"]["md_encoder"], dec=env["files"]["md_decoder"]) for a in args]
        return [*argv, "--out", str(out), "--dataset-name", "dhf1k", "--device", "cpu"], out, folder

    return command


def _depth(which: str):
    def command(env, ckpt: Path, tmp: Path):
        folder = tmp / "store"
        out = folder / "dhf1k" / "depth" / "001.h5"
        pair = {"encoder": env["files"]["md_encoder"], "decoder": env["files"]["md_decoder"], which: ckpt}
        return (["depth", "--video", str(env["video"]), "--encoder", str(pair["encoder"]),
                 "--decoder", str(pair["decoder"]), "--every", "3", "--out", str(out), "--dataset-name", "dhf1k",
                 "--device", "cpu"], out, folder)

    return command


def _train_vgg16(env, ckpt: Path, tmp: Path):
    folder = tmp / "train"
    settings = {"epochs": 1, "batch_size": 6, "vgg16": str(ckpt)}
    return (["train", "--model", "salbce_rgb", "--gt", str(env["gt"]), "--out-dir", str(folder), "--device", "cpu",
             "--settings-json", json.dumps(settings)], folder / "model.pt", folder)


def _train_resume(env, ckpt: Path, tmp: Path):
    folder = ckpt.parent  # resuming from <out-dir>/checkpoint.pt: the snapshot covers the file itself
    return (["train", "--model", "salbce_rgb", "--gt", str(env["gt"]), "--out-dir", str(folder), "--device", "cpu",
             "--settings-json", json.dumps({**SALBCE, "epochs": 2}), "--resume", str(ckpt)],
            folder / "model.pt", folder)


def _evaluate(model: str):
    def command(env, ckpt: Path, tmp: Path):
        folder = tmp / "results"
        out = folder / model
        return (["evaluate", "--model", model, "--checkpoint", str(ckpt), "--split", "val", str(env["gt"]),
                 "--out-dir", str(out), "--workers", "1", "--scheduler", "sync", "--overlays", "0",
                 "--device", "cpu"], out, folder)

    return command


# kind -> (command, where the bad file goes (relative to tmp_path), the other model's file for (d),
#          what (d) must say)
KINDS = {
    "i3d_rgb": (_stage("i3d_rgb", ["features", "--modality", "rgb", "--video", "{video}", "--checkpoint", "{ckpt}",
                                   "--window", "6", "--size", "32x32", "--pool", "1x1x1"]),
                "ckpt/rgb_imagenet.pt", "spynet",
                "not a I3D rgb checkpoint (60 tensors): missing keys [Conv3d_1a_7x7.conv3d.weight, "),
    "i3d_flow": (_stage("i3d_flow", ["features", "--modality", "flow", "--flow", "{flow}", "--checkpoint", "{ckpt}",
                                     "--window", "6", "--pool", "1x1x1"]),
                 "ckpt/flow_imagenet.pt", "md_decoder",
                 "not a I3D flow checkpoint (28 tensors): missing keys [Conv3d_1a_7x7.conv3d.weight, "),
    "md_encoder": (_depth("encoder"), "ckpt/encoder.pth", "spynet",
                   "not a monodepth2 encoder checkpoint (60 tensors): missing keys [encoder.conv1.weight, "),
    "md_decoder": (_depth("decoder"), "ckpt/depth.pth", "spynet",
                   "not a monodepth2 depth decoder checkpoint (60 tensors): missing keys [decoder.0.conv.conv.weight"),
    "spynet": (_stage("flow_spynet", ["flow", "--method", "spynet", "--video", "{video}", "--checkpoint", "{ckpt}",
                                      "--size", "32x32", "--every", "3"]),
               "ckpt/network-sintel-final.pytorch", "md_decoder",
               "not a SpyNet checkpoint (28 tensors): missing keys [netBasic.0.netBasic.0.weight, "),
    "vgg16": (_train_vgg16, "ckpt/vgg16-397923af.pth", "spynet",
              "not a VGG16 checkpoint (60 tensors): missing keys [features.0.weight, "),
    "decoder_model": (_evaluate("salbce_rgb"), "train/model.pt", "spynet",
                      "not a salprep model.pt (no model / state_dict entries"),
    "center_bias_model": (_evaluate("center_bias"), "train/model.pt", "decoder_model",
                          "not a center_bias model.pt (model 'salbce_rgb')"),
    "resume": (_train_resume, "train/checkpoint.pt", "spynet",
               "not a salprep training checkpoint (no model / state_dict entries)"),
}


def _with_nan(state):
    """The same checkpoint with its first used floating-point tensor all NaN (nested: in its
    state_dict; not I3D's ``logits.*`` or monodepth2's ``encoder.fc.*``, which no command uses)."""
    tensors = state["state_dict"] if "state_dict" in state else state
    key = next(k for k, v in tensors.items() if isinstance(v, torch.Tensor) and v.is_floating_point()
               and not k.startswith(("logits.", "encoder.fc.")))
    tensors[key] = torch.full_like(tensors[key], float("nan"))
    return state


def make_bad(kind: str, case: str, env, path: Path) -> None:
    real = env["files"][kind]
    path.parent.mkdir(parents=True, exist_ok=True)
    if case == "random_bytes":
        path.write_bytes(np.random.default_rng(sorted(KINDS).index(kind)).bytes(4096))
    elif case == "truncated":
        data = real.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif case == "nan":
        state = _with_nan(torch.load(real, map_location="cpu", weights_only=True))
        legacy = not real.read_bytes()[:2] == b"PK"  # the original releases are legacy torch.save files
        torch.save(state, path, _use_new_zipfile_serialization=not legacy)
    elif case == "wrong_keys":
        shutil.copyfile(env["files"][KINDS[kind][2]], path)
    elif case == "pickled_module":
        torch.save(torch.nn.Conv2d(3, 4, 3), path)  # torch.save(model) instead of model.state_dict()
    else:  # pragma: no cover
        raise AssertionError(case)


def expected_reason(kind: str, case: str) -> str:
    return {
        "random_bytes": "not a PyTorch checkpoint, or a truncated or corrupt one (UnpicklingError: Unsupported "
                        "operand ",
        "truncated": "not a PyTorch checkpoint, or a truncated or corrupt one (",
        "nan": "holds NaN/Inf",
        "wrong_keys": KINDS[kind][3],
        "pickled_module": "objects other than tensors (torch.nn.modules.conv.Conv2d: a pickled model? save its "
                          "state_dict() instead)",
    }[case]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("kind", list(KINDS))
def test_a_broken_checkpoint_is_one_line_and_writes_nothing(env, tmp_path, capsys, kind, case):
    command, where, _, _ = KINDS[kind]
    ckpt = tmp_path / where
    make_bad(kind, case, env, ckpt)
    argv, out, folder = command(env, ckpt, tmp_path)
    (folder / "other").mkdir(parents=True, exist_ok=True)
    (folder / "other" / "kept.bin").write_bytes(b"an earlier result\n")  # must stay as it is
    before = snapshot(folder)
    store_before = snapshot(env["store"].parent)
    capsys.readouterr()

    assert main(argv) == 2
    line = one_error_line(capsys)
    assert line.startswith(f"salprep: error: {ckpt}: "), line
    reason = line[len(f"salprep: error: {ckpt}: "):]
    assert expected_reason(kind, case) in reason, line
    assert "Traceback" not in reason and "weights_only" not in reason and len(line) < 800, line
    if case in ("random_bytes", "truncated"):
        assert "pickled" not in reason, line
    assert not out.exists(), out
    assert snapshot(folder) == before  # nothing written, nothing touched, no temporary left
    assert snapshot(env["store"].parent) == store_before  # the inputs too


def test_the_real_files_are_accepted(env, tmp_path, capsys):
    """The control: the same commands with the unbroken files succeed (else the battery proves nothing)."""
    for kind in ("spynet", "decoder_model", "center_bias_model"):
        command = KINDS[kind][0]
        argv, out, _ = command(env, env["files"][kind], tmp_path / kind)
        assert main(argv) == 0, (kind, capsys.readouterr().err)
        assert out.exists()


# ------------------------------------------------------------------ model.pt / checkpoint.pt specifics


def _edit_decoder_model(state):
    state["settings"] = {**state["settings"], "width": 0.125}  # a network twice as wide as the weights
    return state


def _edit_resume_optimizer(state):
    moments = state["optimizer"]["state"]
    first = next(iter(moments))
    moments[first]["exp_avg"] = torch.full_like(moments[first]["exp_avg"], float("nan"))
    return state


@pytest.mark.parametrize("kind,source,edit,reason", [
    ("decoder_model", "decoder_model", lambda s: {**s, "model": "lsts_rgbx"},
     "model.pt is of model 'lsts_rgbx', not a registered decoder"),
    ("decoder_model", "decoder_model", _edit_decoder_model,
     "not a salbce_rgb model.pt checkpoint (184 tensors): wrong shapes [features.0.weight (4, 3, 3, 3) (expected (8, "),
    ("resume", "decoder_model", None,
     "not a training checkpoint: no epoch / optimizer / scheduler / history entries (a model.pt? resume from the "
     "checkpoint.pt written beside it)"),
    ("resume", "resume", _edit_resume_optimizer, "unusable salbce_rgb training checkpoint: optimizer: [0.exp_avg holds "
     "NaN/Inf]"),
], ids=["unknown-model", "settings-do-not-fit", "resume-from-model.pt", "nan-optimizer-state"])
def test_salprep_written_checkpoints_are_checked_entry_by_entry(env, tmp_path, capsys, kind, source, edit, reason):
    command, where, _, _ = KINDS[kind]
    ckpt = tmp_path / where
    ckpt.parent.mkdir(parents=True)
    state = torch.load(env["files"][source], map_location="cpu", weights_only=True)
    torch.save(edit(state) if edit else state, ckpt)
    argv, out, folder = command(env, ckpt, tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    before = snapshot(folder)
    capsys.readouterr()
    assert main(argv) == 2
    line = one_error_line(capsys)
    assert line.startswith(f"salprep: error: {ckpt}: {reason}"), line
    assert not out.exists() and snapshot(folder) == before
