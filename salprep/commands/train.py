"""``salprep train``: fit a registered model on the training split's shards."""

from __future__ import annotations

import json
from pathlib import Path

from salprep.atomic import atomic_output
from salprep.errors import SalprepError
from salprep.provenance import parse_config_json, shard_record


def register_parser(sub) -> None:
    from salprep.models.registry import MODELS

    p = sub.add_parser(
        "train",
        help="train a model from store shards",
        description="Train MODEL on the training split, reading shards only. center_bias: the mean "
        "continuous GT map over every training frame. lsts_*: the LSTS decoder on the "
        "pooled I3D features of the videos' i3d_* shards; salbce_*: SalBCE on their frames shards (plus "
        "depth or flow_spynet); both against the GT maps, with the one training "
        "loop (checkpoint.pt after every epoch, --resume), with loss.png and train.json. Both write "
        "--out-dir/model.pt. Recipes (epochs, lr, ...) are the registry's (salprep.models.registry); "
        "--settings-json overrides keys.",
    )
    p.add_argument("--model", required=True, choices=sorted(MODELS))
    p.add_argument("--gt", nargs="+", required=True, metavar="SHARD",
                   help="training GT shards store/<ds>/gt/<v>.h5; a model's input shards are read from the same "
                   "store: store/<ds>/<stage>/<v>.h5")
    p.add_argument("--val-gt", nargs="*", default=None, metavar="SHARD",
                   help="validation GT shards (inputs found beside them as for --gt): their mean loss after each "
                   "epoch is recorded and drives SalBCE's ReduceLROnPlateau (the thesis); without them (none given, "
                   "or the option with no shard) the training loss does")
    p.add_argument("--out-dir", required=True, help="training folder (results/.train/<model>)")
    p.add_argument("--settings-json", default=None, help="overrides of the model's recipe (JSON object)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--amp", action="store_true", help="autocast the forward (float16 on CUDA, bfloat16 on CPU)")
    p.add_argument("--resume", default=None, help="a checkpoint.pt of the same model to continue from")
    p.add_argument("--config-json", default=None, help="effective workflow config, for provenance")
    p.set_defaults(func=run, outputs=[("out_dir", True)])


def _settings(spec, text: str | None) -> dict:
    try:
        overrides = json.loads(text) if text else {}
    except ValueError as exc:
        raise SalprepError(f"--settings-json is not valid JSON ({exc})") from None
    if not isinstance(overrides, dict):
        raise SalprepError("--settings-json must be a JSON object")
    return spec.settings(overrides)


def _train_prior(args, spec, out: Path, gt: list[str]) -> None:
    from salprep.baselines import center_bias_prior
    from salprep.models.artifacts import write_prior

    prior = center_bias_prior(gt)
    meta = {"model": spec.name, "weights": "none", "train_shards": [shard_record(p) for p in gt],
            "config": parse_config_json(args.config_json)}
    path = write_prior(out, prior, meta)
    print(f"{path}: centre-bias prior = mean GT map of {len(gt)} videos, {prior.shape[1]}x{prior.shape[0]}")


def _train_decoder(args, spec, out: Path) -> None:
    from salprep.device import resolve_device
    from salprep.models.artifacts import write_model
    from salprep.report import loss_curve
    from salprep.store import read_attrs
    from salprep.train import FrameFeatures, epoch_order, fit, video_shards

    settings = _settings(spec, args.settings_json)
    videos = video_shards(args.gt, spec.inputs)
    dataset = FrameFeatures(videos, spec.inputs, spec.target_size)
    val = FrameFeatures(video_shards(args.val_gt, spec.inputs), spec.inputs, spec.target_size) if args.val_gt else None
    model, history, epochs = fit(spec, settings, dataset, out, device=resolve_device(args.device), amp=args.amp,
                                 resume=args.resume, val_dataset=val)
    inputs = sorted({str(p) for v in videos for p in v.inputs.values()})
    # the extractors behind the inputs ("none" for frames: no network)
    feature_weights = sorted({read_attrs(p)["weights"] for p in inputs} - {"none"}) or ["none"]
    record = {"model": spec.name, "settings": settings, "inputs": list(spec.inputs),
              "train_videos": [v.video for v in videos], "n_train_frames": len(dataset),
              "features_weights": feature_weights, "final_loss": history[-1] if history else None,
              "val_videos": [v.video for v in val.videos] if val else [], "epochs": epochs,
              "plateau_on": ("val" if val else "train") if spec.val_loss else None,
              "train_shards": [shard_record(p) for p in inputs + [str(v.gt) for v in videos]],
              "config": parse_config_json(args.config_json)}
    path = write_model(out, spec, model, settings, feature_weights)
    with atomic_output(out / "train.json") as tmp:
        tmp.write_text(json.dumps({**record, "history": history}, indent=2, sort_keys=True) + "\n")
    per_epoch = len(history) // max(1, int(settings["epochs"]))
    per_epoch_frames = len(epoch_order(dataset, 0, settings["seed"], settings.get("frames_per_video", 0)))
    loss_curve(history, out / "loss.png", per_epoch=per_epoch, epochs=epochs,
               title=f"{spec.name}: {per_epoch_frames} of {len(dataset)} frames per epoch, {settings['epochs']} epochs")
    print(f"{path}: {spec.name} trained on {len(dataset)} frames of {len(videos)} videos, "
          f"{len(history)} iterations, final loss {history[-1]:.5g}")


def run(args) -> int:
    from salprep.models.registry import get_model

    spec = get_model(args.model)
    out = Path(args.out_dir)
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    try:
        if spec.trained:
            _train_decoder(args, spec, out)
        else:
            _train_prior(args, spec, out, args.gt)
    except BaseException:
        if created and not any(out.iterdir()):  # failed before writing anything: leave no trace
            out.rmdir()
        raise
    return 0
