"""The one domain error: bad input the user can fix.

Raising :class:`SalprepError` anywhere below a subcommand makes ``salprep`` print one line,
``salprep: error: <message>``, and exit with code 2 (no traceback). Messages name the file and
what is wrong with it.
"""

from __future__ import annotations

import errno
import os

EXIT_BAD_INPUT = 2
#: OSError numbers that mean "not allowed to read or write here" (EACCES, EPERM, EROFS): the
#: user's to fix, so one line, not a traceback
NOT_ALLOWED = {errno.EACCES, errno.EPERM, errno.EROFS}


class SalprepError(Exception):
    """Bad input (file, argument, checkpoint): one-line message, exit code 2."""

    def __init__(self, message: str, path: str | os.PathLike | None = None):
        self.path = None if path is None else os.fspath(path)
        self.message = message
        super().__init__(f"{self.path}: {message}" if self.path else message)

    def one_line(self) -> str:
        return " ".join(str(self).split())
