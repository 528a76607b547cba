"""The gpu and slurm Snakemake profiles (profiles/): GPU slots on one machine, and the
tiny demo DAG through a real one-node SLURM started by scripts/slurm/start.sh."""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

try:  # tests/ is not a package: pytest puts it on sys.path
    from test_workflow import TINY, job_stats
except ImportError:  # pragma: no cover - another import mode
    from tests.test_workflow import TINY, job_stats

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PROFILES = REPO / "profiles"
GPU_STAGES = ("flow_tvl1", "flow_spynet", "depth", "i3d_rgb", "i3d_flow")
SLURM_DIR = Path(os.environ.get("SALPREP_SLURM_DIR", "/tmp/salprep-slurm"))


def clean_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("CUDA_VISIBLE_DEVICES", "SALPREP_GPU_SLOTS")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


def snakemake(workdir: Path, profile: str, *args: str, configs=("tiny.yaml",), env=None, timeout=300):
    """``snakemake`` on the repo's Snakefile with ``--workflow-profile profiles/<profile>``."""
    cmd = [str(BIN / "snakemake"), "-s", str(REPO / "Snakefile"), "-d", str(workdir),
           "--workflow-profile", str(PROFILES / profile),
           "--configfile", *[str(workdir.parent / c) for c in configs], *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env or clean_env(), timeout=timeout)


def shell_commands(text: str) -> dict[str, list[str]]:
    """rule name -> the shell commands a dry run prints for its jobs (printshellcmds)."""
    out: dict[str, list[str]] = {}
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", text):
        m = re.match(r"(?:local)?rule (\w+):", block)
        cmd = re.search(r"^Shell command: (.*)$", block, re.M)
        if m and cmd:
            out.setdefault(m.group(1), []).append(cmd.group(1))
    return out


# --- GPU slots ----------------------------------------------------------------------------------

HOLDER = """
import os, sys
from salprep import gpu_slots
slot = gpu_slots.claim(int(sys.argv[1]))
print(slot, os.environ.get("CUDA_VISIBLE_DEVICES"), flush=True)
sys.stdin.readline()  # hold the slot until stdin closes
"""


def _line(proc: subprocess.Popen, timeout: float, stream: str = "stdout") -> str | None:
    """The next line ``proc`` writes to ``stream`` within ``timeout`` seconds, else None."""
    pipe = getattr(proc, stream)
    ready, _, _ = select.select([pipe], [], [], timeout)
    return pipe.readline().strip() if ready else None


def test_gpu_slots_give_concurrent_processes_different_devices_and_a_third_waits(tmp_path):
    env = clean_env(SALPREP_GPU_SLOT_DIR=str(tmp_path / "slots"))
    start = lambda: subprocess.Popen([sys.executable, "-c", HOLDER, "2"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    first, second = start(), start()
    third = None
    try:
        got_first, got_second = _line(first, 30), _line(second, 30)
        assert {got_first, got_second} == {"0 0", "1 1"}  # slot index = CUDA_VISIBLE_DEVICES
        third = start()
        waiting = _line(third, 30, "stderr")  # both slots taken: it says so and waits
        assert waiting is not None and "GPU slots" in waiting and "waiting" in waiting
        assert _line(third, 0) is None  # nothing on stdout yet: no slot
        os.kill(first.pid, signal.SIGKILL)  # the kernel frees the lock even on kill -9
        first.wait(10)
        got_third = _line(third, 30)
        assert got_third == got_first, third.stderr.read() if third.poll() is not None else "third still waiting"
        third.stdin.close()
        assert third.wait(10) == 0
        assert f"GPU slot {got_first[0]} free after" in third.stderr.read()
        assert (tmp_path / "slots" / "gpu0.lock").exists() and (tmp_path / "slots" / "gpu1.lock").exists()
    finally:
        for proc in (first, second, third):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(10)


PARSE = """
import os
from salprep import gpu_slots
from salprep.cli import build_parser
from salprep.device import resolve_device

p = build_parser()
base = {
    "flow": ["flow", "--method", "tvl1", "--video", "v.AVI", "--out", "o.h5"],
    "depth": ["depth", "--video", "v.AVI", "--encoder", "e", "--decoder", "d", "--out", "o.h5"],
    "features": ["features", "--modality", "rgb", "--video", "v.AVI", "--checkpoint", "c", "--out", "o.h5"],
}
os.environ["CUDA_VISIBLE_DEVICES"] = "5"  # set by someone else (SLURM): left alone
p.parse_args(base["flow"] + ["--gpu-slots", "2"])
print("preset", os.environ["CUDA_VISIBLE_DEVICES"], gpu_slots.held_slot())
del os.environ["CUDA_VISIBLE_DEVICES"]
for name, args in base.items():
    ns = p.parse_args(args + ["--device", "cuda", "--gpu-slots", "2"])
    print(name, ns.gpu_slots, os.environ.get("CUDA_VISIBLE_DEVICES"), gpu_slots.held_slot())
    gpu_slots.release()
    del os.environ["CUDA_VISIBLE_DEVICES"]
ns = p.parse_args(base["depth"])
print("none", ns.gpu_slots, os.environ.get("CUDA_VISIBLE_DEVICES"), gpu_slots.held_slot())
os.environ["SALPREP_GPU_SLOTS"] = "3"
resolve_device("cpu")
print("env-cpu", os.environ.get("CUDA_VISIBLE_DEVICES"), gpu_slots.held_slot())
resolve_device("auto")  # a CUDA-capable request takes a slot first (CPU here: falls back to cpu)
print("env-auto", os.environ.get("CUDA_VISIBLE_DEVICES"), gpu_slots.held_slot())
"""


def test_stage_commands_take_a_slot_from_gpu_slots_option_or_env(tmp_path):
    """``salprep flow|depth|features --gpu-slots N`` claims while parsing (before any CUDA call);
    ``SALPREP_GPU_SLOTS`` does it in resolve_device; a preset CUDA_VISIBLE_DEVICES wins."""
    slots = tmp_path / "slots"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, "2"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True, env=clean_env(SALPREP_GPU_SLOT_DIR=str(slots)))
    try:
        assert _line(holder, 30) == "0 0"  # another job holds slot 0: the commands get slot 1
        proc = subprocess.run([sys.executable, "-c", PARSE], capture_output=True, text=True, timeout=120,
                              env=clean_env(SALPREP_GPU_SLOT_DIR=str(slots)))
    finally:
        holder.stdin.close()
        holder.wait(10)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.splitlines() == [
        "preset 5 None",
        "flow 2 1 1", "depth 2 1 1", "features 2 1 1",
        "none 0 None None",
        "env-cpu None None",
        "env-auto 1 1",  # SALPREP_GPU_SLOTS=3: slot 0 is still the holder's
    ]


@pytest.fixture(scope="module")
def gpu_base(tmp_path_factory):
    base = tmp_path_factory.mktemp("gpu")
    (base / "tiny.yaml").write_text(TINY)
    return base


def test_gpu_profile_plans_cuda_stages_with_gpu_slots(gpu_base):
    targets = [f"store/demo/{stage}/001.h5" for stage in (*GPU_STAGES, "frames")]
    proc = snakemake(gpu_base / "run", "gpu", "-n", "--cores", "2", *targets)
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = proc.stdout + proc.stderr
    assert job_stats(proc) == {"demo_data": 1, "demo_weights": 1, "frames": 1, **{s: 1 for s in GPU_STAGES}}
    cmds = shell_commands(text)
    for stage in GPU_STAGES:  # the profile's `config:` block made them cuda, `resources: gpu=1` gives 1 slot
        assert cmds[stage][0].endswith("--device cuda --gpu-slots 1 > " + f"logs/demo/{stage}/001.log 2>&1")
        job = text.split(f"rule {stage}:")[1].split("Shell command")[0]
        assert re.search(r"resources: .*\bgpu=1\b", job)
    assert "--size 32x32" in cmds["flow_tvl1"][0]  # --configfile settings stay (merged, not replaced)
    for rule in ("frames", "demo_data", "demo_weights"):
        assert "--gpu-slots" not in cmds[rule][0] and "--device" not in cmds[rule][0]
    # N GPUs: --resources gpu=N (what users edit in the profile) reaches the commands as N slots
    proc = snakemake(gpu_base / "run", "gpu", "-n", "--cores", "2", "--resources", "gpu=3", "--", targets[0])
    assert shell_commands(proc.stdout + proc.stderr)["flow_tvl1"][0].count("--device cuda --gpu-slots 3") == 1
    # the default profile: no GPU counted, no slots
    proc = snakemake(gpu_base / "run", "default", "-n", "--cores", "2", targets[0])
    assert proc.returncode == 0 and "Shell command: salprep flow" in proc.stdout + proc.stderr
    assert "--gpu-slots" not in proc.stdout + proc.stderr


def test_gpu_profile_reruns_nothing_built_without_it(gpu_base):
    """--device and --gpu-slots are run options, not params: a shard built on the CPU with the default
    profile is up to date under the gpu profile (and with any number of GPUs)."""
    target = "store/demo/flow_tvl1/001.h5"
    proc = snakemake(gpu_base / "cpu", "default", "--cores", "2", target)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    for extra in ((), ("--resources", "gpu=2")):
        proc = snakemake(gpu_base / "cpu", "gpu", "-n", "--cores", "2", *extra, "--", target)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert job_stats(proc) == {}


# --- SLURM --------------------------------------------------------------------------------------

def _alive(pidfile: Path) -> bool:
    """The pid file's process runs and has the file's name (as start.sh / stop.sh check)."""
    try:
        pid = int(pidfile.read_text().split()[0])
        return Path(f"/proc/{pid}/comm").read_text().strip() == pidfile.stem
    except (OSError, ValueError, IndexError):
        return False


@pytest.fixture(scope="module")
def slurm():
    """A one-node SLURM from scripts/slurm/start.sh (skipped with its one-line reason when it cannot
    start); stopped afterwards by scripts/slurm/stop.sh unless it was already running."""
    env = {**os.environ, "SALPREP_SLURM_DIR": str(SLURM_DIR)}
    was_running = _alive(SLURM_DIR / "slurmctld.pid") and _alive(SLURM_DIR / "slurmd.pid")
    t0 = time.monotonic()
    try:
        proc = subprocess.run(["bash", str(REPO / "scripts" / "slurm" / "start.sh")], capture_output=True,
                              text=True, env=env, timeout=900)
    except subprocess.TimeoutExpired:
        pytest.skip("scripts/slurm/start.sh did not finish within 900 s")
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"]
        pytest.skip(lines[-1])
    print(f"start.sh: {time.monotonic() - t0:.1f} s (already running: {was_running})")
    yield SLURM_DIR / "slurm.conf"
    if not was_running:
        subprocess.run(["bash", str(REPO / "scripts" / "slurm" / "stop.sh")], env=env, timeout=120,
                       capture_output=True)


#: results/center_bias on one training and one validation video: every dependency level then has
#: at most 2 jobs (this node's 2 CPUs); each level costs one job's Snakemake start-up (twice: the
#: jobstep and its srun step) plus the plugin's polling, ~18 s
SMALL = "datasets: {demo: {splits: {train: '1', val: '601'}}}\n"
SLURM_JOBS = {"demo_data": 1, "annotation_digest": 2, "gt": 2, "train": 1, "evaluate": 1}


@pytest.mark.slow
def test_slurm_profile_runs_the_demo_dag_through_slurm(slurm, tmp_path):
    (tmp_path / "tiny.yaml").write_text(TINY)
    (tmp_path / "small.yaml").write_text(SMALL)
    workdir = tmp_path / "run"
    configs = ("tiny.yaml", "small.yaml")
    env = clean_env(SLURM_CONF=str(slurm))
    # test-only settings on top of the checked-in profile: the first status check 4 s after a
    # submission (MinJobAge 3600 >= 3 x 4). The plugin adds 10 s after every check that finds no job
    # finished, so checks come at 4, 18, 42 s: these jobs take 6-16 s here, one check each (with 2 s:
    # 2, 14, 36 s, and train/evaluate at 13-16 s wait for the third; measured 97 s vs 119 s). Keep
    # the logs of successful jobs (the evidence below), and no job asking more CPUs than this node
    # has (the profile's train: 8 would be refused at once by EnforcePartLimits).
    local = ("--slurm-init-seconds-before-status-checks", "4", "--slurm-keep-successful-logs",
             "--max-threads", str(len(os.sched_getaffinity(0))))  # = nproc = the node's CPUs
    dry = snakemake(workdir, "slurm", "-n", *local, "results/center_bias", configs=configs, env=env)
    assert dry.returncode == 0, dry.stderr[-3000:]
    planned = job_stats(dry)
    assert planned == SLURM_JOBS
    assert "localrule" not in dry.stdout + dry.stderr  # every job goes to SLURM

    t0 = time.monotonic()
    cmd = ["timeout", "-k", "30", "420", str(BIN / "snakemake"), "-s", str(REPO / "Snakefile"), "-d", str(workdir),
           "--workflow-profile", str(PROFILES / "slurm"), "--configfile",
           *[str(tmp_path / c) for c in configs], *local, "results/center_bias"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=480)
    wall = time.monotonic() - t0
    out = proc.stdout + proc.stderr
    if proc.returncode != 0:
        ctld = SLURM_DIR / "slurmctld.log"
        tail = ctld.read_text()[-1500:] if ctld.exists() else ""
        pytest.fail(f"snakemake exit {proc.returncode} after {wall:.0f} s\n{out[-4000:]}\nslurmctld.log:\n{tail}")
    print(f"slurm run: {wall:.1f} s")
    assert (workdir / "results" / "center_bias" / "metrics.json").exists()

    # one SLURM log per job: .snakemake/slurm_logs/rule_<rule>/[<wildcards>/]<slurm job id>.log
    logs = sorted((workdir / ".snakemake" / "slurm_logs").rglob("*.log"))
    per_rule: dict[str, int] = {}
    for log in logs:
        rule = log.relative_to(workdir / ".snakemake" / "slurm_logs").parts[0].removeprefix("rule_")
        per_rule[rule] = per_rule.get(rule, 0) + 1
    assert per_rule == SLURM_JOBS
    submitted = re.findall(r"has been submitted with SLURM jobid (\d+)", out)
    assert sorted(submitted) == sorted(log.stem for log in logs)
    # and SLURM itself ran them: squeue still lists them (MinJobAge) as COMPLETED
    states = subprocess.run(["squeue", "-h", "-t", "all", "-j", ",".join(submitted), "-o", "%i %T"],
                            capture_output=True, text=True, env=env, timeout=30).stdout.split()
    assert dict(zip(states[::2], states[1::2])) == {job: "COMPLETED" for job in submitted}
    # the job scripts ran the rules' commands through the jobstep executor
    train_log = next(log for log in logs if "rule_train" in str(log)).read_text()
    assert "--executor slurm-jobstep" in train_log and "salprep train --model center_bias" in train_log

    again = snakemake(workdir, "slurm", "-n", *local, "results/center_bias", configs=configs, env=env)
    assert again.returncode == 0 and job_stats(again) == {}
