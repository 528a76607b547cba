"""Snakemake's between-workflow cache in object storage (S3), for the cached rules' outputs only.

Snakemake 9.27 uses a storage-backed output cache (``snakemake.caching.storage``) only when a
*default storage provider* is set, and a default storage provider also turns every other input
and output of the workflow into a storage object (the videos, the annotations, training and
evaluation files: ``snakemake.path_modifier.apply_default_storage``). This module gives the
storage-backed cache without that: when ``--cache`` is given and ``SNAKEMAKE_OUTPUT_CACHE`` is a
storage URI (``s3://bucket/prefix``), :func:`install` registers the storage plugin (its settings
from ``--storage-s3-*`` or ``SNAKEMAKE_STORAGE_S3_*``; credentials from boto3's standard chain),
checks once at plan time that the bucket answers (one line otherwise), and has Snakemake build a
:class:`VerifyingStorageCache` where it would build its local (filesystem) cache. Every other
file stays local.

A fetched shard is verified (:func:`salprep.store.verify.verify_shard`: layout, attributes, every
chunk's fletcher32 checksum) before the job counts as done; one that fails is deleted, reported
on one line and recomputed (Snakemake then stores the good one over the bad entry).
"""

from __future__ import annotations

import os
import sys
import time

from salprep.errors import SalprepError

LOCATION_ENVVAR = "SNAKEMAKE_OUTPUT_CACHE"
TAG = "salprep_output_cache"


def _say(msg: str) -> None:
    sys.stderr.write(f"salprep: {msg}\n")  # one write: jobs run in threads
    sys.stderr.flush()


def probe_s3(provider, location: str) -> str | None:
    """Why the bucket of ``location`` (``s3://bucket/prefix``) cannot be used, or None (one HEAD request)."""
    import botocore.exceptions as bex

    bucket = location.split("://", 1)[1].split("/", 1)[0]
    client = provider.s3c.meta.client
    endpoint = client.meta.endpoint_url
    try:
        client.head_bucket(Bucket=bucket)
    except bex.NoCredentialsError:
        return ("no S3 credentials found (set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE or "
                "~/.aws/credentials)")
    except (bex.EndpointConnectionError, bex.ConnectTimeoutError, bex.ReadTimeoutError) as exc:
        return f"S3 endpoint {endpoint} unreachable ({type(exc).__name__})"
    except bex.ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in ("404", "NoSuchBucket") or status == 404:
            return f"bucket {bucket!r} does not exist at {endpoint} (create it once: `aws s3 mb s3://{bucket}`)"
        if code in ("403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch") or status == 403:
            return f"S3 credentials refused for bucket {bucket!r} at {endpoint} ({code or status})"
        return f"S3 error for bucket {bucket!r} at {endpoint}: {code or status}"
    except bex.BotoCoreError as exc:
        return f"S3 endpoint {endpoint}: {exc}"
    return None


def install(workflow) -> bool:
    """Called from the Snakefile: a storage-backed cache for ``--cache`` with a URI location.

    A no-op (False) without ``--cache``, with a filesystem location, or when the user set a
    default storage provider (then Snakemake's own storage cache is used)."""
    location = os.environ.get(LOCATION_ENVVAR, "")
    if workflow.workflow_settings.cache is None or "://" not in location:
        return False
    if workflow.storage_settings.default_storage_provider is not None:
        return False
    scheme = location.split("://", 1)[0]
    if scheme != "s3":
        raise SalprepError(f"${LOCATION_ENVVAR}={location}: only s3:// locations are supported "
                           "(or a folder on a shared filesystem)")
    location = location.rstrip("/")
    os.environ[LOCATION_ENVVAR] = location
    try:
        provider = workflow.storage_registry.register_storage("s3", tag=TAG)
    except Exception as exc:  # plugin missing or its settings invalid
        raise SalprepError(f"${LOCATION_ENVVAR}={location}: {exc} (install salprep[s3])") from None
    problem = probe_s3(provider, location)
    if problem:
        raise SalprepError(f"${LOCATION_ENVVAR}={location}: {problem}")

    import snakemake.workflow as smw

    cache = _make_cache_class()(provider)
    # Snakemake builds its local cache here (workflow._prepare_dag) when no default storage
    # provider is set: build ours instead. Pinned to snakemake 9.27 (pyproject).
    smw.LocalOutputFileCache = lambda: cache
    return True


def _make_cache_class():
    from snakemake.caching.storage import OutputFileCache
    from snakemake.exceptions import CacheMissException

    from salprep.store.verify import verify_shard

    class VerifyingStorageCache(OutputFileCache):
        """Snakemake's storage-backed output cache; logs each transfer and verifies fetched shards."""

        async def _key(self, job) -> str:
            return f"{self.cache_location}/{await self.provenance_hash_map.get_provenance_hash(job)}"

        async def store(self, job):
            start = time.perf_counter()
            await super().store(job)
            key = await self._key(job)
            for outputfile, ext in self.get_outputfiles(job):
                _say(f"stored {outputfile} to cache {key}{ext} ({os.path.getsize(outputfile)} bytes, "
                     f"{time.perf_counter() - start:.3f} s)")

        async def fetch(self, job):
            start = time.perf_counter()
            await super().fetch(job)  # CacheMissException when absent: the job runs
            key = await self._key(job)
            elapsed = time.perf_counter() - start
            refused = []
            for outputfile, ext in self.get_outputfiles(job):
                if outputfile.endswith(".h5"):
                    problems = verify_shard(outputfile)
                    if problems:
                        refused.append((outputfile, ext, problems[0]))
            if refused:
                for outputfile, ext, problem in refused:
                    _say(f"warning: cache entry {key}{ext} for {outputfile} refused ({problem}); recomputing")
                for outputfile, _ in self.get_outputfiles(job):
                    if os.path.lexists(outputfile):
                        os.remove(outputfile)
                raise CacheMissException(f"Job {job}: cache entry refused")
            for outputfile, ext in self.get_outputfiles(job):
                _say(f"fetched {outputfile} from cache {key}{ext} ({os.path.getsize(outputfile)} bytes, "
                     f"{elapsed:.3f} s)")

    return VerifyingStorageCache

