# Ground truth: one shard per annotated video, read from the video and its annotation stamp.
from salprep.datasets.digest import refresh_stamps

# Refresh the stamps at plan time (main process only: not in every job a cluster runs). A stamp
# is then an input no job produces, so the between-workflow cache keys the GT on its content.
if workflow.is_main_process:
    refresh_stamps(DATASET, annotated_videos(), annotation_stamp)


if IS_DEMO:

    rule annotation_digest:
        """The demo's stamps: its annotations do not exist before demo_data runs."""
        input:
            f"{DSCFG['root']}/demo.json",
        output:
            annotation_stamp("{video}"),
        params:
            root=lambda w: DSCFG["root"],
            layout=DSCFG["layout"],
        log:
            f"logs/{DS}/annotation_digest/{{video}}.log",
        conda:
            "../../envs/salprep.yaml"
        shell:
            "salprep annotation-digest --root {params.root:q} --layout {params.layout:q} --video {wildcards.video}"
            " --out {output:q} > {log:q} 2>&1"


rule gt:
    input:
        video=video_file,
        annotations=gt_annotations,
    output:
        shard("gt", "{video}"),
    params:
        root=lambda w: DSCFG["root"],
        layout=DSCFG["layout"],
        options=gt_options(),
        stage_version=stage_version("gt"),
        **SHARD_PARAMS,
    cache: "omit-software"
    log:
        f"logs/{DS}/gt/{{video}}.log",
    conda:
        "../../envs/salprep.yaml"
    shell:
        "salprep gt --root {params.root:q} --layout {params.layout:q} --video {wildcards.video}"
        " --dataset-name {params.dataset:q} {params.options} --compare --out {output:q} > {log:q} 2>&1"
