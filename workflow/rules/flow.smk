# Optical flow: TV-L1 (LSTS recipe) and SpyNet (SalBCE recipe), one shard per video.
FLOW = config["flow"]
FLOW_GPU = gpu_count(flow_on_cuda())


def tvl1_params():
    return " ".join(
        f"--{name.rstrip('_').replace('_', '-')} {value}" for name, value in FLOW["tvl1"].get("params", {}).items()
    )


rule flow_tvl1:
    input:
        video=video_file,
    output:
        shard("flow_tvl1", "{video}"),
    params:
        tvl1=FLOW["tvl1"],
        extra=tvl1_params(),
        stage_version=stage_version("flow_tvl1"),
    resources:
        gpu=FLOW_GPU,
    log:
        f"logs/{DS}/flow_tvl1/{{video}}.log",
    conda:
        "../../envs/salprep.yaml"
    shell:
        "salprep flow --method tvl1 --video {input.video} --out {output} --dataset-name {DS}"
        " --video-id {wildcards.video} --device {FLOW[device]} --batch-size {FLOW[batch_size]}"
        " --backend {params.tvl1[backend]} --size {params.tvl1[size]} --out-size {params.tvl1[out_size]}"
        " --bound {params.tvl1[bound]} {params.extra} > {log} 2>&1"


rule flow_spynet:
    input:
        video=video_file,
        checkpoint=config["checkpoints"]["spynet"],
    output:
        shard("flow_spynet", "{video}"),
    params:
        spynet=FLOW["spynet"],
        stage_version=stage_version("flow_spynet"),
    resources:
        gpu=FLOW_GPU,
    log:
        f"logs/{DS}/flow_spynet/{{video}}.log",
    conda:
        "../../envs/salprep.yaml"
    shell:
        "salprep flow --method spynet --video {input.video} --checkpoint {input.checkpoint} --out {output}"
        " --dataset-name {DS} --video-id {wildcards.video} --device {FLOW[device]}"
        " --batch-size {FLOW[batch_size]} --size {params.spynet[size]} --every {params.spynet[every]}"
        " > {log} 2>&1"


rule flow:
    """Target: every flow shard of the dataset (`snakemake --cores N flow`)."""
    input:
        [shard(stage, v) for stage in ("flow_tvl1", "flow_spynet") for v in all_videos()],
