"""`salprep report`: the comparison table and chart."""

import json

from salprep.cli import main


def _metrics(folder, nss, cc):
    folder.mkdir(parents=True)
    (folder / "metrics.json").write_text(json.dumps({"val": {
        "auc_judd": 0.7, "auc_shuffled": 0.5, "nss": nss, "cc": cc, "sim": 0.1, "kld": None, "n_frames": 240}}))
    (folder / "provenance.json").write_text(json.dumps({"weights": "random-init"}))


def test_report_table_and_chart(tmp_path, capsys):
    _metrics(tmp_path / "center_bias", 0.66, 0.075)
    _metrics(tmp_path / "lsts_flow", 0.9, 0.1)
    out = tmp_path / "summary.md"
    assert main(["report", "--results", str(tmp_path), "--models", "center_bias", "lsts_flow", "--out", str(out)]) == 0
    text = out.read_text()
    assert "| lsts_flow | 0.700 | 0.500 | 0.900 | 0.100 | 0.100 | – | 240 | unknown | 0.862 / 0.698 / 1.256 / 0.337 / – |" \
        in text
    assert "| center_bias | 0.700 | 0.500 | 0.660 | 0.075 | 0.100 | – | 240 | unknown | – |" in text
    assert "random-init" in text and "synthetic" in text
    assert (tmp_path / "summary.png").stat().st_size > 5000
    capsys.readouterr()
    assert main(["report", "--results", str(tmp_path), "--models", "lsts_rgb", "--out", str(out)]) == 2
    assert "lsts_rgb/metrics.json: metrics.json not found" in capsys.readouterr().err


def test_report_says_which_results_are_the_papers_recipe(tmp_path):
    """With results/recipe.json: "paper" where the model and every stage it reads keep the papers'
    values, else the number of deviations and, under the table, each one beside the paper's value."""
    import yaml

    from salprep.recipe import merge, recipe, run_overrides

    _metrics(tmp_path / "center_bias", 0.66, 0.075)
    _metrics(tmp_path / "lsts_flow", 0.9, 0.1)
    config = yaml.safe_load(open("config/config.yaml"))
    mine = merge(config, {"dataset": "dhf1k", "datasets": {"dhf1k": {"layout": "dhf1k", "root": "/data/DHF1K"}},
                          "stages": {"i3d_flow": {"stride": 5, "device": "cuda"}}})
    (tmp_path / "recipe.json").write_text(json.dumps(recipe(run_overrides(mine))))
    out = tmp_path / "summary.md"
    assert main(["report", "--results", str(tmp_path), "--models", "center_bias", "lsts_flow",
                 "--recipe", str(tmp_path / "recipe.json"), "--out", str(out)]) == 0
    text = out.read_text()
    assert "| 240 | paper | – |" in text  # center_bias: GT at the DHF1K preset
    assert "| 240 | 1 deviations | 0.862" in text
    assert "- lsts_flow: deviations: i3d_flow.stride 5 (paper 1)" in text
