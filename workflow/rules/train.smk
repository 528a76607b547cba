# Models (salprep.models.registry) are trained into results/.train/<model>/ by one rule; the
# evaluate rule assembles results/<model>/. A model's params are its own `models.<name>` config
# section and the versions of the stages it reads: nothing else in the config retrains it.
from salprep.models.registry import MODELS, get_model


wildcard_constraints:
    model="|".join(MODELS),


def model_settings(model):
    """The model's `models.<name>` overrides of its registry recipe (JSON)."""
    return json.dumps((config.get("models") or {}).get(model) or {}, sort_keys=True)


def model_stages(model):
    return ("gt", *get_model(model).inputs)


def model_shards(model, split):
    return [shard(stage, v) for stage in model_stages(model) for v in videos(split)]


#: Provenance only: the effective config, given to the shell commands outside `params:`.
CONFIG_JSON = config_json()
#: how training and evaluation run (`train: {device: ...}`), outside `params:` like RUN_OPTIONS
TRAIN_RUN = _options({k: v for k, v in (config.get("train") or {}).items() if k == "device"})


rule train:
    input:
        shards=lambda w: model_shards(w.model, "train"),
    output:
        f"{RESULTS}/.train/{{model}}/model.pt",
    params:
        gt=lambda w: shards("gt", "train"),
        settings=lambda w: model_settings(w.model),
        versions=lambda w: {s: stage_version(s) for s in model_stages(w.model)},
        out_dir=lambda w: f"{RESULTS}/.train/{w.model}",
    threads: config["train"]["threads"]
    log:
        f"logs/{DS}/train/{{model}}.log",
    conda:
        "../../envs/salprep.yaml"
    shell:
        "salprep train --model {wildcards.model} --gt {params.gt:q} --out-dir {params.out_dir:q}"
        " --settings-json {params.settings:q} {TRAIN_RUN} --config-json {CONFIG_JSON:q} > {log:q} 2>&1"
