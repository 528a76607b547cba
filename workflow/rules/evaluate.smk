# results/<model>/: metrics.json, provenance.json, per-video/per-frame scores, pictures.
EVAL = config["evaluate"]
#: what the scores depend on (not `workers`: it only says how many videos are scored at once)
PROTOCOL = {k: v for k, v in EVAL.items() if k != "workers"}


def split_args(wildcards):
    return " ".join(f"--split {s} " + shlex.join(shards("gt", s)) for s in EVAL["splits"])


rule evaluate:
    input:
        model=rules.train.output[0],
        shards=lambda w: [p for s in EVAL["splits"] for p in model_shards(w.model, s)],
    output:
        directory(f"{RESULTS}/{{model}}"),
    params:
        splits=split_args,
        protocol=PROTOCOL,
    threads: EVAL["workers"]
    log:
        f"logs/{DS}/evaluate/{{model}}.log",
    conda:
        "../../envs/salprep.yaml"
    shell:
        "salprep evaluate --model {wildcards.model} --checkpoint {input.model:q} {params.splits}"
        " --out-dir {output:q} --max-frames {params.protocol[max_frames]} --n-other {params.protocol[n_other]}"
        " --n-splits {params.protocol[n_splits]} --gt-maps {params.protocol[gt_maps]} --seed {params.protocol[seed]}"
        " --workers {threads} --overlays {params.protocol[overlays]} {TRAIN_RUN} --config-json {CONFIG_JSON:q}"
        " > {log:q} 2>&1 && cat {output:q}/metrics.json"


rule all:
    """Target: every registered model's results (`snakemake --cores N all`)."""
    input:
        [f"{RESULTS}/{m}" for m in MODELS],
