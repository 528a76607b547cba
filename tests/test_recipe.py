"""The papers' recipes wherever the demo isn't: salprep.recipe, `salprep recipe`, the recipe rule,
and the README's own-dataset command planned on a DHF1K-layout copy."""

import copy
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import yaml

from salprep.cli import main
from salprep.models.registry import MODELS, SALBCE_PAPER_INIT, get_model
from salprep.recipe import RUN_KEYS, describe, recipe, result_recipe, run_overrides, stage_paper
from test_bare_command import bare, clone

REPO = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
EXAMPLE = yaml.safe_load((REPO / "config" / "dhf1k.example.yaml").read_text())
STAGES = ("flow_tvl1", "flow_spynet", "depth", "i3d_rgb", "i3d_flow", "frames")


def _with(*configs: dict) -> dict:
    from salprep.recipe import merge

    out: dict = {}
    for c in configs:
        out = merge(out, c)
    return out


def _deviating(record: dict) -> dict:
    return {f"{kind}.{name}": sorted(e["deviations"]) for kind in ("stages", "models")
            for name, e in record[kind].items() if e["deviations"]}


def test_the_demo_recipe_lists_its_deviations():
    record = recipe(run_overrides(CONFIG))
    assert record["dataset"] == "demo"
    assert set(record["stages"]) == {"gt", *STAGES} and set(record["models"]) == set(MODELS)
    tvl1 = record["stages"]["flow_tvl1"]
    assert tvl1["deviations"]["bound"] == {"value": 2.0, "paper": 20.0}
    assert tvl1["deviations"]["params.warps"] == {"value": 2, "paper": 5}
    assert tvl1["settings"]["params"]["tau"] == 0.25  # defaults filled in (OpenCV's)
    assert record["stages"]["i3d_flow"]["deviations"]["pad_start"] == {"value": True, "paper": False}
    assert record["stages"]["gt"]["deviations"] == {"sigma": {"value": 28.0, "paper": 12.7398}}
    assert record["models"]["lsts_flow"]["deviations"]["batch_size"] == {"value": 4, "paper": 128}
    assert record["models"]["lsts_flow"]["deviations"]["optimizer"] == {"value": "adam", "paper": "rmsprop"}
    assert not record["stages"]["depth"]["deviations"] and not record["models"]["center_bias"]["deviations"]
    # no SalGAN file: SalBCE starts from random weights, not from what the thesis fine-tuned
    assert record["models"]["salbce_rgb"]["deviations"]["init"] == {"value": "", "paper": SALBCE_PAPER_INIT}
    assert record["models"]["salbce_rgb"]["deviations"]["width"] == {"value": 0.25, "paper": 1.0}
    flow = result_recipe(record, "lsts_flow")
    assert not flow["paper"]
    assert {"gt.sigma", "flow_tvl1.bound", "i3d_flow.stride", "lsts_flow.lr"} <= set(flow["deviations"])
    assert describe(flow).startswith("deviations: gt.sigma 28.0 (paper 12.7398), flow_tvl1.size 80x80")
    for entry in (*record["stages"].values(), *record["models"].values()):
        assert entry["source"]
    for entry in record["stages"].values():  # a stage's device and batch size say how it runs
        assert not set(entry["settings"]) & set(RUN_KEYS)


def test_any_other_dataset_gets_the_papers_recipes():
    """The DHF1K example config (as the README says to edit it) changes no recipe key: the
    demo's sizes stay with the demo however the files are combined."""
    record = recipe(run_overrides(_with(CONFIG, EXAMPLE)))
    assert record["dataset"] == "dhf1k" and _deviating(record) == {}
    assert record["stages"]["flow_tvl1"]["settings"]["bound"] == 20.0
    assert record["stages"]["i3d_rgb"]["settings"] == {"dtype": "float32", "window": 79, "stride": 1,
                                                       "pad_start": False, "size": "224x224", "pool": "5x5x5"}
    assert record["stages"]["frames"]["settings"]["size"] == "256x192"
    assert record["models"]["lsts_flow"]["settings"] == get_model("lsts_flow").recipe
    assert record["models"]["lsts_flow"]["settings"]["batch_size"] == 128
    for model in MODELS:
        assert result_recipe(record, model) == {"paper": True, "deviations": {}}
        assert describe(result_recipe(record, model)) == "paper recipe"
    # run options are not recipe keys, and they are not in the settings either
    assert "device" not in record["stages"]["i3d_rgb"]["settings"]


def test_a_dataset_entry_and_the_run_override_deviate_in_that_order():
    own = {"datasets": {"dhf1k": {"stages": {"i3d_rgb": {"stride": 4, "dtype": "bfloat16"}},
                                  "models": {"lsts_rgb": {"epochs": 3}}, "gt": {"shift": 2}}}}
    top = {"stages": {"i3d_rgb": {"stride": 2}}, "models": {"lsts_rgb": {"lr": 3e-4}}}
    record = recipe(run_overrides(_with(CONFIG, EXAMPLE, own, top)))
    assert record["stages"]["i3d_rgb"]["deviations"] == {"dtype": {"value": "bfloat16", "paper": "float32"},
                                                         "stride": {"value": 2, "paper": 1}}
    assert record["models"]["lsts_rgb"]["deviations"] == {"epochs": {"value": 3, "paper": 10},
                                                          "lr": {"value": 3e-4, "paper": 1e-4}}
    assert record["stages"]["gt"]["deviations"] == {"shift": {"value": 2, "paper": 0}}
    assert set(result_recipe(record, "lsts_rgb")["deviations"]) == {"gt.shift", "i3d_rgb.dtype", "i3d_rgb.stride",
                                                                    "lsts_rgb.epochs", "lsts_rgb.lr"}
    assert set(result_recipe(record, "lsts_flow")["deviations"]) == {"gt.shift"}


def test_salbce_starts_from_the_salgan_checkpoint_unless_a_model_names_its_own():
    """``checkpoints.salgan`` is every SalBCE model's ``init``; ``models.<name>.init`` (e.g. the
    model.pt of a SALICON run) wins; a path is never a deviation, its absence is; the VGG16 file
    is recorded, not a deviation."""
    own = {"checkpoints": {"salgan": "/m/gen_model.pt"},
           "models": {"salbce_depth": {"init": "/runs/salicon/.train/salbce_rgb/model.pt"},
                      "salbce_rgb": {"vgg16": "/m/vgg16.pth"}}}
    run = run_overrides(_with(CONFIG, EXAMPLE, own))
    assert run["models"]["salbce_rgb"] == {"init": "/m/gen_model.pt", "vgg16": "/m/vgg16.pth"}
    assert run["models"]["salbce_depth"] == {"init": "/runs/salicon/.train/salbce_rgb/model.pt"}
    assert "lsts_flow" not in run["models"]  # LSTS starts from nothing: no init key
    record = recipe(run)
    assert _deviating(record) == {}
    assert record["models"]["salbce_coord"]["settings"]["init"] == "/m/gen_model.pt"
    without = copy.deepcopy(_with(CONFIG, EXAMPLE))
    del without["checkpoints"]["salgan"]
    record = recipe(run_overrides(without))
    assert _deviating(record) == {f"models.{m}": ["init"] for m in MODELS if m.startswith("salbce")}
    assert not result_recipe(record, "salbce_flow")["paper"]
    assert result_recipe(record, "lsts_flow")["paper"]


def test_paper_values_are_the_build_signatures():
    paper, source = stage_paper("flow_tvl1")
    assert (paper["size"], paper["out_size"], paper["bound"]) == ("112x112", "224x224", 20.0) and "LSTS" in source
    assert "size" not in stage_paper("i3d_flow")[0]  # its input size is flow_tvl1's out_size


def test_recipe_command_table_json_and_errors(tmp_path, capsys):
    example = REPO / "config" / "dhf1k.example.yaml"
    out = tmp_path / "recipe.json"
    assert main(["recipe", "--configfile", str(REPO / "config" / "config.yaml"), str(example), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "recipe of dataset 'dhf1k'" in text and "*" not in text.split("\n", 1)[1]
    assert "lsts_flow: paper recipe" in text
    record = json.loads(out.read_text())
    assert _deviating(record) == {}
    assert main(["recipe", str(out)]) == 0 and capsys.readouterr().out == text
    assert main(["recipe", "--configfile", str(REPO / "config" / "config.yaml")]) == 0
    demo = capsys.readouterr().out
    assert re.search(r"^  bound +2\.0  \* paper 20\.0$", demo, re.M)
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**CONFIG, "stages": {"i3d_rgb": {"windw": 9}}}))
    assert main(["recipe", "--configfile", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    # the workflow's own config check (salprep.config_check), naming the file
    assert err == [f"salprep: error: {bad}: Error validating config: stages.i3d_rgb.windw: unknown key (did you mean "
                   "window? known: batch_size, device, dtype, pad_start, pool, size, stride, window)"]
    assert main(["recipe", str(example)]) == 2
    assert "not a recipe.json" in capsys.readouterr().err


def test_the_recipe_needs_no_torch():
    code = ("import sys, yaml; from salprep.cli import main; "
            f"main(['recipe', '--configfile', {str(REPO / 'config' / 'config.yaml')!r}]); "
            "assert 'torch' not in sys.modules, 'torch imported'")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


# --- the README's own-dataset command, planned on a DHF1K-layout copy ------------------------


def _own_dhf1k(tmp_path: Path) -> tuple[Path, Path]:
    """A clone of the project, a DHF1K-layout copy (the demo generator writes DHF1K's layout) and
    my_dhf1k.yaml = config/dhf1k.example.yaml changed only where its comments say (root, splits,
    checkpoints)."""
    project = clone(tmp_path / "salprep")
    root = tmp_path / "DHF1K"
    assert main(["demo-data", "--out", str(root), "--frames", "3", "--size", "64x36", "--train", "2", "--val", "1",
                 "--test", "1", "--no-gaze"]) == 0
    mine = yaml.safe_load((project / "config" / "dhf1k.example.yaml").read_text())
    mine["datasets"]["dhf1k"]["root"] = str(root)
    mine["datasets"]["dhf1k"]["splits"] = {"train": "1-2", "val": "601", "test": "701"}
    for key in mine["checkpoints"]:  # the user's original files (a dry run does not read them)
        path = tmp_path / "models" / key
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"")
        mine["checkpoints"][key] = str(path)
    (project / "my_dhf1k.yaml").write_text(yaml.safe_dump(mine, sort_keys=False))
    return project, root


def _commands(stdout: str, subcommand: str) -> list[list[str]]:
    lines = (line.removeprefix("Shell command:").strip() for line in stdout.splitlines())
    return [shlex.split(line.split(" > ")[0]) for line in lines if line.startswith(f"salprep {subcommand} ")]


def _options(argv: list[str], drop: tuple[str, ...]) -> dict[str, str]:
    """``--name value`` options of a planned command, without the paths and names the rule passes."""
    opts = {}
    for i, token in enumerate(argv):
        if token.startswith("--") and token not in drop:
            opts[token] = argv[i + 1] if i + 1 < len(argv) and not argv[i + 1].startswith("--") else ""
    return opts


PATHS = ("--method", "--video", "--out", "--dataset-name", "--video-id", "--checkpoint", "--flow", "--encoder", "--decoder",
         "--modality")


def test_the_readme_own_dataset_command_plans_the_papers_recipes(tmp_path):
    project, _ = _own_dhf1k(tmp_path)
    proc = bare(project, "results/center_bias", "results/lsts_flow", "results/salbce_depth", "results/recipe.json",
                "-n", "-p", "--configfile=my_dhf1k.yaml")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    run_only = {"--device": "cuda", "--batch-size": None}  # the example's run options, nothing else
    tvl1 = _commands(out, "flow --method tvl1")
    assert len(tvl1) == 3  # 2 train + 1 val videos
    for argv in tvl1:
        opts = _options(argv, PATHS)
        assert set(opts) == set(run_only) and opts["--device"] == "cuda", argv
    features = _commands(out, "features")
    assert len(features) == 3
    for argv in features:
        assert set(_options(argv, PATHS)) == set(run_only), argv
    for argv in _commands(out, "depth") + _commands(out, "frames"):
        assert set(_options(argv, PATHS)) <= set(run_only), argv
    trains = _commands(out, "train")
    assert {a[a.index("--model") + 1] for a in trains} == {"center_bias", "lsts_flow", "salbce_depth"}
    salgan = yaml.safe_load((project / "my_dhf1k.yaml").read_text())["checkpoints"]["salgan"]
    for argv in trains:  # SalBCE starts from the user's SalGAN file (checkpoints.salgan), as the thesis
        model = argv[argv.index("--model") + 1]
        expected = {"init": salgan} if model.startswith("salbce") else {}
        assert json.loads(argv[argv.index("--settings-json") + 1]) == expected, argv
    # the recipe rule, run for real (no torch): no deviation anywhere
    proc = bare(project, "results/recipe.json", "--configfile=my_dhf1k.yaml")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    record = json.loads((project / "results" / "recipe.json").read_text())
    assert record["dataset"] == "dhf1k" and _deviating(record) == {}
    # the same files given as --config values and as several --configfile files plan the same
    split = project / "run_options.yaml"
    mine = yaml.safe_load((project / "my_dhf1k.yaml").read_text())
    split.write_text(yaml.safe_dump({"stages": mine.pop("stages")}))
    (project / "my_dhf1k_only.yaml").write_text(yaml.safe_dump(mine))
    again = bare(project, "results/lsts_flow", "-n", "-p", "--configfile", "my_dhf1k_only.yaml", "run_options.yaml")
    assert again.returncode == 0, again.stderr[-3000:]
    def planned(commands):
        return sorted(sorted(_options(a, ()).items()) for a in commands)

    assert planned(_commands(again.stdout, "flow --method tvl1")) == planned(tvl1)
    del mine["dataset"]  # chosen on the command line instead
    (project / "my_dhf1k_only.yaml").write_text(yaml.safe_dump(mine))
    inline = bare(project, "results/lsts_flow", "-n", "-p", "--configfile", "my_dhf1k_only.yaml", "run_options.yaml",
                  "--config", "dataset=dhf1k")
    assert inline.returncode == 0, inline.stderr[-3000:]
    assert planned(_commands(inline.stdout, "flow --method tvl1")) == planned(tvl1)
