"""The workflow config at plan time: :func:`check_config` (the schema
workflow/schemas/config.schema.yaml with the registry's ``models`` schema put in; a problem is one
line naming the key and the config file it came from, not a dump of the schema) and
:func:`check_splits` (no video in two splits where one of them is read by training).
:func:`schema_errors` is also what :meth:`salprep.models.registry.ModelSpec.settings` checks
``salprep train --settings-json`` with. Imports neither torch nor PyAV.
"""

from __future__ import annotations

from pathlib import Path

from salprep.errors import SalprepError
from salprep.schema_lines import and_more, error_line, schema_errors, validator_class  # noqa: F401 (re-exported)


#: the splits the workflow's training reads: ``train``, and ``val`` (its loss drives SalBCE's
#: ReduceLROnPlateau, :attr:`ModelSpec.val_loss`)
TRAINING_SPLITS = ("train", "val")
#: where :func:`check_config` puts the registry's ``models`` schema
#: (:func:`salprep.models.registry.models_schema`)
MODELS_SCHEMA_AT = ("definitions", "models")


def config_schema(schema_file) -> dict:
    """workflow/schemas/config.schema.yaml with the registry's ``models`` schema in place of its
    placeholder (:data:`MODELS_SCHEMA_AT`)."""
    import yaml

    from salprep.models.registry import models_schema

    schema = yaml.safe_load(Path(schema_file).read_text())
    placeholder = schema
    for key in MODELS_SCHEMA_AT:
        placeholder = placeholder[key]
    placeholder.clear()
    placeholder.update(models_schema())
    return schema


def config_source(sources, path) -> str | None:
    """Which of ``sources`` (``[(name, mapping)]``, lowest precedence first: config files in the
    order Snakemake merges them, then ``--config``) gives the key at ``path``; None if none does."""
    for name, data in reversed(list(sources or ())):
        node = data
        for key in path:
            if not isinstance(node, dict) or key not in node:
                break
            node = node[key]
        else:
            return name
    return None


def read_sources(files, cli: dict | None = None) -> list[tuple[str, dict]]:
    """Config files (lowest precedence first; unreadable ones skipped: Snakemake has read them)
    and the ``--config`` values, as :func:`config_source` takes them."""
    import yaml

    sources = []
    for path in files:
        try:
            data = yaml.safe_load(Path(path).read_text())
        except (OSError, ValueError):
            continue
        if isinstance(data, dict):
            sources.append((str(path), data))
    if cli:
        sources.append(("--config", dict(cli)))
    return sources


def check_config(config: dict, schema_file, sources=()) -> None:
    """Validate the workflow config against its schema (:func:`config_schema`) at plan time,
    filling in the schema's defaults; a problem is one :class:`SalprepError` line: ``Error
    validating config: <key>: <what is wrong>``, with the file that gave the key
    (:func:`config_source`) as its path, and how many more problems there are."""
    from jsonschema.exceptions import relevance

    validator = validator_class()(config_schema(schema_file))
    errors = sorted(validator.iter_errors(config), key=relevance, reverse=True)
    if not errors:
        return
    line, path = error_line(errors[0], "")
    raise SalprepError(f"Error validating config: {line}{and_more(len(errors) - 1)}", config_source(sources, path))


def check_splits(splits: dict, where: str = "splits", path=None) -> None:
    """Refuse splits that share a video where one of them is read by training
    (:data:`TRAINING_SPLITS`): a shared video's scores would include data the model was fitted
    on (train) or whose loss steered its schedule (val, SalBCE). Other splits (``test`` and any
    more) are only scored: two of them may share videos. One line naming every overlapping pair
    and the videos."""
    names = list(splits)
    pairs = []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if a not in TRAINING_SPLITS and b not in TRAINING_SPLITS:
                continue
            first, second = (a, b) if _split_rank(a) <= _split_rank(b) else (b, a)
            seen = set(splits[second])
            shared = [v for v in dict.fromkeys(splits[first]) if v in seen]
            if shared:
                shown = ", ".join(shared[:5]) + (", ..." if len(shared) > 5 else "")
                count = f"{len(shared)} video{'s' if len(shared) > 1 else ''}"
                pairs.append((_split_rank(first), _split_rank(second), f"{first} and {second} share {count} ({shown})"))
    if pairs:
        text = "; ".join(p[2] for p in sorted(pairs))
        raise SalprepError(f"{where}: {text}: training reads train and val (val's loss steers SalBCE's schedule), so "
                           "their videos may be in no other split (scores would include data training saw)", path)


def _split_rank(name: str) -> int:
    return TRAINING_SPLITS.index(name) if name in TRAINING_SPLITS else len(TRAINING_SPLITS)
