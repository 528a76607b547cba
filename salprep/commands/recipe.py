"""``salprep recipe``: a run's recipe against the papers' (``results/recipe.json``), as a table."""

from __future__ import annotations

import json
from pathlib import Path

from salprep.atomic import atomic_output
from salprep.errors import SalprepError

#: the workflow's config schema, in the checkout this package runs from
SCHEMA = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"


def register_parser(sub) -> None:
    p = sub.add_parser(
        "recipe", help="the recipe of a run and its deviations from the papers' (results/recipe.json)",
        description="Print every store stage's and registered model's settings with the defaults filled in, "
        "marking the keys that deviate from the papers' values (LSTS, the SalBCE thesis, the datasets' GT "
        "presets), and write them as JSON with --out. Give a recipe.json to print it, workflow config files "
        "(merged in order, as Snakemake does: e.g. config/config.yaml config/dhf1k.example.yaml), or --run-json "
        "(what the workflow's recipe rule passes).")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("record", nargs="?", default=None, help="an existing recipe.json to print")
    src.add_argument("--configfile", nargs="+", default=None, metavar="YAML", help="workflow config files")
    src.add_argument("--run-json", default=None, help="the run's overrides (salprep.recipe.run_overrides) as JSON")
    p.add_argument("--out", default=None, help="write the record here (JSON)")
    p.set_defaults(func=run, outputs=[("out", False)])


def _read(path: str) -> dict:
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise SalprepError(f"cannot read ({exc.strerror})", path) from None
    try:
        if path.endswith((".yaml", ".yml")):
            import yaml

            value = yaml.safe_load(text)
        else:
            value = json.loads(text)
    except ValueError as exc:
        raise SalprepError(f"not valid {'YAML' if path.endswith(('.yaml', '.yml')) else 'JSON'} "
                           f"({str(exc).splitlines()[0]})", path) from None
    if not isinstance(value, dict):
        raise SalprepError("expected a mapping at the top", path)
    return value


def run(args) -> int:
    from salprep import recipe

    if args.record:
        record = _read(args.record)
        if not {"dataset", "stages", "models"} <= set(record):
            raise SalprepError("not a recipe.json (no dataset / stages / models)", args.record)
    else:
        if args.run_json is not None:
            try:
                run_overrides = json.loads(args.run_json)
            except ValueError as exc:
                raise SalprepError(f"--run-json is not valid JSON ({exc})") from None
        else:
            from salprep.config_check import check_config, read_sources

            config: dict = {}
            for path in args.configfile:
                config = recipe.merge(config, _read(path))
            if SCHEMA.exists():  # the workflow's own check (a checkout; an installed wheel has no workflow/)
                check_config(config, SCHEMA, read_sources(args.configfile))
            run_overrides = recipe.run_overrides(config)
        record = recipe.recipe(run_overrides)
    if args.out:
        with atomic_output(Path(args.out)) as tmp:
            tmp.write_text(json.dumps(record, indent=2) + "\n")
    print(recipe.table(record), end="")
    return 0
