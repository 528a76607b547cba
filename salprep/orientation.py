"""Rotation metadata of video frames: FFmpeg's display matrix as a turn of the stored picture.

:func:`frame_orientation` reads a decoded frame's ``DISPLAYMATRIX`` side data (PyAV hands it to
every frame) into an :class:`Orientation`, which :mod:`salprep.video` applies so that frames are
in display orientation, as players show them (the decision and its reasons: salprep.video's
module docstring).
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

import av
import numpy as np

from salprep.errors import SalprepError


@dataclass(frozen=True)
class Orientation:
    """How a display matrix turns a stored frame into the displayed one.

    ``transpose`` swaps rows and columns (a quarter turn, with ``flip_rows``/``flip_cols``
    deciding which); then rows and/or columns are reversed. ``degrees``: the matrix's rotation
    counter-clockwise in (-180, 180], the sign ffprobe and PyAV's ``VideoFrame.rotation`` use.
    """

    transpose: bool
    flip_rows: bool
    flip_cols: bool
    degrees: int

    def __bool__(self) -> bool:
        return self.transpose or self.flip_rows or self.flip_cols

    def apply(self, arr: np.ndarray) -> np.ndarray:
        """(h, w[, c]) stored -> (H, W[, c]) displayed, same dtype, C-contiguous."""
        if self.transpose:
            arr = arr.swapaxes(0, 1)
        if self.flip_rows:
            arr = arr[::-1]
        if self.flip_cols:
            arr = arr[:, ::-1]
        return np.ascontiguousarray(arr)

    def stored_size(self, width: int, height: int) -> tuple[int, int]:
        """(w, h) in the file of a displayed (width, height)."""
        return (height, width) if self.transpose else (width, height)

    @property
    def mirrored(self) -> bool:
        """Whether the matrix mirrors the picture (then ``degrees`` alone does not say what it does)."""
        return self.flip_rows == self.flip_cols if self.transpose else self.flip_rows != self.flip_cols

    def describe(self) -> str:
        """In words, e.g. ``"-90 degrees: displayed turned 90 degrees clockwise"``, or
        ``"displayed mirrored left-right"``; ``"as stored"`` for no turn."""
        if not self:
            return "as stored"
        words = {
            (False, True, True): "turned 180 degrees",
            (True, True, False): "turned 90 degrees counter-clockwise",
            (True, False, True): "turned 90 degrees clockwise",
            (False, False, True): "mirrored left-right",
            (False, True, False): "mirrored top-bottom",
            (True, False, False): "turned 90 degrees clockwise and mirrored left-right",
            (True, True, True): "turned 90 degrees counter-clockwise and mirrored left-right",
        }[(self.transpose, self.flip_rows, self.flip_cols)]
        return f"displayed {words}" if self.mirrored else f"{self.degrees} degrees: displayed {words}"

    def note(self, width: int, height: int) -> str:
        sw, sh = self.stored_size(width, height)
        return (f" as displayed (its rotation metadata, {self.describe()}, is applied; the file stores "
                f"{sw}x{sh} frames)")


IDENTITY = Orientation(False, False, False, 0)
_ONE = 1 << 16  # 1.0 in the display matrix's 16.16 fixed point


def _rotate_tag(stream) -> str | None:
    for key, value in stream.metadata.items():
        if key.lower() == "rotate" and str(value).strip() not in ("", "0", "0.0"):
            return str(value).strip()
    return None


def frame_orientation(frame, stream=None, path=None) -> Orientation:
    """The :class:`Orientation` of a decoded frame's ``DISPLAYMATRIX`` side data.

    The matrix (FFmpeg's ``[a b u; c d v; x y w]``, a-d in 16.16 fixed point) maps a stored
    pixel (p, q) to (a p + c q, b p + d q) on display (plus a translation); salprep applies it
    when a-d are 0 or +-1 (every multiple of 90 degrees, with or without a mirroring) -- the
    same frames FFmpeg's autorotate gives.

    Raises:
        SalprepError (naming ``path``): a matrix at another angle or with a scale; no matrix but
        a ``rotate`` tag on ``stream``.
    """
    side = frame.side_data.get(av.sidedata.sidedata.Type.DISPLAYMATRIX)
    if side is None:
        tag = _rotate_tag(stream) if stream is not None else None
        if tag is not None:
            raise SalprepError(f"the video carries a rotate tag ({tag} degrees) but no display matrix: FFmpeg 8 "
                               "players show it as stored, older tools turned it, so salprep cannot tell which "
                               "orientation annotations were drawn on; remux it without the tag (ffmpeg -i IN -c "
                               "copy -metadata:s:v rotate= OUT) or re-encode it upright", path)
        return IDENTITY
    a, b, _, c, d, _, _, _, _ = struct.unpack("<9i", bytes(side)[:36])
    scale_ab, scale_cd = math.hypot(a, c) or 1.0, math.hypot(b, d) or 1.0
    degrees = round(-math.degrees(math.atan2(b / scale_cd, a / scale_ab)))
    degrees = 180 if degrees == -180 else degrees
    unit = all(v in (0, _ONE, -_ONE) for v in (a, b, c, d))
    if not unit or (a == 0) != (d == 0) or (b == 0) != (c == 0) or (a == 0) == (b == 0):
        raise SalprepError(f"the video carries rotation metadata ({degrees} degrees, display matrix "
                           f"{a / _ONE:g} {b / _ONE:g} / {c / _ONE:g} {d / _ONE:g}) that salprep does not apply "
                           "(only multiples of 90 degrees without scaling): re-encode it upright "
                           "(ffmpeg -i IN OUT applies the rotation)", path)
    if a == 0:  # a quarter turn: display (y', x') = (b x, c y)
        return Orientation(True, b < 0, c < 0, degrees)
    return Orientation(False, d < 0, a < 0, degrees)
