"""Reliability battery (issue 25): a workflow config's mistakes stop the plan with one short line.

``models.<name>`` settings are checked by a schema generated from the registry's recipes (the
config schema's ``models`` is :func:`salprep.models.registry.models_schema`), at plan time and
by ``salprep train --settings-json``; splits that share a video with a split training reads stop
the plan; a schema error is one line naming the key and the file, not a dump of the schema.
Most cases are checked in-process (:func:`salprep.config_check.check_config` is what the Snakefile
calls); a few Snakemake runs show the plan stopping before any job."""

from __future__ import annotations

import copy
import json
import math
import sys
from pathlib import Path

import pytest
import yaml

from salprep.cli import main
from salprep.errors import SalprepError
from salprep.models.registry import MODELS, OPTIMIZERS, SETTING_LIMITS, WEIGHT_KEYS, get_model, models_schema
from salprep.config_check import (check_config, check_splits, config_schema, config_source, read_sources,
                                  schema_errors)
from salprep.recipe import merge

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from faults import one_error_line  # noqa: E402
from test_workflow import TINY, snakemake  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
DEFAULT = REPO / "config" / "config.yaml"
CONFIG = yaml.safe_load(DEFAULT.read_text())
#: Snakemake's own lines before a plan-time error (not the error's)
BANNER = ("Using workflow specific profile", "Creating specified working directory", "Config file ")


def _check(override: dict, sources=None) -> None:
    check_config(merge(copy.deepcopy(CONFIG), override), SCHEMA, sources or [])


def _refused(override: dict) -> str:
    with pytest.raises(SalprepError) as info:
        _check(override)
    text = str(info.value)
    assert "\n" not in text
    return text


def _error_lines(proc) -> list[str]:
    """What a failed plan printed beyond Snakemake's banner."""
    lines = (proc.stdout + proc.stderr).splitlines()
    return [line for line in lines if line.strip() and not line.startswith(BANNER)]


# --- models.<name>: one schema from the registry's recipes -------------------------------------


def test_the_models_schema_is_the_registry_recipes():
    """No drift: every recipe key of every registered model, typed as its default, with a range
    where it has one; nothing else; and the config schema uses it for both models sections."""
    schema = models_schema()
    assert set(schema["properties"]) == set(MODELS) and schema["additionalProperties"] is False
    kinds = {bool: "boolean", int: "integer", float: "number", str: "string"}
    for name, spec in MODELS.items():
        props = schema["properties"][name]["properties"]
        assert set(props) == set(spec.recipe), name
        assert schema["properties"][name]["additionalProperties"] is False
        for key, default in spec.recipe.items():
            assert props[key]["type"] == kinds[type(default)], (name, key)
            # every number has a range, every text is a choice or a weight file
            if kinds[type(default)] in ("integer", "number"):
                assert key in SETTING_LIMITS, (name, key)
            if isinstance(default, str):
                assert "enum" in props[key] or key in WEIGHT_KEYS, (name, key)
        assert spec.settings() == spec.recipe  # the paper's recipe passes its own schema
        assert spec.settings(dict(spec.recipe)) == spec.recipe
        if "optimizer" in spec.recipe:
            assert props["optimizer"]["enum"] == OPTIMIZERS[spec.family]
    assert set(SETTING_LIMITS) <= {k for spec in MODELS.values() for k in spec.recipe}  # no stale range
    full = config_schema(SCHEMA)
    assert full["definitions"]["models"] == schema
    assert full["properties"]["models"]["$ref"] == "#/definitions/models"
    dataset = full["properties"]["datasets"]["additionalProperties"]["properties"]["models"]
    assert dataset["$ref"] == "#/definitions/models"
    check_config(copy.deepcopy(CONFIG), SCHEMA)  # the demo's own model settings pass
    check_config(merge(copy.deepcopy(CONFIG), yaml.safe_load((REPO / "config" / "dhf1k.example.yaml").read_text())),
                 SCHEMA)


BAD_SETTINGS = [  # (model, key, value, shown, allowed)
    ("lsts_rgb", "epochs", 0, "0", "an integer >= 1"),
    ("lsts_rgb", "epochs", 1.5, "1.5", "an integer >= 1"),
    ("lsts_flow", "batch_size", 0, "0", "an integer >= 1"),
    ("lsts_flow", "lr", "abc", '"abc"', "a finite number > 0"),
    ("lsts_flow", "lr", 0.0, "0.0", "a finite number > 0"),
    ("lsts_flow", "lr", math.nan, "nan", "a finite number > 0"),
    ("lsts_flow", "weight_decay", -1e-5, "-1e-05", "a finite number >= 0"),
    ("lsts_flow", "lr_halving_iterations", 0, "0", "an integer >= 1"),
    ("lsts_flow", "frames_per_video", -1, "-1", "an integer >= 0"),
    ("lsts_flow", "standardize", "yes", '"yes"', "true or false"),
    ("lsts_flow", "optimizer", "sgd", '"sgd"', "rmsprop or adam"),
    ("lsts_flow", "seed", -1, "-1", "an integer >= 0"),
    ("salbce_rgb", "optimizer", "rmsprop", '"rmsprop"', "adam or sgd"),
    ("salbce_rgb", "width", 0, "0", "a finite number > 0 and <= 1"),
    ("salbce_rgb", "width", 25, "25", "a finite number > 0 and <= 1"),
    ("salbce_rgb", "plateau_factor", 1.0, "1.0", "a finite number > 0 and < 1"),
    ("salbce_rgb", "augment", "flip", '"flip"', "thesis or none"),
    ("salbce_rgb", "rotate", -5.0, "-5.0", "a finite number >= 0 and <= 180"),
    ("salbce_rgb", "init", None, "null", "text"),
]


@pytest.mark.parametrize("model,key,value,shown,allowed", BAD_SETTINGS)
def test_a_bad_model_setting_is_one_line_naming_key_value_and_range(model, key, value, shown, allowed):
    line = f"models.{model}.{key}: {shown} is not allowed: must be {allowed}"
    with pytest.raises(SalprepError) as info:  # salprep train --settings-json, salprep recipe
        get_model(model).settings({key: value})
    assert str(info.value) == line
    # the workflow's schema, at either level
    assert _refused({"models": {model: {key: value}}}) == f"Error validating config: {line}"
    assert _refused({"datasets": {"demo": {"models": {model: {key: value}}}}}) == \
        f"Error validating config: datasets.demo.{line}"


def test_unknown_model_names_and_keys_are_refused():
    assert _refused({"models": {"lsts_rgb": {"epoch": 3}}}).startswith(
        "Error validating config: models.lsts_rgb.epoch: unknown key (did you mean epochs? known: batch_size, epochs")
    assert _refused({"models": {"lsts_rbg": {}}}).startswith(
        "Error validating config: models.lsts_rbg: unknown key (did you mean lsts_rgb? known: center_bias")
    assert _refused({"models": {"center_bias": {"epochs": 1}}}).startswith(
        "Error validating config: models.center_bias.epochs: unknown key (known: none)")
    with pytest.raises(SalprepError, match=r"^models\.lsts_rgb: unknown settings \['epoch'\]"):
        get_model("lsts_rgb").settings({"epoch": 3})


def test_yaml_exponent_without_a_dot_is_explained():
    """YAML 1.1 reads 1e-3 as text: the line says so."""
    config = yaml.safe_load("models: {lsts_rgb: {lr: 1e-3}}")
    assert config["models"]["lsts_rgb"]["lr"] == "1e-3"
    assert _refused(config).endswith('lr: "1e-3" is not allowed: must be a finite number > 0 '
                                     "(YAML reads 1e-3 as text: write it with a dot, e.g. 1.0e-3)")


def test_several_problems_show_the_first_and_a_count():
    text = _refused({"models": {"lsts_rgb": {"epochs": 0, "batch_size": 0}}, "evaluate": {"workers": 0}})
    assert text.endswith("(and 2 more problems)")
    assert set(schema_errors({"epochs": 0, "lr": "x"}, models_schema()["properties"]["lsts_rgb"], "m")) == {
        "m.epochs: 0 is not allowed: must be an integer >= 1", 'm.lr: "x" is not allowed: must be a finite number > 0'}


def test_train_refuses_bad_settings_before_any_work(tmp_path, capsys):
    out = tmp_path / "train"
    assert main(["train", "--model", "lsts_flow", "--gt", str(tmp_path / "001.h5"), "--out-dir", str(out),
                 "--settings-json", json.dumps({"epochs": 0})]) == 2
    assert one_error_line(capsys) == "salprep: error: models.lsts_flow.epochs: 0 is not allowed: must be an integer >= 1"
    assert not out.exists()  # no untrained model.pt, no folder


# --- other config errors: one line naming the key and its file ----------------------------------


@pytest.mark.parametrize("override,line", [
    ({"stagse": {}}, "stagse: unknown key (did you mean stages? known: checkpoints, dataset, datasets, demo_data, "
                     "evaluate, models, results, stages, store, train)"),
    ({"evaluate": {"wokers": 2}}, "evaluate.wokers: unknown key (did you mean workers? known: gt_maps, max_frames, "
                                  "n_other, n_splits, overlays, scheduler, seed, splits, workers)"),
    ({"evaluate": {"workers": 0}}, "evaluate.workers: 0 is not allowed: must be an integer >= 1"),
    ({"datasets": {"demo": {"gt": {"fwhm": 30.0}}}}, "datasets.demo.gt: give sigma or fwhm, not both"),
    ({"datasets": {"own": {"root": "/data"}}}, "datasets.own: missing key layout"),
    ({"train": {"device": "gpu"}}, 'train.device: "gpu" is not allowed: must be auto | cpu | cuda | cuda:N'),
    ({"stages": {"i3d_rgb": {"size": "224"}}}, 'stages.i3d_rgb.size: "224" is not allowed: must be WIDTHxHEIGHT'),
])
def test_a_config_error_is_one_line(override, line):
    assert _refused(override) == f"Error validating config: {line}"


def test_the_line_names_the_file_that_gave_the_key(tmp_path):
    mine = tmp_path / "mine.yaml"
    mine.write_text("models: {lsts_rgb: {epochs: 0}}\nevaluate: {workers: 2}\n")
    sources = read_sources([DEFAULT, mine, tmp_path / "absent.yaml"], {"store": "s"})
    assert [name for name, _ in sources] == [str(DEFAULT), str(mine), "--config"]
    assert config_source(sources, ["models", "lsts_rgb", "epochs"]) == str(mine)
    assert config_source(sources, ["evaluate", "workers"]) == str(mine)  # the later file wins
    assert config_source(sources, ["results"]) == str(DEFAULT)
    assert config_source(sources, ["store"]) == "--config"
    assert config_source(sources, ["nowhere"]) is None
    with pytest.raises(SalprepError) as info:
        _check(yaml.safe_load(mine.read_text()), sources)
    assert str(info.value).startswith(f"{mine}: Error validating config: models.lsts_rgb.epochs: 0 is not allowed")


def test_defaults_are_filled_in_as_snakemake_did():
    config = copy.deepcopy(CONFIG)
    del config["train"]
    config["evaluate"] = {}
    config["datasets"]["own"] = {"layout": "dhf1k", "root": "/data"}
    check_config(config, SCHEMA)
    assert config["train"] == {"threads": 16}
    assert config["evaluate"]["splits"] == ["val"] and config["evaluate"]["n_other"] == 10
    assert config["datasets"]["own"]["gt"] == {} and config["datasets"]["own"]["demo"] is False


# --- splits that share a video ------------------------------------------------------------------


def test_splits_that_training_reads_share_no_video():
    ok = {"train": ["1", "2"], "val": ["601"], "test": ["701"], "test_b": ["701"]}
    check_splits(ok)  # two scored-only splits may share videos
    for splits, named in [
        ({"train": ["1", "2"], "val": ["2", "601"]}, "train and val share 1 video (2)"),
        ({"train": ["1"], "val": ["601"], "test": ["1", "701"]}, "train and test share 1 video (1)"),
        ({"test": ["601"], "val": ["601"], "train": ["1"]}, "val and test share 1 video (601)"),
        ({"train": [str(i) for i in range(8)], "val": [str(i) for i in range(1, 9)], "test": ["0"]},
         "train and val share 7 videos (1, 2, 3, 4, 5, ...); train and test share 1 video (0)"),
    ]:
        with pytest.raises(SalprepError) as info:
            check_splits(splits, "datasets.own.splits", "own.yaml")
        assert str(info.value).startswith(f"own.yaml: datasets.own.splits: {named}: training reads train and val")


# --- the plan, through Snakemake (each run stops while the Snakefile is read: no job, no file) ---


@pytest.mark.parametrize("bad,expected", [
    ("stagse: {}\n", "stagse: unknown key (did you mean stages?"),
    ("datasets: {demo: {models: {salbce_rgb: {batch_size: 0}}}}\n",
     "Error validating config: datasets.demo.models.salbce_rgb.batch_size: 0 is not allowed: must be an integer >= 1"),
    ("datasets: {demo: {splits: {train: '1-4', val: '4,601', test: '701'}}}\n",
     "datasets.demo.splits: train and val share 1 video (004): training reads train and val"),
])
def test_the_plan_stops_in_a_few_lines_before_any_job(tmp_path, bad, expected):
    (tmp_path / "tiny.yaml").write_text(TINY)
    (tmp_path / "bad.yaml").write_text(bad)
    workdir = tmp_path / "run"
    proc = snakemake(workdir, "results/lsts_rgb", "results/salbce_rgb", configs=("tiny.yaml", "bad.yaml"))
    assert proc.returncode != 0
    lines = _error_lines(proc)
    assert len(lines) <= 5, lines  # not the schema and the config dumped around it
    assert any(line.startswith(f"{tmp_path / 'bad.yaml'}: ") and expected in line for line in lines), lines
    assert "Job stats" not in proc.stdout + proc.stderr
    assert sorted(p.name for p in workdir.iterdir()) in ([], [".snakemake"])  # nothing built

