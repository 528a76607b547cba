# Deep features: monodepth2 disparity (SalBCE), I3D Mixed_5c of 79-frame windows (LSTS), and the
# RGB frames image models train on (SalBCE).
CKPT = config["checkpoints"]


rule depth:
    input:
        video=video_file,
        encoder=CKPT["monodepth_encoder"],
        decoder=CKPT["monodepth_decoder"],
    output:
        shard("depth", "{video}"),
    params:
        options=stage_options("depth"),
        stage_version=stage_version("depth"),
        **SHARD_PARAMS,
    resources:
        gpu=stage_gpus("depth"),
        run_options=RUN_OPTIONS["depth"],
    cache: "omit-software"
    log:
        f"logs/{DS}/depth/{{video}}.log",
    conda:
        "../../envs/salprep.yaml"
    shell:
        "salprep depth --video {input.video:q} --encoder {input.encoder:q} --decoder {input.decoder:q}"
        " --out {output:q} --dataset-name {params.dataset:q} --video-id {params.video}"
        " {params.options} {resources.run_options} > {log:q} 2>&1"


rule i3d_rgb:
    input:
        video=video_file,
        checkpoint=CKPT["i3d_rgb"],
    output:
        shard("i3d_rgb", "{video}"),
    params:
        options=stage_options("i3d_rgb"),
        stage_version=stage_version("i3d_rgb"),
        **SHARD_PARAMS,
    resources:
        gpu=stage_gpus("i3d_rgb"),
        run_options=RUN_OPTIONS["i3d_rgb"],
    cache: "omit-software"
    log:
        f"logs/{DS}/i3d_rgb/{{video}}.log",
    conda:
        "../../envs/salprep.yaml"
    shell:
        "salprep features --modality rgb --video {input.video:q} --checkpoint {input.checkpoint:q}"
        " --out {output:q} --dataset-name {params.dataset:q} --video-id {params.video}"
        " {params.options} {resources.run_options} > {log:q} 2>&1"


rule i3d_flow:
    input:
        flow=shard("flow_tvl1", "{video}"),
        checkpoint=CKPT["i3d_flow"],
    output:
        shard("i3d_flow", "{video}"),
    params:
        options=stage_options("i3d_flow"),
        stage_version=stage_version("i3d_flow"),
        **SHARD_PARAMS,
    resources:
        gpu=stage_gpus("i3d_flow"),
        run_options=RUN_OPTIONS["i3d_flow"],
    cache: "omit-software"
    log:
        f"logs/{DS}/i3d_flow/{{video}}.log",
    conda:
        "../../envs/salprep.yaml"
    shell:
        "salprep features --modality flow --flow {input.flow:q} --checkpoint {input.checkpoint:q}"
        " --out {output:q} --dataset-name {params.dataset:q} --video-id {params.video}"
        " {params.options} {resources.run_options} > {log:q} 2>&1"


rule frames:
    input:
        video=video_file,
    output:
        shard("frames", "{video}"),
    params:
        options=stage_options("frames"),
        stage_version=stage_version("frames"),
        **SHARD_PARAMS,
    cache: "omit-software"
    log:
        f"logs/{DS}/frames/{{video}}.log",
    conda:
        "../../envs/salprep.yaml"
    shell:
        "salprep frames --video {input.video:q} --out {output:q} --dataset-name {params.dataset:q} --video-id {params.video}"
        " {params.options} > {log:q} 2>&1"


rule features:
    """Target: every depth and I3D shard of the dataset (`snakemake --cores N features`)."""
    input:
        [shard(stage, v) for stage in ("depth", "i3d_rgb", "i3d_flow") for v in all_videos()],


rule shards:
    """Target: every per-video shard of every stage."""
    input:
        rules.flow.input,
        rules.features.input,
        [shard("frames", v) for v in all_videos()],
        [shard("gt", v) for v in annotated_videos()],
