# results/<model>/: metrics.json, provenance.json, per-video/per-frame scores, pictures.
EVAL = config["evaluate"]
#: what the scores depend on (not `workers`: it only says how many videos are scored at once)
PROTOCOL = {k: v for k, v in EVAL.items() if k != "workers"}
MODELS_LIST = " ".join(MODELS)


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


rule report:
    """results/summary.md + summary.png: every model's val scores beside the published numbers."""
    input:
        [f"{RESULTS}/{m}" for m in MODELS],
    output:
        md=f"{RESULTS}/summary.md",
        png=f"{RESULTS}/summary.png",
    log:
        f"logs/{DS}/report.log",
    conda:
        "../../envs/salprep.yaml"
    shell:
        "salprep report --results {RESULTS:q} --models {MODELS_LIST} --split {EVAL[splits][0]} --out {output.md:q}"
        " > {log:q} 2>&1"


rule all:
    """Target: every registered model's results and the comparison (`snakemake --cores N all`)."""
    input:
        rules.report.output,
