# Optical flow: TV-L1 (LSTS recipe) and SpyNet (SalBCE recipe), one shard per video.
rule flow_tvl1:
    input:
        video=video_file,
    output:
        shard("flow_tvl1", "{video}"),
    params:
        options=stage_options("flow_tvl1"),
        stage_version=stage_version("flow_tvl1"),
        **SHARD_PARAMS,
    resources:
        gpu=stage_gpus("flow_tvl1"),
        run_options=RUN_OPTIONS["flow_tvl1"],
    cache: "omit-software"
    log:
        f"logs/{DS}/flow_tvl1/{{video}}.log",
    conda:
        "../../envs/salprep.yaml"
    shell:
        "salprep flow --method tvl1 --video {input.video:q} --out {output:q} --dataset-name {params.dataset:q}"
        " --video-id {params.video}"
        " {params.options} {resources.run_options} > {log:q} 2>&1"


rule flow_spynet:
    input:
        video=video_file,
        checkpoint=config["checkpoints"]["spynet"],
    output:
        shard("flow_spynet", "{video}"),
    params:
        options=stage_options("flow_spynet"),
        stage_version=stage_version("flow_spynet"),
        **SHARD_PARAMS,
    resources:
        gpu=stage_gpus("flow_spynet"),
        run_options=RUN_OPTIONS["flow_spynet"],
    cache: "omit-software"
    log:
        f"logs/{DS}/flow_spynet/{{video}}.log",
    conda:
        "../../envs/salprep.yaml"
    shell:
        "salprep flow --method spynet --video {input.video:q} --checkpoint {input.checkpoint:q} --out {output:q}"
        " --dataset-name {params.dataset:q} --video-id {params.video}"
        " {params.options} {resources.run_options} > {log:q} 2>&1"


rule flow:
    """Target: every flow shard of the dataset (`snakemake --cores N flow`)."""
    input:
        [shard(stage, v) for stage in ("flow_tvl1", "flow_spynet") for v in all_videos()],
