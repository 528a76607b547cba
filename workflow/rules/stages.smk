# The template of the per-video stage rules (flow.smk, features.smk): each is this rule used as
# its stage, with the stage's inputs (named as its command's options), its {stage} pinned to the
# stage's name and `cache: "omit-software"` (stated by each: a `with:` block resets `cache`).
# Itself it makes nothing: its {stage} matches no name.
rule per_video_stage:
    output:
        shard("{stage}", "{video}"),
    wildcard_constraints:
        stage="(?!)",
    params:
        command=lambda w: stage_command(w.stage),
        options=lambda w: stage_options(w.stage),
        stage_version=lambda w: stage_version(w.stage),
        **SHARD_PARAMS,
    resources:
        gpu=lambda w: stage_gpus(w.stage),
        run_options=lambda w: RUN_OPTIONS.get(w.stage, ""),
        input_options=input_options,
    log:
        f"logs/{DS}/{{stage}}/{{video}}.log",
    conda:
        "../../envs/salprep.yaml"
    shell:
        "salprep {params.command} {resources.input_options} --out {output:q} --dataset-name {params.dataset:q}"
        " --video-id {params.video} {params.options}{resources.run_options} > {log:q} 2>&1"
