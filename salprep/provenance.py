"""Provenance records written next to results (``provenance.json``)."""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import json
import platform
import sys
from pathlib import Path

from salprep import __version__
from salprep.store import read_attrs, sha256_file

_PACKAGES = ("numpy", "scipy", "h5py", "av", "torch", "torchvision", "dask", "snakemake")


def package_versions() -> dict[str, str]:
    out = {"salprep": __version__, "python": sys.version.split()[0], "platform": platform.platform()}
    for name in _PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def shard_record(path: str | Path) -> dict:
    attrs = read_attrs(path)
    return {
        "path": str(path),
        "sha256": sha256_file(path),
        "stage": attrs.get("salprep_type"),
        "stage_version": attrs.get("stage_version"),
        "source_sha256": attrs.get("source_sha256"),
        "weights": attrs.get("weights"),
    }


def write_provenance(path: str | Path, *, config: dict | None, shards: list[str | Path], weights: str,
                     extra: dict | None = None) -> dict:
    record = {
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "command": sys.argv,
        "config": config or {},
        "weights": weights,
        "versions": package_versions(),
        "shards": [shard_record(p) for p in shards],
        **(extra or {}),
    }
    Path(path).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    return record


def parse_config_json(text: str | None) -> dict:
    """The ``--config-json`` argument rules pass (Snakemake's effective config)."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        from salprep.errors import SalprepError

        raise SalprepError(f"--config-json is not valid JSON ({exc})") from None
    return value if isinstance(value, dict) else {"value": value}
