"""A run's recipe against the papers' (``results/recipe.json``, ``salprep recipe``).

A *recipe key* is a setting a stored shard or a trained model depends on: a stage's sizes,
windows, bounds, TV-L1 parameters, autocast dtype; a model's optimiser, schedule, batch size,
options. Run options -- where and how fast a job runs (a stage's ``device`` and ``batch_size``,
training's device, evaluation's workers and scheduler) -- are not recipe keys.

The papers' values are stated once each: a stage's in its ``build_*`` signature (with
``RECIPE_SOURCE`` beside it), a model's in its registry recipe (:attr:`ModelSpec.source`), the
GT's in :data:`salprep.gt.GT_PRESETS` (:data:`salprep.gt.GT_SOURCES`). This module only compares.

Workflow config (:func:`run_overrides`): a dataset entry may state its own deviations
(``datasets.<name>.stages`` / ``.models``, e.g. the demo's small CPU sizes); the run's top-level
``stages`` / ``models`` apply over them. Any dataset without its own entries gets the papers'
recipes. Imports neither torch nor PyAV: the ``recipe`` rule stays cheap.

The workflow config itself is checked at plan time by :mod:`salprep.config_check`.
"""

from __future__ import annotations

import importlib
import json

from salprep.errors import SalprepError

#: store stage -> (module, ``build_*`` function): the signature holds the paper's values
STAGE_BUILDERS = {
    "flow_tvl1": ("salprep.stages.flow_tvl1", "build_flow_tvl1"),
    "flow_spynet": ("salprep.stages.flow_spynet", "build_flow_spynet"),
    "depth": ("salprep.stages.depth", "build_depth"),
    "i3d_rgb": ("salprep.stages.i3d", "build_i3d_features"),
    "i3d_flow": ("salprep.stages.i3d", "build_i3d_features"),
    "frames": ("salprep.stages.frames", "build_frames"),
}
#: stage settings that say how a job runs, not what it stores (never recipe keys, never params)
RUN_KEYS = ("device", "batch_size")
#: ``build_*`` keywords that are not settings (names, and what the rule passes itself)
_NOT_SETTINGS = {"dataset_name", "video_id", "modality", *RUN_KEYS}
#: per stage, ``build_*`` keywords the workflow does not set (i3d_flow's input size is the
#: flow_tvl1 shard's out_size)
_NOT_CONFIGURABLE = {"i3d_flow": {"size"}}
#: stages whose shards are computed from another stage's (i3d_flow reads the TV-L1 shards)
STAGE_INPUTS = {"i3d_flow": ("flow_tvl1",)}
#: workflow key -> ``build_*`` keyword where the names differ
_CONFIG_NAMES = {"flow_tvl1": {"params": "tvl1"}}


def _dataset_entry(config: dict) -> tuple[str, dict]:
    name = config.get("dataset")
    datasets = config.get("datasets") or {}
    if name not in datasets:
        raise SalprepError(f"config: dataset {name!r} is not among datasets {sorted(datasets)}")
    return name, datasets[name] or {}


def merge(base: dict, top: dict) -> dict:
    """``top`` merged over ``base`` key by key (nested mappings merged, other values replaced)."""
    out = dict(base)
    for key, value in (top or {}).items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def run_overrides(config: dict) -> dict:
    """What a workflow config changes of the papers' recipes, for its configured dataset.

    Returns ``{"dataset", "layout", "gt": {...}, "stages": {stage: {...}}, "models": {model: {...}}}``:
    ``datasets.<name>.stages|models`` with the top-level ``stages|models`` merged over them key
    by key (run options included: :func:`stage_options` and the rules split them off);
    ``checkpoints.salgan`` is the ``init`` of each SalBCE model that names none.
    """
    name, entry = _dataset_entry(config)
    models = merge(entry.get("models") or {}, config.get("models") or {})
    salgan = (config.get("checkpoints") or {}).get("salgan")
    if salgan:
        models = merge(_paper_inits(salgan), models)
    return {
        "dataset": name,
        "layout": entry.get("layout", "dhf1k"),
        "gt": dict(entry.get("gt") or {}),
        "stages": merge(entry.get("stages") or {}, config.get("stages") or {}),
        "models": models,
    }


def _paper_inits(salgan: str) -> dict:
    """``checkpoints.salgan`` (an original SalGAN generator file) as the ``init`` of every model
    whose paper started from it (:attr:`ModelSpec.paper_init`); ``models.<name>.init`` wins."""
    from salprep.models.registry import MODELS

    return {name: {"init": salgan} for name, spec in MODELS.items() if spec.paper_init}


def _builder(stage: str):
    if stage not in STAGE_BUILDERS:
        raise SalprepError(f"unknown store stage {stage!r}; known: {sorted(STAGE_BUILDERS)} and gt")
    module_name, func = STAGE_BUILDERS[stage]
    module = importlib.import_module(module_name)
    return module, getattr(module, func)


def stage_paper(stage: str) -> tuple[dict, str]:
    """(the paper's settings of ``stage`` under the workflow's key names, its source)."""
    from salprep.stages.runner import defaults

    module, build = _builder(stage)
    names = {v: k for k, v in _CONFIG_NAMES.get(stage, {}).items()}
    skip = _NOT_SETTINGS | _NOT_CONFIGURABLE.get(stage, set())
    paper = {names.get(k, k): v for k, v in defaults(build).items() if k not in skip}
    if stage == "flow_tvl1":  # None in the signature = OpenCV's defaults
        from salprep.flow.tvl1_params import DEFAULT_PARAMS
        from salprep.stages.flow_tvl1 import TVL1_PARAMS

        paper["params"] = {k: DEFAULT_PARAMS[k] for k in TVL1_PARAMS}
    return paper, module.RECIPE_SOURCE


def _deviations(settings: dict, paper: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in settings.items():
        if isinstance(value, dict) and isinstance(paper.get(key), dict):
            out.update(_deviations(value, paper[key], f"{prefix}{key}."))
        elif key not in paper or value != paper[key]:
            out[f"{prefix}{key}"] = {"value": value, "paper": paper.get(key)}
    return out


def _entry(settings: dict, paper: dict, source: str) -> dict:
    return {"settings": settings, "deviations": _deviations(settings, paper), "source": source}


def stage_entry(stage: str, overrides: dict | None) -> dict:
    """``{"settings", "deviations", "source"}`` of a store stage under ``overrides`` (its workflow
    section; run options are dropped). Unknown keys are refused."""
    paper, source = stage_paper(stage)
    given = {k: v for k, v in (overrides or {}).items() if k not in RUN_KEYS}
    unknown = sorted(set(given) - set(paper))
    if unknown:
        raise SalprepError(f"stages.{stage}: unknown settings {unknown} (known: {sorted(paper)} and {list(RUN_KEYS)})")
    return _entry(merge(paper, given), paper, source)


def gt_entry(layout: str, overrides: dict | None) -> dict:
    """The GT maps' entry: the layout's preset (or ``overrides["preset"]``) with the dataset's
    ``gt:`` overrides, against that preset."""
    from salprep.datasets import adapter_class
    from salprep.gt import GT_PRESETS, GT_SOURCES
    from salprep.stages.gt import gt_recipe

    overrides = dict(overrides or {})
    preset = overrides.pop("preset", None) or adapter_class(layout).gt_preset
    settings = gt_recipe(preset, overrides)
    settings.pop("preset")
    return _entry(settings, dict(GT_PRESETS[preset]), f"preset {preset}: {GT_SOURCES[preset]}")


def model_entry(model: str, overrides: dict | None) -> dict:
    """A registered model's entry: its registry recipe with ``overrides`` (unknown keys refused)."""
    from salprep.models.registry import WEIGHT_KEYS, get_model

    spec = get_model(model)
    settings = spec.settings(overrides)
    entry = _entry(settings, dict(spec.recipe), spec.source)
    # weight files say which weights, not how (as a stage's checkpoint): a path is no deviation,
    # starting without the weights the paper started from is
    entry["deviations"] = {k: v for k, v in entry["deviations"].items() if k not in WEIGHT_KEYS}
    if spec.paper_init and not settings.get("init"):
        entry["deviations"]["init"] = {"value": settings.get("init", ""), "paper": spec.paper_init}
    return entry


def recipe(run: dict) -> dict:
    """``results/recipe.json`` (CONTRACT.md) of a run (:func:`run_overrides` of its workflow
    config): every store stage (and the GT maps) and every registered model, with their
    settings, deviations and sources."""
    from salprep.models.registry import MODELS

    stages = {"gt": gt_entry(run["layout"], run["gt"])}
    stages |= {s: stage_entry(s, run["stages"].get(s)) for s in STAGE_BUILDERS}
    models = {m: model_entry(m, run["models"].get(m)) for m in MODELS}
    return {"dataset": run["dataset"], "stages": stages, "models": models}


def result_recipe(record: dict, model: str) -> dict:
    """What one model's results were computed with: ``{"paper": bool, "deviations": {"<stage or
    model>.<key>": {"value", "paper"}}}`` over the model and every stage it reads (GT included)."""
    from salprep.models.registry import get_model

    stages = ["gt"]
    for stage in get_model(model).inputs:
        stages += [s for s in (*STAGE_INPUTS.get(stage, ()), stage) if s not in stages]
    parts = [(s, record["stages"][s]) for s in stages] + [(model, record["models"][model])]
    deviations = {f"{name}.{key}": d for name, entry in parts for key, d in entry["deviations"].items()}
    return {"paper": not deviations, "deviations": deviations}


def describe(result: dict) -> str:
    """One line: "paper recipe" or the deviations (``key value (paper p)``, ...)."""
    if result["paper"]:
        return "paper recipe"
    items = (f"{k} {_short(d['value'])} (paper {_short(d['paper'])})" for k, d in result["deviations"].items())
    return "deviations: " + ", ".join(items)


def _short(value) -> str:
    return json.dumps(value) if isinstance(value, (dict, list, bool)) or value in (None, "") else str(value)


def table(record: dict) -> str:
    """The record as a text table: one row per setting, deviations marked with their paper value."""
    lines = [f"recipe of dataset {record['dataset']!r} (* = deviates from the paper's value)"]
    for kind in ("stages", "models"):
        for name, entry in record[kind].items():
            status = "paper recipe" if not entry["deviations"] else f"{len(entry['deviations'])} deviation(s)"
            lines.append(f"\n{name}: {status} -- {entry['source']}")
            flat = _flatten(entry["settings"])
            width = max((len(k) for k in flat), default=0)
            for key, value in flat.items():
                dev = entry["deviations"].get(key)
                mark = f"  * paper {_short(dev['paper'])}" if dev else ""
                lines.append(f"  {key:<{width}}  {_short(value)}{mark}")
    return "\n".join(lines) + "\n"


def _flatten(settings: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in settings.items():
        if isinstance(value, dict) and value:
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out
