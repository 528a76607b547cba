"""Each default stated once per layer, and the layers agree: the library's function signature
(read by the subcommand's argparse) and the workflow's schema."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import yaml

from salprep.cli import build_parser
from salprep.stages.runner import defaults

SCHEMA = yaml.safe_load((Path(__file__).resolve().parents[1] / "workflow" / "schemas" / "config.schema.yaml").read_text())


def _schema_defaults(section: str) -> dict:
    return {k: v["default"] for k, v in SCHEMA["properties"][section]["properties"].items() if "default" in v}


def _cli_defaults(command: str) -> dict:
    parser = build_parser(only=command)
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[command]
    return {a.dest: a.default for a in sub._actions if a.dest != "help"}


def test_evaluation_defaults_agree():
    from salprep.evaluate import evaluate_split
    from salprep.results import write_results

    library = {**defaults(evaluate_split), "overlays": defaults(write_results)["overlays"]}
    cli = _cli_defaults("evaluate")
    schema = _schema_defaults("evaluate")
    for key in ("max_frames", "n_other", "n_splits", "gt_maps", "seed", "scheduler", "overlays"):
        assert cli[key] == library[key] == schema[key], key
    # workers: one per core in the library and the command; the workflow gives a job the cores
    # snakemake has (its threads), so the schema states none
    assert library["workers"] is None and cli["workers"] is None and "workers" not in schema
    assert set(SCHEMA["properties"]["evaluate"]["properties"]) == {"splits", *schema, "workers"}


def test_demo_defaults_agree():
    from salprep import demo

    schema = _schema_defaults("demo_data")
    cli = _cli_defaults("demo-data")
    assert cli["frames"] == schema["frames"] == demo.DEFAULT_FRAMES
    assert cli["size"] == schema["size"] == "{}x{}".format(*demo.DEFAULT_SIZE)
    assert cli["seed"] == schema["seed"]


@pytest.mark.parametrize("name", ["lsts_rgb", "lsts_flow", "lsts_rgbflow"])
def test_the_registry_target_is_the_lsts_output(name):
    from salprep.models.lsts import OUTPUT_SIZE
    from salprep.models.registry import get_model

    assert get_model(name).target_size == OUTPUT_SIZE
