"""Tests for benchmarks/gpu_check.py, the one prepared GPU check.

The CPU mode (``--device cpu --tiny``) runs every path with both sides on the CPU, in a
subprocess where a ``sys.meta_path`` finder refuses PyAV, OpenCV, Snakemake, h5py, scipy,
matplotlib, tqdm and dask, as on a bare GPU image with python3, torch and numpy only. The
comparison machinery is checked to fail on wrong results (perturbed and NaN device weights through
a real path, and the helpers directly). The CUDA test runs the tiny sizes on a GPU.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "benchmarks" / "gpu_check.py"
BARE = ("av", "cv2", "snakemake", "h5py", "scipy", "matplotlib", "tqdm", "dask")
#: paths that the CPU mode skips (torch.compile, TF32, and the bf16 training rows, which on the
#: CPU are the loop's own --amp dtype)
CPU_SKIPS = {"i3d_rgb_tf32", "train_lsts_bf16", "train_salbce_bf16", "tvl1_compile",
             "i3d_rgb_compile_bf16", "i3d_flow_compile_bf16"}

#: runs the script as ``python benchmarks/gpu_check.py ARGS`` with the named modules (a top-level
#: name refuses its submodules too) refused: importing them raises ModuleNotFoundError, and ``importlib.util.find_spec`` probes (torch's
#: dynamo makes some) answer None, both as where they are not installed
WRAPPER = r"""
import importlib.util, runpy, sys
blocked = set(filter(None, sys.argv[1].split(",")))

def refused(name):
    return name in blocked or name.partition(".")[0] in blocked

class RefuseImports:
    def find_spec(self, name, path=None, target=None):
        if refused(name):
            raise ModuleNotFoundError(f"No module named {name!r} (blocked: bare GPU image)",
                                      name=name if name in blocked else name.partition(".")[0])
        return None

probe = importlib.util.find_spec

def find_spec(name, package=None):
    if refused(name):
        return None
    return probe(name, package)

importlib.util.find_spec = find_spec
sys.meta_path.insert(0, RefuseImports())
script = sys.argv[2]
sys.argv = [script, *sys.argv[3:]]
runpy.run_path(script, run_name="__main__")
"""


@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check_under_test", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up there
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


def run_bare(*args: str, blocked=BARE, timeout: float = 600) -> subprocess.CompletedProcess:
    # one torch thread: the tiny sizes gain nothing from a second, and on a shared 2-core machine
    # its spinning made the run 2-4x slower (CPU time 8 s with one thread, 23-37 s with two)
    env = {k: v for k, v in os.environ.items() if k != "OUT"}
    env["OMP_NUM_THREADS"] = "1"
    return subprocess.run([sys.executable, "-c", WRAPPER, ",".join(blocked), str(SCRIPT), *args],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)


def table_rows(stdout: str) -> dict[str, list[str]]:
    """path -> [agrees, throughput, target] from the final table."""
    rows = {}
    for line in stdout.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| ") and len(cells) == 4 and cells[0] not in ("path", "---"):
            rows[cells[0]] = cells[1:]
    return rows


def test_cpu_tiny_mode_without_av_cv2_snakemake_h5py(gpu_check, tmp_path):
    out = tmp_path / "gpu_check.json"
    proc = run_bare("--device", "cpu", "--tiny", "--json", str(out))
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    rows = table_rows(proc.stdout)
    assert list(rows) == gpu_check.PATH_NAMES, proc.stdout
    for name, (agrees, rate, _target) in rows.items():
        if name in CPU_SKIPS:
            assert agrees.startswith("SKIP"), (name, agrees)
        else:
            assert agrees.startswith("PASS"), (name, agrees)
            assert re.match(r"[\d,.e+-]+ \S+/s", rate), (name, rate)  # a throughput was measured
    # what the bare image lacks is said, not hidden
    assert "OpenCV-level error: opencv absent" in proc.stdout
    assert f"{len(rows) - len(CPU_SKIPS)} of {len(rows)} paths agree" in proc.stdout
    data = json.loads(out.read_text())
    assert data["complete"] and data["all_agree"]
    assert [r["path"] for r in data["rows"]] == gpu_check.PATH_NAMES
    assert data["environment"]["device"] == "cpu"


def test_one_failing_path_still_prints_the_table(gpu_check):
    # without salprep's monodepth2 module that path errors, alone
    proc = run_bare("--device", "cpu", "--tiny", "--only", "monodepth,predict_salbce",
                    blocked=BARE + ("salprep.models.monodepth",))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    rows = table_rows(proc.stdout)
    assert list(rows) == ["monodepth", "predict_salbce"]
    assert rows["monodepth"][0].startswith("ERROR: ModuleNotFoundError: No module named 'salprep.models.monodepth'")
    assert rows["predict_salbce"][0].startswith("PASS")
    assert "disagree or error: monodepth" in proc.stdout


def test_comparison_helpers_fail_wrong_results(gpu_check):
    g = torch.Generator().manual_seed(0)
    ref = torch.rand(2, 64, 8, 8, generator=g) + 0.5
    bound = gpu_check.BOUNDS["float32"]
    assert gpu_check.rel_err(ref.clone(), ref) == 0.0
    assert gpu_check.agrees(gpu_check.rel_err(ref * (1 + 1e-6), ref), bound)
    perturbed = ref + 1e-2 * torch.randn(ref.shape, generator=g)
    assert not gpu_check.agrees(gpu_check.rel_err(perturbed, ref), bound)
    assert not gpu_check.agrees(gpu_check.rel_err(perturbed, ref), gpu_check.BOUNDS["bfloat16"] / 10)
    for bad in (float("nan"), float("inf")):
        out = ref.clone()
        out[0, 3, 2, 1] = bad
        assert math.isnan(gpu_check.rel_err(out, ref))
        assert not gpu_check.agrees(gpu_check.rel_err(out, ref), 1e9)
    assert math.isnan(gpu_check.rel_err(ref[:1], ref))  # wrong shape never agrees
    assert not gpu_check.agrees(None, 1.0)
    # TV-L1: per-pair mean EPE, NaN for a non-finite flow
    flow = torch.randn(3, 2, 16, 16, generator=g)
    shifted = flow.clone()
    shifted[1, 0] += 0.3
    shifted[2, 1, 4, 4] = float("nan")
    epe = gpu_check.flow_epe(shifted, flow)
    assert epe[0] == 0 and abs(float(epe[1]) - 0.3) < 1e-6 and math.isnan(float(epe[2]))
    # a result: PASS only when every check agrees; NaN and over-bound checks fail it
    res = gpu_check.Result("x")
    res.check("rel", 1e-6, bound)
    res.finish()
    assert res.status == "PASS" and res.agrees_cell() == "PASS 1e-06 / 0.0001"
    res.check("grad", float("nan"), 0.25)
    res.finish()
    assert res.status == "FAIL" and res.agrees_cell().startswith("FAIL grad nan")
    res = gpu_check.Result("y")
    res.finish()
    assert res.status == "ERROR"  # no comparison is not a pass


@pytest.mark.parametrize("how", ["perturbed", "nan"])
def test_wrong_device_result_fails_the_path(gpu_check, monkeypatch, capsys, one_thread, how):
    """The device copy of SpyNet's weights is corrupted (the reference is not): the path must fail."""
    original = gpu_check.deep_to

    def corrupted(module, device, dtype=None):
        out = original(module, device, dtype)
        if dtype is None:  # the device side (references are made with an explicit dtype)
            with torch.no_grad():
                weight = next(out.parameters())
                if how == "nan":
                    weight.view(-1)[0] = float("nan")
                else:
                    weight.mul_(1.02)
        return out

    monkeypatch.setattr(gpu_check, "deep_to", corrupted)
    monkeypatch.delenv("OUT", raising=False)
    code = gpu_check.main(["--device", "cpu", "--tiny", "--only", "spynet"])
    stdout = capsys.readouterr().out
    assert code == 1
    row = table_rows(stdout)["spynet"][0]
    assert row.startswith("FAIL"), row
    if how == "nan":
        assert row.startswith("FAIL nan")


def test_usage_errors(gpu_check, capsys, monkeypatch):
    monkeypatch.delenv("OUT", raising=False)
    assert gpu_check.main(["--only", "no_such_path"]) == 2
    assert "no path matches no_such_path" in capsys.readouterr().err
    if not torch.cuda.is_available():
        assert gpu_check.main([]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "no CUDA device" in err and "--device cpu" in err
    assert gpu_check.main(["--list"]) == 0
    assert capsys.readouterr().out.split() == gpu_check.PATH_NAMES


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_tiny_without_compile(gpu_check, tmp_path):
    names = [n for n in gpu_check.PATH_NAMES if "compile" not in n]
    proc = run_bare("--tiny", "--only", ",".join(names), "--json", str(tmp_path / "g.json"))
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    rows = table_rows(proc.stdout)
    assert list(rows) == names
    assert all(agrees.startswith("PASS") for agrees, _, _ in rows.values()), rows
