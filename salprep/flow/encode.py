"""LSTS flow encoding: TV-L1 flow at 112 px -> 224 px, clipped, scaled to [-1, 1], stored as int8.

The LSTS recipe (MODELS.md): flow computed at 112 px, upsampled to 224, clipped to [-20, 20] and
scaled to [-1, 1] before the I3D flow stream. Choices made here (they are part of the stored data):

* upsampling: bilinear, ``align_corners=False`` (OpenCV INTER_LINEAR / ``cv2.resize`` geometry),
  no antialiasing (it is an upsampling). The flow *vectors* are multiplied by the resize factor
  of their axis (dx by W_out / W_in, dy by H_out / H_in): flow is in pixels, and a 2x larger
  frame sees 2x larger displacements. The clip bound (20 by default) therefore applies to
  displacements in 224-px pixels, i.e. +-10 px at the 112-px resolution the flow was computed at;
* clipping to ``[-bound, bound]``, then division by ``bound``: values in [-1, 1];
* quantisation: ``q = round(value * 127)`` as int8 in [-127, 127] (-128 never written), so
  ``value = q * scale`` with ``scale = 1 / 127``; the quantisation step is ``bound / 127`` pixels
  (0.157 px for bound 20), the maximum rounding error half of that.

Both functions accept numpy arrays or torch tensors and return the same kind (tensors stay on their
device).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from salprep.flow.tvl1.inputs import describe

__all__ = ["encode_flow_lsts", "decode_flow_lsts", "LSTS_QUANT_LEVELS", "LSTS_SCALE"]

#: int8 code of +1.0 (and -LSTS_QUANT_LEVELS of -1.0).
LSTS_QUANT_LEVELS = 127
#: multiply an int8 code by this to get the value in [-1, 1].
LSTS_SCALE = 1.0 / LSTS_QUANT_LEVELS


def encode_flow_lsts(flow, bound: float = 20.0, upsample: float = 2.0):
    """Encode flow as LSTS does: upsample, clip to +-bound, scale to [-1, 1], quantise to int8.

    Args:
        flow: (B, 2, h, w) flow in pixels (channel 0 = dx, 1 = dy), e.g. TV-L1 at 112x112;
            numpy array or torch tensor, any float dtype.
        bound: clip bound in pixels *after* upsampling (LSTS: 20).
        upsample: resize factor (2: 112 -> 224). Output size is ``round(h * upsample)`` x
            ``round(w * upsample)``; the vectors are multiplied by the per-axis size ratio.
            1 skips the resize.

    Returns:
        ``(q, scale)``: ``q`` int8 (B, 2, H, W) with values in [-127, 127] (numpy in -> numpy out,
        tensor in -> tensor on the same device), and ``scale`` = 1/127, the float with
        ``value = q * scale`` in [-1, 1] (``value * bound`` = flow in 224-px pixels, clipped).
    """
    is_numpy = isinstance(flow, np.ndarray)
    if not (is_numpy or isinstance(flow, torch.Tensor)):
        raise ValueError(
            f"flow: expected a numpy array or torch tensor (B, 2, h, w), got {describe(flow)}"
        )
    if flow.ndim != 4 or flow.shape[1] != 2:
        raise ValueError(f"flow: expected shape (B, 2, h, w), got {tuple(flow.shape)}")
    if is_numpy:
        if not np.issubdtype(flow.dtype, np.floating):
            raise ValueError(f"flow: expected a floating dtype, got {flow.dtype}")
    elif not flow.is_floating_point():
        raise ValueError(f"flow: expected a floating dtype, got {flow.dtype}")
    if isinstance(bound, bool) or not isinstance(bound, (int, float)) or not bound > 0:
        raise ValueError(f"bound: expected a number > 0, got {bound!r}")
    if isinstance(upsample, bool) or not isinstance(upsample, (int, float)) or not upsample > 0:
        raise ValueError(f"upsample: expected a number > 0, got {upsample!r}")

    x = torch.from_numpy(np.ascontiguousarray(flow, dtype=np.float32)) if is_numpy else flow.float()
    h, w = x.shape[-2:]
    out_h, out_w = max(1, int(round(h * upsample))), max(1, int(round(w * upsample)))
    with torch.no_grad():
        if (out_h, out_w) != (h, w):
            x = F.interpolate(x, size=(out_h, out_w), mode="bilinear", align_corners=False)
            ratio = torch.tensor([out_w / w, out_h / h], dtype=x.dtype, device=x.device)
            x = x * ratio.view(1, 2, 1, 1)
        x = torch.nan_to_num(x, nan=0.0)  # NaN flow (none from TV-L1) would otherwise cast badly
        x = x.clamp(-bound, bound) / bound
        q = torch.round(x * LSTS_QUANT_LEVELS).clamp(-LSTS_QUANT_LEVELS, LSTS_QUANT_LEVELS)
        q = q.to(torch.int8)
    return (q.numpy() if is_numpy else q), LSTS_SCALE


def decode_flow_lsts(q):
    """int8 LSTS codes -> float32 values in [-1, 1] (``q / 127``; -128 is clipped to -1).

    numpy in -> numpy out; tensor in -> tensor on the same device. Multiply by the encoding
    bound (20) for pixels at the upsampled (224-px) resolution.
    """
    if isinstance(q, np.ndarray):
        if q.dtype != np.int8:
            raise ValueError(f"q: expected dtype int8, got {q.dtype}")
        return np.clip(q.astype(np.float32) * np.float32(LSTS_SCALE), -1.0, 1.0)
    if isinstance(q, torch.Tensor):
        if q.dtype != torch.int8:
            raise ValueError(f"q: expected dtype int8, got {q.dtype}")
        return (q.to(torch.float32) * LSTS_SCALE).clamp(-1.0, 1.0)
    raise ValueError(f"q: expected an int8 numpy array or torch tensor, got {describe(q)}")
