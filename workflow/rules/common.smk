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


def flow_on_cuda():
    device = config["flow"]["device"]
    if device == "auto":
        import torch

        return torch.cuda.is_available()
    return device.startswith("cuda")


def gpu_count(on_cuda):
    """`resources: gpu=` of a rule: 1 when it runs on CUDA (schedulers then place it on a GPU)."""
    return 1 if on_cuda else 0


def option_args(options):
    """`--key value` pairs for a mapping of salprep options (underscores kept in names)."""
    return shlex.join([item for key, value in options.items() for item in (f"--{key}", str(value))])
