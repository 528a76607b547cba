# Models are trained into results/.train/<model>/; the evaluate rule assembles results/<model>/.
rule train_center_bias:
    input:
        gt=shards("gt", "train"),
    output:
        f"{RESULTS}/.train/center_bias/prior.npz",
    params:
        out_dir=f"{RESULTS}/.train/center_bias",
        config=config_json(),
    log:
        f"logs/{DS}/train/center_bias.log",
    conda:
        "../../envs/salprep.yaml"
    shell:
        "salprep train --model center_bias --gt {input.gt} --out-dir {params.out_dir}"
        " --config-json {params.config:q} > {log} 2>&1"
