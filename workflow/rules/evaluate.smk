# results/<model>/: metrics.json, provenance.json, per-video/per-frame scores, pictures.
def split_args(wildcards, input):
    return " ".join(
        f"--split {s} " + " ".join(shards("gt", s)) for s in config["evaluate"]["splits"]
    )


rule evaluate_center_bias:
    input:
        checkpoint=rules.train_center_bias.output[0],
        gt=[shard("gt", v) for s in config["evaluate"]["splits"] for v in videos(s)],
    output:
        directory(f"{RESULTS}/center_bias"),
    params:
        splits=split_args,
        ev=config["evaluate"],
        config=config_json(),
    threads: config["evaluate"]["workers"]
    log:
        f"logs/{DS}/evaluate/center_bias.log",
    conda:
        "../../envs/salprep.yaml"
    shell:
        "salprep evaluate --model center_bias --checkpoint {input.checkpoint} {params.splits}"
        " --out-dir {output} --max-frames {params.ev[max_frames]} --n-other {params.ev[n_other]}"
        " --n-splits {params.ev[n_splits]} --gt-maps {params.ev[gt_maps]} --seed {params.ev[seed]}"
        " --workers {threads} --overlays {params.ev[overlays]} --config-json {params.config:q}"
        " > {log} 2>&1 && cat {output}/metrics.json"
