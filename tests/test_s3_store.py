"""Two clones on separate disks share one feature store through an S3 bucket (profiles/s3).

A local S3 endpoint (moto's server mode, on 127.0.0.1, started and stopped here) holds the
bucket; Alice computes and uploads every per-video stage shard, Bob downloads them and computes
none; a changed video re-keys only its own entries; an altered or truncated object is refused and
recomputed; a missing bucket, an unreachable endpoint and refused credentials each stop the plan
with one line."""

import hashlib
import json
import logging
import os
import re
import socket
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
from test_bare_command import clone
from test_workflow import BIN, TINY

from salprep.cli import main
from salprep.video import iter_frames, write_video

moto_server = pytest.importorskip("moto.server", reason="moto[server] not installed (pip install -e '.[test]')")
boto3 = pytest.importorskip("boto3")
pytest.importorskip("snakemake_storage_plugin_s3", reason="snakemake-storage-plugin-s3 not installed")

pytestmark = pytest.mark.slow

BUCKET = "team-store"
PREFIX = "salprep-cache"
CACHED = ("gt", "flow_tvl1")
#: one training video, one validation and the test video: every kind of job, one of each
SPLITS = "datasets: {demo: {splits: {train: '1', val: '601'}}}\n"
VIDEOS = ["001", "601", "701"]
ANNOTATED = VIDEOS[:2]  # the test video has no fixations: no GT
TARGETS = ["results/center_bias", *(f"store/demo/flow_tvl1/{v}.h5" for v in VIDEOS)]
#: what Alice builds: the cached stages' shards only (Bob trains and scores from them)
SHARDS = [*(f"store/demo/gt/{v}.h5" for v in ANNOTATED), *(f"store/demo/flow_tvl1/{v}.h5" for v in VIDEOS)]
N_ENTRIES = len(ANNOTATED) + len(VIDEOS)  # GT of the annotated videos, TV-L1 of every video
CREDS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
MOVED = re.compile(r"salprep: (stored|fetched) store/\w+/(\w+)/(\w+)\.h5 (?:to|from) cache (\S+) "
                   r"\((\d+) bytes, ([\d.]+) s\)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Requests(logging.Handler):
    """HTTP requests the S3 endpoint answered, by method (werkzeug's access log)."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.methods = Counter()

    def emit(self, record):
        m = re.search(r'([A-Z]+) /\S* HTTP/', record.getMessage())  # non-200 lines carry colour codes
        if m:
            self.methods[m.group(1)] += 1


@pytest.fixture(scope="module")
def s3():
    port = free_port()
    try:
        server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
    except Exception as exc:  # pragma: no cover - environment
        pytest.skip(f"moto server cannot start on 127.0.0.1:{port}: {exc}")
    endpoint = f"http://127.0.0.1:{port}"
    requests = Requests()
    wz = logging.getLogger("werkzeug")
    wz.addHandler(requests)
    wz.setLevel(logging.INFO)
    client = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="testing",
                          aws_secret_access_key="testing", region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    yield endpoint, client, requests
    wz.removeHandler(requests)
    server.stop()


def run(project: Path, endpoint: str, *args: str, targets=TARGETS, config="tiny.yaml", **env_extra):
    env = {**os.environ, **CREDS, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
           "SNAKEMAKE_OUTPUT_CACHE": f"s3://{BUCKET}/{PREFIX}", "SNAKEMAKE_STORAGE_S3_ENDPOINT_URL": endpoint,
           **env_extra}
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "SNAKEMAKE_STORAGE_S3_ACCESS_KEY", "SNAKEMAKE_STORAGE_S3_SECRET_KEY"):
        env.pop(key, None)
    cmd = [str(BIN / "snakemake"), "--workflow-profile", "profiles/s3", "--configfile=" + str(project.parent / config),
           "--cores", "2", *args, *targets]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True, timeout=900)
    proc.wall = time.perf_counter() - start
    return proc


def moved(proc, kind):
    """(stage, video, key, bytes, seconds) of the shards a run stored or fetched."""
    return [(m[2], m[3], m[4], int(m[5]), float(m[6])) for m in MOVED.finditer(proc.stderr) if m[1] == kind]


def keys(client):
    return {o["Key"] for o in client.list_objects_v2(Bucket=BUCKET, Prefix=PREFIX + "/").get("Contents", [])}


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def report(name, proc, requests_before, requests):
    """Measurements (pytest -s shows them): bytes and seconds per stage, requests, wall time."""
    lines = [f"[s3 store] {name}: wall {proc.wall:.1f} s"]
    for kind in ("stored", "fetched"):
        per = {}
        for stage, _, _, size, secs in moved(proc, kind):
            n, b, t = per.get(stage, (0, 0, 0.0))
            per[stage] = (n + 1, b + size, t + secs)
        for stage, (n, b, t) in sorted(per.items()):
            lines.append(f"  {kind} {stage}: {n} shards, {b} bytes, {t:.3f} s")
    lines.append(f"  requests: {dict(requests.methods - requests_before)}")
    print("\n".join(lines))


@pytest.fixture(scope="module")
def two_clones(s3, tmp_path_factory):
    endpoint, client, requests = s3
    base = tmp_path_factory.mktemp("s3store")
    (base / "tiny.yaml").write_text(TINY + SPLITS)
    a = clone(base / "alice" / "salprep")  # separate folders: separate local disks, nothing shared
    b = clone(base / "bob" / "salprep")
    (a.parent / "tiny.yaml").write_text(TINY + SPLITS)
    (b.parent / "tiny.yaml").write_text(TINY + SPLITS)
    before = requests.methods.copy()
    first = run(a, endpoint, targets=SHARDS)
    assert first.returncode == 0, first.stderr[-3000:]
    report("alice (computes, uploads)", first, before, requests)
    before = requests.methods.copy()
    second = run(b, endpoint)
    assert second.returncode == 0, second.stderr[-3000:]
    report("bob (downloads)", second, before, requests)
    print(f"[s3 store] bob/alice wall ratio {second.wall / first.wall:.2f}")
    return a, b, first, second


def test_first_clone_uploads_every_stage_shard(two_clones, s3):
    _, client, _ = s3
    a, _, first, _ = two_clones
    stored = moved(first, "stored")
    assert sorted((s, v) for s, v, *_ in stored) == sorted(
        [("gt", v) for v in ANNOTATED] + [("flow_tvl1", v) for v in VIDEOS])
    assert len(keys(client)) == N_ENTRIES and not moved(first, "fetched")
    for stage, video, key, size, _ in stored:  # the bucket holds the shard's very bytes
        obj = client.get_object(Bucket=BUCKET, Key=key.split(f"s3://{BUCKET}/", 1)[1])["Body"].read()
        assert hashlib.sha256(obj).hexdigest() == sha(a / "store" / "demo" / stage / f"{video}.h5")


def test_second_clone_computes_no_stage_job(two_clones, s3):
    _, client, _ = s3
    a, b, _, second = two_clones
    assert len(moved(second, "fetched")) == N_ENTRIES and not moved(second, "stored")
    assert len(keys(client)) == N_ENTRIES
    text = second.stdout + second.stderr
    for stage in CACHED:  # Snakemake planned the jobs (its "rule <stage>:" lines) ...
        assert f"rule {stage}:" in text, stage
        logs = list((b / "logs" / "demo" / stage).iterdir())
        # ... and created their logs, which the command would have written to: it never ran
        assert logs and all(log.stat().st_size == 0 for log in logs), stage
        shards = sorted((b / "store" / "demo" / stage).glob("*.h5"))
        assert shards and all(not p.is_symlink() for p in shards)  # local files on Bob's disk
        assert [sha(p) for p in shards] == [sha(a / "store" / "demo" / stage / p.name) for p in shards], stage
    # training and evaluation ran in Bob's workspace, on his local copies of the fetched GT
    assert (b / "logs" / "demo" / "train" / "center_bias.log").exists()
    assert json.loads((b / "results" / "center_bias" / "metrics.json").read_text())["val"]["n_frames"] == 12


def test_fetched_shards_verify(two_clones, monkeypatch):
    _, b, _, _ = two_clones
    monkeypatch.chdir(b)
    assert main(["verify", "-q", "store/demo"]) == 0


def test_a_changed_video_rekeys_only_its_entries(two_clones, s3):
    """The demo's videos are made by a job, so their cache key holds that job's settings, not
    their bytes (as for the demo annotations, README): the same videos as a dataset of files
    ("mini", not demo) are keyed on their contents."""
    endpoint, client, _ = s3
    _, b, _, _ = two_clones
    (b.parent / "mini.yaml").write_text(TINY + "dataset: mini\ndatasets: {mini: {layout: dhf1k, root: data/demo, "
                                        "splits: {train: '1', val: '601', test: '701'}}}\n")
    targets = [*(f"store/mini/flow_tvl1/{v}.h5" for v in VIDEOS), *(f"store/mini/gt/{v}.h5" for v in ANNOTATED)]
    proc = run(b, endpoint, targets=targets, config="mini.yaml")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(moved(proc, "stored")) == N_ENTRIES and not moved(proc, "fetched")
    before = keys(client)
    video = b / "data" / "demo" / "video" / "001.AVI"
    write_video(video, list(iter_frames(video)), quality=6)  # new content, same frames
    proc = run(b, endpoint, targets=targets, config="mini.yaml")
    assert proc.returncode == 0, proc.stderr[-3000:]
    stored = moved(proc, "stored")
    assert sorted((s, v) for s, v, *_ in stored) == [("flow_tvl1", "001"), ("gt", "001")], stored
    assert not moved(proc, "fetched")  # no other job ran at all
    assert keys(client) - before == {key.split(f"s3://{BUCKET}/", 1)[1] for _, _, key, _, _ in stored}
    assert before <= keys(client)  # the old entries stay (other workspaces may still use them)
    assert (b / "logs" / "mini" / "flow_tvl1" / "001.log").stat().st_size > 0


def test_an_altered_or_truncated_object_is_refused_and_recomputed(two_clones, s3, monkeypatch):
    endpoint, client, _ = s3
    a, b, _, second = two_clones
    entry = {(s, v): key.split(f"s3://{BUCKET}/", 1)[1] for s, v, key, *_ in moved(second, "fetched")}
    altered, truncated = entry[("flow_tvl1", "601")], entry[("flow_tvl1", "701")]
    body = bytearray(client.get_object(Bucket=BUCKET, Key=altered)["Body"].read())
    for i in range(len(body) // 2, len(body) // 2 + 64):  # bytes inside the data chunks
        body[i] ^= 0xFF
    client.put_object(Bucket=BUCKET, Key=altered, Body=bytes(body))
    full = client.get_object(Bucket=BUCKET, Key=truncated)["Body"].read()
    client.put_object(Bucket=BUCKET, Key=truncated, Body=full[: len(full) // 2])
    for v in ("601", "701"):
        (b / "store" / "demo" / "flow_tvl1" / f"{v}.h5").unlink()
    proc = run(b, endpoint, targets=[f"store/demo/flow_tvl1/{v}.h5" for v in ("601", "701")])
    assert proc.returncode == 0, proc.stderr[-3000:]
    for v, key in (("601", altered), ("701", truncated)):
        assert re.search(rf"salprep: warning: cache entry s3://{BUCKET}/{key} for store/demo/flow_tvl1/{v}\.h5 "
                         r"refused \(.+\); recomputing", proc.stderr), proc.stderr[-3000:]
        assert (b / "logs" / "demo" / "flow_tvl1" / f"{v}.log").stat().st_size > 0  # computed here
        # the recomputed shard replaced the bad entry
        repaired = client.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        assert hashlib.sha256(repaired).hexdigest() == sha(b / "store" / "demo" / "flow_tvl1" / f"{v}.h5")
    monkeypatch.chdir(b)
    assert main(["verify", "-q", "store/demo/flow_tvl1"]) == 0


def test_failures_stop_the_plan_with_one_line(two_clones, s3, monkeypatch):
    endpoint, client, _ = s3
    _, b, _, _ = two_clones
    from moto import settings as moto_settings

    from salprep.storage_cache import probe_s3

    class Provider:  # what probe_s3 uses of the plugin's provider
        def __init__(self, url, key="testing"):
            self.s3c = boto3.resource("s3", endpoint_url=url, aws_access_key_id=key,
                                      aws_secret_access_key="testing", region_name="us-east-1",
                                      config=boto3.session.Config(retries={"max_attempts": 1}))

    location = f"s3://{BUCKET}/{PREFIX}"
    assert probe_s3(Provider(endpoint), location) is None
    assert "unreachable" in probe_s3(Provider(f"http://127.0.0.1:{free_port()}"), location)
    assert "bucket 'absent' does not exist" in probe_s3(Provider(endpoint), "s3://absent/x")
    monkeypatch.setattr(moto_settings, "INITIAL_NO_AUTH_ACTION_COUNT", 0)  # moto checks keys from now on
    assert "credentials refused" in probe_s3(Provider(endpoint, key="AKIAUNKNOWN0000000000"), location)
    monkeypatch.undo()
    # the same at plan time, in one line, before any job (a dry run here)
    proc = run(b, endpoint, "-n", SNAKEMAKE_OUTPUT_CACHE="s3://absent/salprep-cache")
    assert proc.returncode != 0
    assert ("$SNAKEMAKE_OUTPUT_CACHE=s3://absent/salprep-cache: bucket 'absent' does not exist at "
            f"{endpoint}") in proc.stdout + proc.stderr
