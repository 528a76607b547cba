"""``salprep report``: the comparison table and chart of every model's results."""

from __future__ import annotations

import json
from pathlib import Path

from salprep.atomic import atomic_output
from salprep.errors import SalprepError

NOTE_RANDOM = ("Scores of this run's models next to the seed papers' published DHF1K validation numbers "
               "(MODELS.md). Features and extractor weights marked random-init come from seeded random weights, "
               "and a demo dataset is synthetic: such scores say the pipeline runs end to end, not how the "
               "published models perform.")


def register_parser(sub) -> None:
    p = sub.add_parser("report", help="comparison table (summary.md) and chart (summary.png) of model results",
                       description="Read results/<model>/metrics.json of every given model and write a markdown "
                       "table beside the published DHF1K numbers, and a bar chart of NSS, CC and SIM.")
    p.add_argument("--results", required=True, help="results folder holding <model>/metrics.json")
    p.add_argument("--models", nargs="+", required=True)
    p.add_argument("--split", default="val")
    p.add_argument("--recipe", default=None,
                   help="results/recipe.json: a column saying which results are the papers' recipe, and the "
                   "deviations of the others")
    p.add_argument("--out", required=True, help="summary.md (summary.png is written beside it)")
    p.set_defaults(func=run, outputs=[("out", False)])


def run(args) -> int:
    from salprep.models.registry import get_model
    from salprep.report import summary_chart, summary_markdown

    rows, paper, weights = {}, {}, set()
    for model in args.models:
        path = Path(args.results) / model / "metrics.json"
        if not path.exists():
            raise SalprepError("metrics.json not found (evaluate the model first)", path)
        try:
            rows[model] = json.loads(path.read_text())
        except ValueError as exc:
            raise SalprepError(f"not valid JSON ({exc})", path) from None
        paper[model] = get_model(model).paper
        prov = path.with_name("provenance.json")
        if prov.exists():
            weights.add(str(json.loads(prov.read_text()).get("weights")))
    recipes = None
    if args.recipe:
        from salprep.recipe import result_recipe

        try:
            record = json.loads(Path(args.recipe).read_text())
            recipes = {model: result_recipe(record, model) for model in rows}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise SalprepError(f"not a readable recipe.json ({exc})", args.recipe) from None
    note = NOTE_RANDOM + (f" Weights recorded by these results: {', '.join(sorted(weights))}." if weights else "")
    out = Path(args.out)
    with atomic_output(out) as tmp:
        tmp.write_text(summary_markdown(rows, paper, args.split, note, recipes))
    with atomic_output(out.with_suffix(".png")) as tmp:
        summary_chart(rows, args.split, tmp, title=f"{args.split}: NSS, CC, SIM per model")
    print(out.read_text())
    return 0
