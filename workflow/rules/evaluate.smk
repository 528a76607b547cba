# results/<model>/: metrics.json, provenance.json, per-video/per-frame scores, pictures.
rule evaluate:
    input:
        model=TRAINED_MODEL,
        shards=lambda w: [p for s in EVAL["splits"] for p in model_shards(w.model, s)],
    output:
        report(
            directory(f"{RESULTS}/{{model}}"),
            patterns=MODEL_REPORT_PATTERNS,
            caption="../report/model.rst",
            category="Models",
            subcategory="{model}",
            labels=lambda w, output: result_labels(output[0], w.item, getattr(w, "split", None), REPORT_SPLIT),
        ),
    params:
        splits=split_args,
        protocol=PROTOCOL,
    threads: EVAL.get("workers") or workflow.cores or 1  # default: the cores snakemake is given
    resources:
        # where the videos are scored and what provenance.json records: not params
        scheduler=EVAL["scheduler"],
        run_options=TRAIN_RUN,
        config_json=CONFIG_JSON,
    log:
        f"logs/{DS}/evaluate/{{model}}.log",
    conda:
        "../../envs/salprep.yaml"
    shell:
        "salprep evaluate --model {wildcards.model} --checkpoint {input.model:q} {params.splits}"
        " --out-dir {output:q} --max-frames {params.protocol[max_frames]} --n-other {params.protocol[n_other]}"
        " --n-splits {params.protocol[n_splits]} --gt-maps {params.protocol[gt_maps]} --seed {params.protocol[seed]}"
        " --workers {threads} --scheduler {resources.scheduler:q} --overlays {params.protocol[overlays]}"
        " {resources.run_options} --config-json {resources.config_json:q}"
        " > {log:q} 2>&1 && cat {output:q}/metrics.json"


rule report:
    """results/summary.md + summary.png: every model's val scores beside the published numbers."""
    input:
        [f"{RESULTS}/{m}" for m in MODELS],
    output:
        md=report(f"{RESULTS}/summary.md", caption="../report/summary_table.rst", category="Summary",
                  labels={"result": "comparison table (markdown)"}),
        png=report(f"{RESULTS}/summary.png", caption="../report/summary_chart.rst", category="Summary",
                   labels={"result": "comparison chart"}),
    params:
        results=lambda w: RESULTS,
        models=MODELS_LIST,
        split=EVAL["splits"][0],
    log:
        f"logs/{DS}/report.log",
    conda:
        "../../envs/salprep.yaml"
    shell:
        "salprep report --results {params.results:q} --models {params.models} --split {params.split:q} --out {output.md:q}"
        " > {log:q} 2>&1"

