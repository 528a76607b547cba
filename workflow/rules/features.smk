# Deep features: monodepth2 disparity (SalBCE), I3D Mixed_5c of 79-frame windows (LSTS), and the
# RGB frames image models train on (SalBCE).
use rule per_video_stage as depth with:
    input:
        video=video_file,
        encoder=CKPT["monodepth_encoder"],
        decoder=CKPT["monodepth_decoder"],
    wildcard_constraints:
        stage="depth",
    cache: "omit-software"


use rule per_video_stage as i3d_rgb with:
    input:
        video=video_file,
        checkpoint=CKPT["i3d_rgb"],
    wildcard_constraints:
        stage="i3d_rgb",
    cache: "omit-software"


use rule per_video_stage as i3d_flow with:
    input:
        flow=shard("flow_tvl1", "{video}"),
        checkpoint=CKPT["i3d_flow"],
    wildcard_constraints:
        stage="i3d_flow",
    cache: "omit-software"


use rule per_video_stage as frames with:
    input:
        video=video_file,
    wildcard_constraints:
        stage="frames",
    cache: "omit-software"


rule features:
    """Target: every depth and I3D shard of the dataset (`snakemake --cores N features`)."""
    input:
        stage_shards("depth", "i3d_rgb", "i3d_flow"),


rule shards:
    """Target: every per-video shard of every stage."""
    input:
        stage_shards(*STAGE_COMMANDS),
        [shard("gt", v) for v in annotated_videos()],
