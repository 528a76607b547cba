# Models (salprep.models.registry) are trained into results/.train/<model>/ by one rule; the
# evaluate rule assembles results/<model>/. A model's params are its own `models.<name>` config
# sections (the dataset's, then the run's) and the versions of the stages it reads: nothing else
# in the config retrains it. SalBCE reads the val split too (its schedule watches the val loss).
rule train:
    input:
        shards=lambda w: training_shards(w.model),
        weights=lambda w: start_weights(w.model),
    output:
        TRAINED_MODEL,
    params:
        gt=lambda w: shards("gt", "train"),
        val_gt=lambda w: val_gt(w.model),
        settings=lambda w: model_settings(w.model),
        versions=lambda w: {s: stage_version(s) for s in model_stages(w.model)},
        out_dir=lambda w: f"{RESULTS}/.train/{w.model}",
    threads: config["train"]["threads"]
    resources:
        # how it runs and what provenance.json records: not params, they retrain nothing
        run_options=TRAIN_RUN,
        config_json=CONFIG_JSON,
    log:
        f"logs/{DS}/train/{{model}}.log",
    conda:
        "../../envs/salprep.yaml"
    shell:
        "salprep train --model {wildcards.model} --gt {params.gt:q} --val-gt {params.val_gt:q} --out-dir {params.out_dir:q}"
        " --settings-json {params.settings:q} {resources.run_options} --config-json {resources.config_json:q}"
        " > {log:q} 2>&1"
