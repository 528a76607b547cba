# Shared helpers: which dataset, which videos, where shards and results go.
import json
import os
import shlex
import sys

from salprep.datasets import open_dataset
from salprep.config_check import check_splits, config_source
from salprep.store import remove_dangling_shards, stage_version
from salprep.storage_cache import install as install_storage_cache

# `--cache` with SNAKEMAKE_OUTPUT_CACHE=s3://bucket/prefix (profiles/s3): the between-workflow cache
# in a bucket, every other file local (a default storage provider would make them all remote).
install_storage_cache(workflow)

DS = config["dataset"]
if DS not in config["datasets"]:
    raise ValueError(f"config: dataset {DS!r} is not among datasets {sorted(config['datasets'])}")
DSCFG = config["datasets"][DS]
IS_DEMO = bool(DSCFG.get("demo", False))
DATASET = open_dataset(DSCFG["layout"], DSCFG["root"], DSCFG.get("splits"))
if not IS_DEMO:  # the demo's root is written by its first job
    DATASET.check_root()
for _split in ("train", "val"):
    if _split not in DATASET.splits:
        raise ValueError(f"config: dataset {DS!r} ({DSCFG['layout']}) has no {_split!r} split (it has "
                         f"{sorted(DATASET.splits)}): the workflow trains on 'train' and evaluates 'val'; "
                         f"set datasets.{DS}.splits")
# No video in train or val and another split as well (salprep.config_check.check_splits): named by the
# config file that sets the splits, or the dataset root for the layout's own.
_splits_from = ("datasets", DS, "splits")
check_splits(DATASET.splits, ".".join(_splits_from),
             config_source(CONFIG_SOURCES, _splits_from) if DSCFG.get("splits") else DSCFG["root"])
STORE = config["store"]
RESULTS = config["results"]
# A shard that is a dangling symlink (a lost shared-cache entry) would stop Snakemake's plan (no
# modification time) whenever it is not itself the target: removed here, it is recomputed.
for _link, _target in remove_dangling_shards(os.path.join(STORE, DS)):
    print(f"salprep: warning: {_link}: dangling symlink to {_target} (a lost shared-cache entry) removed; "
          "the shard is recomputed when a job needs it (`snakemake shards` now)", file=sys.stderr)


def _in_split_order(groups):
    """Videos of several splits, each once, in split then dataset order."""
    return list(dict.fromkeys(v for group in groups for v in group))

def videos(split):
    return DATASET.videos(split)


def annotated_videos():
    return _in_split_order(videos(split) for split in DATASET.splits if split != "test")


def video_file(wildcards):
    return str(DATASET.video_path(wildcards.video))


def annotation_dir(wildcards):
    return str(DATASET.annotation_dir(wildcards.video))


def annotation_stamp(video):
    """The content stamp of a video's annotation files (salprep.datasets.digest): the GT rule's
    stand-in for the annotation folder, rewritten only when a file's bytes change."""
    return f".salprep/annotations/{DS}/{video}.json"


def gt_annotations(wildcards):
    """The stamp; the annotation folder itself where it has no files (Snakemake then names the
    missing folder)."""
    stamp = annotation_stamp(wildcards.video)
    return stamp if IS_DEMO or os.path.exists(stamp) else annotation_dir(wildcards)


def shard(stage, video):
    return f"{STORE}/{DS}/{stage}/{video}.h5"


#: `**SHARD_PARAMS` in the params of every per-video stage rule = the dataset and video a shard records.
#: These rules are cacheable between workflows (`cache: "omit-software"`), and Snakemake's cache
#: key holds the shell command *template*, params and input contents, not wildcard values:
#: without these, two demo videos (inputs of one demo_data job) would share one cache entry.
SHARD_PARAMS = {"dataset": DS, "video": "{video}"}


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
    return _in_split_order(videos(split) for split in DATASET.splits)


def stage_shards(*stages):
    """Every video's shards of these stages, stage by stage (the `flow`, `features`, `shards` targets)."""
    return [shard(stage, v) for stage in stages for v in all_videos()]


# The run's recipe (salprep.recipe): the dataset's own deviations (datasets.<name>.stages|models,
# e.g. the demo's small sizes) with this run's top-level stages|models over them; everything else
# is the papers' recipe (the stages' and the registry's defaults).
from salprep.recipe import RUN_KEYS, run_overrides

RUN = run_overrides(config)


def stage_config(stage):
    """The stage's effective section (keys left out take the stage's default in the package)."""
    return RUN["stages"].get(stage) or {}


def recipe_json():
    """What results/recipe.json depends on: the run's recipe overrides without run options."""
    stages = {s: {k: v for k, v in c.items() if k not in RUN_KEYS} for s, c in RUN["stages"].items()}
    return json.dumps({**RUN, "stages": stages}, sort_keys=True)


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


def stage_gpus(stage):
    """`resources: gpu=` of a stage's rule: 1 when its device is CUDA (decided from the config
    alone: nothing is imported or probed on the submitting host). `auto` asks for none."""
    return 1 if str(stage_config(stage).get("device", "auto")).startswith("cuda") else 0


def _gpu_slots():
    """N of `--resources gpu=N` (the gpu profile): this machine's GPUs, shared by the GPU jobs
    (salprep.gpu_slots gives each its own); 0 when not given (also in a cluster job's jobstep)."""
    value = workflow.global_resources.get("gpu").value
    return value if isinstance(value, int) and value > 0 else 0


GPU_SLOTS = _gpu_slots()


# The per-video stages: the rules of flow.smk and features.smk, each made from the template in
# stages.smk (`salprep {params.command} {resources.input_options} --out ...`) with its inputs.
#: stage -> its `salprep` command (a param: the stages share one shell command, and the cache key
#: tells them apart by this)
STAGE_COMMANDS = {
    "flow_tvl1": ("flow", "--method", "tvl1"),
    "flow_spynet": ("flow", "--method", "spynet"),
    "depth": ("depth",),
    "i3d_rgb": ("features", "--modality", "rgb"),
    "i3d_flow": ("features", "--modality", "flow"),
    "frames": ("frames",),
}
#: the checkpoint files of the network stages
CKPT = config["checkpoints"]


def stage_command(stage):
    return shlex.join(STAGE_COMMANDS[stage])


def input_options(wildcards, input):
    """`--NAME PATH` of each named input of a stage's job, in order: the paths its command reads.
    A resource, not a param: the cache key and the rerun triggers follow the inputs' contents,
    not where they lie."""
    return shlex.join(arg for name, path in input.items() for arg in (f"--{name}", path))


def _run_options(stage):
    """How a stage runs (`--device ... --batch-size ...`, and `--gpu-slots N` for a CUDA stage under
    `--resources gpu=N`), after a space: its command has them after its options."""
    settings = {k: v for k, v in stage_config(stage).items() if k in RUN_KEYS}
    if GPU_SLOTS and stage_gpus(stage):
        settings["gpu_slots"] = GPU_SLOTS
    return f" {_options(settings)}"


#: `resources: run_options=` of the stages with run settings (all but frames, whose command ends
#: at its options): deliberately not `params:`, so these never rerun a job.
RUN_OPTIONS = {stage: _run_options(stage) for stage in STAGE_COMMANDS if stage != "frames"}


# Models (salprep.models.registry): what the train and evaluate rules read.
from salprep.models.registry import MODELS, WEIGHT_KEYS, get_model


def model_settings(model):
    """The model's overrides of its registry recipe (JSON): datasets.<name>.models.<model> with
    the run's models.<model> over it."""
    return json.dumps(RUN["models"].get(model) or {}, sort_keys=True)


def model_stages(model):
    return ("gt", *get_model(model).inputs)


#: a model's trained weights: train.smk writes them, evaluate.smk reads them
TRAINED_MODEL = f"{RESULTS}/.train/{{model}}/model.pt"


def model_shards(model, split):
    return [shard(stage, v) for stage in model_stages(model) for v in videos(split)]


def training_shards(model):
    """What a model's training reads: the train split's shards, and the val split's where its
    schedule watches the validation loss (SalBCE's ReduceLROnPlateau, the thesis)."""
    return model_shards(model, "train") + (model_shards(model, "val") if get_model(model).val_loss else [])


def start_weights(model):
    """The weight files a model's training starts from (`vgg16`, `init`: e.g. an original SalGAN
    generator, or a SalBCE model.pt of a SALICON run): inputs, so a changed file retrains."""
    overrides = RUN["models"].get(model) or {}
    return [overrides[k] for k in WEIGHT_KEYS if overrides.get(k)]


def val_gt(model):
    """`salprep train --val-gt` shards: the val split's GT for a model whose schedule watches the
    validation loss, none otherwise."""
    return shards("gt", "val") if get_model(model).val_loss else []


#: Provenance only: the effective config, given to train/evaluate as a `resources:` string (not
#: `params:`, which would retrain everything for any key).
CONFIG_JSON = config_json()
#: how training and evaluation run (`train: {device: ...}`), outside `params:` like RUN_OPTIONS
TRAIN_RUN = _options({k: v for k, v in (config.get("train") or {}).items() if k == "device"})

EVAL = config["evaluate"]
#: what the scores depend on (not `workers` / `scheduler`: they only say where videos are scored)
PROTOCOL = {k: v for k, v in EVAL.items() if k not in ("workers", "scheduler")}
MODELS_LIST = " ".join(MODELS)


def split_args(wildcards):
    """`--split NAME SHARD...` for each evaluated split."""
    return " ".join(shlex.join(["--split", s, *shards("gt", s)]) for s in EVAL["splits"])


# The report (`report()` markers of evaluate.smk and report.smk).
from salprep.report import result_labels

#: the split the report's metrics show (the summary's: the first evaluated split, val)
REPORT_SPLIT = EVAL["splits"][0]
#: files of results/<model>/ in the report ({item}: salprep.report.RESULT_ITEMS)
MODEL_REPORT_PATTERNS = [
    "{item,metrics|provenance}.json",
    "{item,per_video}.csv",
    "{item,loss|prior}.png",
    "{item,overlays|scores}_{split}.png",
]


# The template of the per-video stage rules (after the names it uses).
include: "stages.smk"
