"""What every reliability test checks: exactly one ``salprep: error:`` line, and folders whose
files are byte-identical before and after."""

from __future__ import annotations

from pathlib import Path


def one_error_line(capsys) -> str:
    """The one stderr line of a failed command (asserts there is exactly one, and its prefix)."""
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith("salprep: error: "), err
    return err[0]


def snapshot(folder: Path) -> dict:
    """Every file under ``folder`` with its bytes (compare two to prove nothing was touched)."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
