# Optical flow: TV-L1 (LSTS recipe) and SpyNet (SalBCE recipe), one shard per video.
use rule per_video_stage as flow_tvl1 with:
    input:
        video=video_file,
    wildcard_constraints:
        stage="flow_tvl1",
    cache: "omit-software"


use rule per_video_stage as flow_spynet with:
    input:
        video=video_file,
        checkpoint=CKPT["spynet"],
    wildcard_constraints:
        stage="flow_spynet",
    cache: "omit-software"


rule flow:
    """Target: every flow shard of the dataset (`snakemake --cores N flow`)."""
    input:
        stage_shards("flow_tvl1", "flow_spynet"),
