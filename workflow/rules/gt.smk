# Ground truth: one shard per annotated video.
rule gt:
    input:
        video=video_file,
        annotations=annotation_dir,
    output:
        shard("gt", "{video}"),
    params:
        root=DSCFG["root"],
        layout=DSCFG["layout"],
        options=gt_options(),
        stage_version=stage_version("gt"),
    log:
        f"logs/{DS}/gt/{{video}}.log",
    conda:
        "../../envs/salprep.yaml"
    shell:
        "salprep gt --root {params.root:q} --layout {params.layout} --video {wildcards.video}"
        " --dataset-name {DS:q} {params.options} --compare --out {output:q} > {log:q} 2>&1"
