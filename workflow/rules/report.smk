# The HTML report (`snakemake --report report.html <the targets you built>`): the flow and depth
# figures of the report split's first video. The result files of the other rules are in it through
# `report()` markers on the rules that write them (labelled by common.smk's MODEL_REPORT_PATTERNS).

#: stages drawn by `salprep visualise`, and the videos drawn (the report split's first)
FIGURE_STAGES = ("flow_tvl1", "flow_spynet", "depth")
FIGURE_VIDEOS = videos(REPORT_SPLIT)[:1]


rule visualise:
    """PNG grid of a few frames of one video's flow or depth shard (the report's flow and depth)."""
    input:
        shard=shard("{stage}", "{video}"),
    output:
        report(
            f"{RESULTS}/figures/{{video}}_{{stage}}.png",
            caption="../report/figure.rst",
            category="Flow and depth",
            labels={"stage": "{stage}", "video": "{video}"},
        ),
    params:
        frames=4,
    wildcard_constraints:
        stage="|".join(FIGURE_STAGES),
    log:
        f"logs/{DS}/visualise/{{stage}}/{{video}}.log",
    conda:
        "../../envs/salprep.yaml"
    shell:
        "salprep visualise {input.shard:q} --out {output:q} --frames {params.frames} > {log:q} 2>&1"


rule figures:
    """Target: the flow and depth figures of the report (`snakemake --cores N figures`)."""
    input:
        [f"{RESULTS}/figures/{v}_{stage}.png" for stage in FIGURE_STAGES for v in FIGURE_VIDEOS],


rule recipe:
    """results/recipe.json: every stage's and model's settings of this run and their deviations
    from the papers' recipes (salprep.recipe; `salprep recipe results/recipe.json` prints it)."""
    output:
        report(f"{RESULTS}/recipe.json", caption="../report/recipe.rst", category="Summary",
               labels={"result": "recipe (settings, deviations from the papers)"}),
    params:
        run=recipe_json(),
    log:
        f"logs/{DS}/recipe.log",
    conda:
        "../../envs/salprep.yaml"
    shell:
        "salprep recipe --run-json {params.run:q} --out {output:q} > {log:q} 2>&1"
