"""Input checks of the TV-L1 functions: the images' type, shape and dtype, named in ValueErrors."""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["as_float_batch", "as_gray_array", "describe"]


def describe(x) -> str:
    """What ``x`` is (type, shape, dtype, device), for error messages."""
    if isinstance(x, torch.Tensor):
        return f"torch.Tensor shape {tuple(x.shape)} dtype {x.dtype} on {x.device}"
    if isinstance(x, np.ndarray):
        return f"numpy array shape {x.shape} dtype {x.dtype}"
    return type(x).__name__


def as_float_batch(x, name: str) -> torch.Tensor:
    """``x`` checked to be a (B, 1, H, W) grey batch (uint8 or float, 0-255), as float32."""
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name}: expected a torch.Tensor (B, 1, H, W), got {describe(x)}")
    if x.dim() != 4 or x.shape[1] != 1:
        raise ValueError(
            f"{name}: expected shape (B, 1, H, W) (grey images), got {tuple(x.shape)}"
        )
    if x.shape[0] < 1 or x.shape[2] < 3 or x.shape[3] < 3:
        raise ValueError(f"{name}: expected B >= 1 and H, W >= 3, got shape {tuple(x.shape)}")
    if x.dtype == torch.uint8:
        return x.to(torch.float32)
    if x.dtype in (torch.float16, torch.bfloat16, torch.float32, torch.float64):
        return x.to(torch.float32)
    raise ValueError(
        f"{name}: expected dtype uint8 or floating point (0-255 scale), got {x.dtype}"
    )


def as_gray_array(x, name: str) -> np.ndarray:
    """``x`` checked to be an (H, W) grey image: uint8 as is, float (0-255) divided by 255."""
    if not isinstance(x, np.ndarray):
        raise ValueError(f"{name}: expected a numpy array (H, W), got {describe(x)}")
    if x.ndim != 2 or x.shape[0] < 3 or x.shape[1] < 3:
        raise ValueError(f"{name}: expected shape (H, W) with H, W >= 3 (grey), got {x.shape}")
    if x.dtype == np.uint8:
        return np.ascontiguousarray(x)
    if np.issubdtype(x.dtype, np.floating):
        # OpenCV multiplies float input by 255 (it assumes [0, 1]); undo that up front so that
        # float input means the same 0-255 scale as uint8 here and in tvl1_torch.
        return np.ascontiguousarray(x, dtype=np.float32) / np.float32(255.0)
    raise ValueError(f"{name}: expected dtype uint8 or float (0-255 scale), got {x.dtype}")
