"""The one training loop every decoder uses (:func:`fit`).

Seeded and deterministic on the CPU (the same seed and data give the same weights); tqdm
progress; a checkpoint after every epoch (``checkpoint.pt``, written atomically) from which
``resume`` continues; a NaN/Inf loss stops training with a one-line error and keeps the last good
checkpoint; optional autocast (``amp``; float16 on CUDA with a GradScaler); per-epoch training
and validation losses (SalBCE's plateau schedule watches the validation loss).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import torch

from salprep.errors import SalprepError
from salprep.models.artifacts import CHECKPOINT, read_training_checkpoint, write_training_checkpoint
from salprep.progress import progress
from salprep.train.augment import Augmented


def make_optimizer(spec, model, settings: dict):
    """(optimiser, schedule, when the schedule steps: "iteration" or "epoch"): the registry's
    factory for ``spec`` (LSTS: RMSProp / Adam, lr halved every ``lr_halving_iterations``;
    SalBCE: Adam / SGD, ReduceLROnPlateau on each epoch's validation loss)."""
    return spec.optimizer(model, settings)


def loss_fn(spec, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``spec``'s loss (the registry's): pred, target (B, 1, H, W) in [0, 1], computed in float32."""
    return spec.loss(pred.float(), target)


#: training items read to estimate the input statistics and the mean target
STATS_ITEMS = 256


def _stats_items(dataset, seed: int) -> list[int]:
    """Up to STATS_ITEMS items, one per distinct input first (seeded)."""
    firsts: dict = {}
    for i in range(len(dataset)):
        firsts.setdefault(dataset.input_key(i), i)
    items = list(firsts.values())
    if len(items) > STATS_ITEMS:
        rng = torch.Generator().manual_seed(seed)
        items = [items[int(k)] for k in torch.randperm(len(items), generator=rng)[:STATS_ITEMS]]
    return items


def prepare_model(model, dataset, settings: dict) -> dict:
    """Data-dependent initialisation before the first epoch (not on resume); returns what was set.

    ``standardize``: per-channel mean and std of the training inputs (over distinct inputs and
    every position) become the model's input normalisation (:meth:`set_input_norm`); channels
    constant in training (std <= 1e-3 x the median std, e.g. dead ReLUs) keep std 1.
    ``prior_bias``: the output bias starts at logit(mean training target), so the untrained
    map already has the GT's mean level and the first iterations learn where, not how much.
    """
    done = {}
    if not (settings.get("standardize") or settings.get("prior_bias")):
        return done
    items = _stats_items(dataset, int(settings["seed"]))
    if settings.get("standardize"):
        x = torch.stack([dataset.inputs(i) for i in items]).double()  # (N, C, ...)
        dims = [0, *range(2, x.ndim)]
        mean, std = x.mean(dim=dims), x.std(dim=dims)
        # a channel (nearly) constant over the training inputs is centred but not scaled: dividing
        # by its tiny std would turn any other value of it into a huge input
        constant = std <= 1e-3 * float(std.median().clamp_min(1e-12))
        std = torch.where(constant, torch.ones_like(std), std)
        model.set_input_norm(mean.float(), std.float())
        done["standardize"] = {"items": len(items), "mean": float(mean.mean()), "std": float(std.mean()),
                               "constant_channels": int(constant.sum())}
    if settings.get("prior_bias"):
        p = float(torch.stack([dataset.target(i) for i in items]).double().mean())
        p = min(max(p, 1e-4), 1 - 1e-4)
        model.init_output_bias(p)
        done["prior_bias"] = p
    return done


def _augmented(items, settings: dict, seed: int, epoch: int, flow: int | None):
    """The epoch's items with the recipe's augmentation (``augment``: thesis | none)."""
    kind = settings.get("augment", "none")
    if kind == "none":
        return items
    if kind != "thesis":
        raise SalprepError(f"augment must be thesis or none, got {kind!r}")
    return Augmented(items, seed=seed, epoch=epoch, rotate=settings["rotate"], flow=flow)


def mean_loss(spec, model, dataset, items: list[int], batch_size: int, device, amp_dtype, amp: bool) -> float:
    """Mean loss of ``model`` (eval mode, no gradients) over ``dataset[items]``, weighted by item."""
    loader = torch.utils.data.DataLoader(torch.utils.data.Subset(dataset, items), batch_size=batch_size)
    total, n = 0.0, 0
    model.eval()
    with torch.no_grad():
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            with torch.autocast(device.type, dtype=amp_dtype, enabled=amp):
                pred = model(x)
            total += float(loss_fn(spec, pred, y)) * len(x)
            n += len(x)
    return total / max(1, n)


def _restore(state: dict, path, spec, model, opt, sched) -> None:
    """Model, optimiser and schedule state of a resume checkpoint, each checked (one line naming it)."""
    from salprep.checkpoints import CheckpointSpec, load_checkpoint, require_finite

    device = next(model.parameters()).device
    load_checkpoint(model, state["state_dict"], CheckpointSpec(name=f"{spec.name} training"), source=path)
    model.to(device)
    require_finite(state["optimizer"].get("state", {}), f"{spec.name} training checkpoint: optimizer", path)
    for name, target in (("optimizer", opt), ("scheduler", sched)):
        try:
            target.load_state_dict(state[name])
        except (ValueError, KeyError, TypeError, IndexError, AttributeError, RuntimeError) as exc:
            reason = " ".join(str(exc).split())[:160]
            raise SalprepError(f"training checkpoint {name} state does not fit {spec.name} with these "
                               f"settings ({type(exc).__name__}: {reason})", path) from None


def fit(spec, settings: dict, dataset, out_dir: str | os.PathLike, *, device="cpu", amp: bool = False,
        resume: str | os.PathLike | None = None, val_dataset=None) -> tuple[torch.nn.Module, list[float], list[dict]]:
    """Train ``spec``'s model on ``dataset`` for ``settings["epochs"]`` epochs.

    Args:
        spec: a :class:`~salprep.models.registry.ModelSpec`; settings: its recipe with overrides.
        dataset: items (input, target (1, H, W) in [0, 1]).
        out_dir: receives ``checkpoint.pt`` after every epoch.
        device: torch device; amp: autocast (bfloat16 on CPU, float16 on CUDA with loss scaling,
            :class:`torch.amp.GradScaler`) for the forward.
        resume: a ``checkpoint.pt`` of the same model to continue from.
        val_dataset: validation items; after each epoch their mean loss (the same frames every
            epoch: ``frames_per_video`` of them per video, seeded) is recorded and drives
            SalBCE's ReduceLROnPlateau. None: the epoch's mean training loss drives it.

    Returns:
        (the trained model in eval mode, the loss of every iteration, one record per epoch:
        ``{"epoch", "train_loss", "val_loss" (None without a validation set), "lr"}``).
    """
    from salprep.train.data import epoch_order  # the shard reader (h5py): only the loop needs it

    device = torch.device(device)
    seed = int(settings["seed"])
    torch.manual_seed(seed)
    model = spec.build(settings)
    if resume is None:
        prepare_model(model, dataset, settings)
    model = model.to(device)
    opt, sched, step_every = make_optimizer(spec, model, settings)
    history: list[float] = []
    epochs: list[dict] = []
    start = 0
    if resume is not None:
        state = read_training_checkpoint(resume, spec.name)
        _restore(state, resume, spec, model, opt, sched)
        history, start = list(state["history"]), int(state["epoch"])
        epochs = list(state.get("epochs", []))
    out = Path(out_dir)
    amp_dtype = torch.float16 if device.type == "cuda" else torch.bfloat16
    # float16 gradients underflow without loss scaling (bfloat16 has float32's range: no scaler)
    scaler = torch.amp.GradScaler(device.type, enabled=amp and amp_dtype == torch.float16)
    if resume is not None and state.get("scaler"):
        scaler.load_state_dict(state["scaler"])
    val_items = (epoch_order(val_dataset, 0, seed, int(settings.get("frames_per_video", 0)))
                 if val_dataset is not None else None)
    for epoch in range(start, int(settings["epochs"])):
        torch.manual_seed(seed * 1000 + epoch)  # dropout etc., the same on a resumed run
        order = epoch_order(dataset, epoch, seed, int(settings.get("frames_per_video", 0)))
        items = torch.utils.data.Subset(dataset, order)
        items = _augmented(items, settings, seed, epoch, dataset.flow_channel())
        loader = torch.utils.data.DataLoader(items, batch_size=int(settings["batch_size"]), shuffle=False)
        model.train()
        with progress(loader, desc=f"{spec.name} epoch {epoch + 1}/{settings['epochs']}", unit="batch",
                      leave=False) as bar:
            for i, (x, y) in enumerate(bar):
                x, y = x.to(device), y.to(device)
                with torch.autocast(device.type, dtype=amp_dtype, enabled=amp):
                    pred = model(x)
                loss = loss_fn(spec, pred, y)
                value = float(loss.detach())
                if not math.isfinite(value):
                    last = out / CHECKPOINT
                    kept = f"the last good checkpoint is {last}" if last.exists() else "no checkpoint was written"
                    raise SalprepError(f"loss became {value} at epoch {epoch + 1}, batch {i + 1}; {kept} "
                                       "(lower the learning rate?)", out)
                opt.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
                if step_every == "iteration":
                    sched.step()
                history.append(value)
                bar.set_postfix(loss=f"{value:.4g}")
        train_loss = sum(history[-len(loader):]) / max(1, len(loader))
        val_loss = None
        if val_items is not None:
            val_loss = mean_loss(spec, model, val_dataset, val_items, int(settings["batch_size"]), device,
                                 amp_dtype, amp)
        if step_every == "epoch":
            sched.step(train_loss if val_loss is None else val_loss)
        epochs.append({"epoch": epoch + 1, "train_loss": train_loss, "val_loss": val_loss,
                       "lr": opt.param_groups[0]["lr"]})
        write_training_checkpoint(out, {"model": spec.name, "epoch": epoch + 1, "state_dict": model.state_dict(),
                                        "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                                        "history": history, "epochs": epochs, "settings": settings,
                                        "scaler": scaler.state_dict()})
    return model.eval(), history, epochs
