# Shared helpers: which dataset, which videos, where shards and results go.
import json
import shlex

from salprep.datasets import open_dataset
from salprep.store import stage_version

DS = config["dataset"]
if DS not in config["datasets"]:
    raise ValueError(f"config: dataset {DS!r} is not among datasets {sorted(config['datasets'])}")
DSCFG = config["datasets"][DS]
DATASET = open_dataset(DSCFG["layout"], DSCFG["root"], DSCFG["splits"])
STORE = config["store"]
RESULTS = config["results"]
IS_DEMO = bool(DSCFG.get("demo", False))

# Videos are strings as in file names (DHF1K: 001); never let {video} match across folders.
wildcard_constraints:
    video=r"\d+",


def videos(split):
    return DATASET.videos(split)


def annotated_videos():
    return sorted({v for split in DATASET.splits if split != "test" for v in videos(split)}, key=int)


def video_file(wildcards):
    return str(DATASET.video_path(wildcards.video))


def annotation_dir(wildcards):
    return str(DATASET.annotation_dir(wildcards.video))


def shard(stage, video):
    return f"{STORE}/{DS}/{stage}/{video}.h5"


def shards(stage, split):
    return [shard(stage, v) for v in videos(split)]


def gt_options():
    """`salprep gt` options from the dataset's `gt:` overrides (the preset fills the rest)."""
    opts = []
    for key, value in DSCFG.get("gt", {}).items():
        if value is None and key == "truncate":
            value = 0  # 0 = no truncation on the command line
        opts += [f"--{key}", str(value)]
    return shlex.join(opts)


def config_json(wildcards=None):
    return json.dumps(config, sort_keys=True)


def all_videos():
    """Every video of every configured split (features are computed for test videos too)."""
    return sorted({v for split in DATASET.splits for v in videos(split)}, key=int)


#: stage settings that say how a job runs, not what it stores (never part of a rule's params)
RUN_KEYS = ("device", "batch_size")


def stage_config(stage):
    """The stage's `stages:` section (keys left out take the stage's default in the package)."""
    return (config.get("stages") or {}).get(stage) or {}


def _options(settings):
    """`salprep` options of settings (`out_size: 160x160` -> `--out-size 160x160`; a nested
    mapping such as flow_tvl1's `params` becomes one option per entry)."""
    opts = []
    for key, value in settings.items():
        items = value.items() if isinstance(value, dict) else [(key, value)]
        for name, item in items:
            opts += [f"--{name.rstrip('_').replace('_', '-')}", str(item)]
    return shlex.join(opts)


def stage_options(stage):
    """What a stage's shards depend on, as options: its settings except device and batch size.
    Rules pass it through `params:`, so changing one of these settings reruns the stage."""
    return _options({k: v for k, v in stage_config(stage).items() if k not in RUN_KEYS})


#: How each stage runs (`--device ... --batch-size ...`), given to the shell commands as
#: `{RUN_OPTIONS[stage]}`: deliberately not `params:`, so these never rerun a job.
RUN_OPTIONS = {
    stage: _options({k: v for k, v in stage_config(stage).items() if k in RUN_KEYS})
    for stage in ("flow_tvl1", "flow_spynet", "depth", "i3d_rgb", "i3d_flow", "frames")
}


def stage_gpus(stage):
    """`resources: gpu=` of a stage's rule: 1 when its device is CUDA (decided from the config
    alone: nothing is imported or probed on the submitting host). `auto` asks for none."""
    return 1 if str(stage_config(stage).get("device", "auto")).startswith("cuda") else 0
