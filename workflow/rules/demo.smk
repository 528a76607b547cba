# The demo dataset is itself a rule output: `salprep demo-data` writes it in DHF1K layout.
if IS_DEMO:

    rule demo_data:
        output:
            videos=[str(DATASET.video_path(v)) for s in DATASET.splits for v in videos(s)],
            annotations=[directory(str(DATASET.annotation_dir(v))) for v in annotated_videos()],
            manifest=f"{DSCFG['root']}/demo.json",
        params:
            root=lambda w: DSCFG["root"],
            seed=config["demo_data"]["seed"],
            frames=config["demo_data"]["frames"],
            size=config["demo_data"]["size"],
            n_train=len(videos("train")),
            n_val=len(videos("val")),
            n_test=len(videos("test")) if "test" in DATASET.splits else 0,
        log:
            f"logs/{DS}/demo_data.log",
        conda:
            "../../envs/salprep.yaml"
        shell:
            "salprep demo-data --out {params.root:q} --seed {params.seed} --frames {params.frames} --size {params.size}"
            " --train {params.n_train} --val {params.n_val} --test {params.n_test} > {log:q} 2>&1"


# Seeded random checkpoints in the original formats (used while no real checkpoint is configured).
from salprep.demo.weights import RANDOM_CHECKPOINTS


rule demo_weights:
    output:
        [f"checkpoints/demo/{ckpt.file}" for ckpt in RANDOM_CHECKPOINTS.values()],
    params:
        seed=config["demo_data"]["seed"],
    log:
        "logs/demo_weights.log",
    conda:
        "../../envs/salprep.yaml"
    shell:
        "salprep demo-data --weights-out checkpoints/demo --seed {params.seed} > {log:q} 2>&1"
