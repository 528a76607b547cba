"""TV-L1 flow of one grey pair with OpenCV's ``cv2.optflow.DualTVL1OpticalFlow`` (the reference)."""

from __future__ import annotations

import numpy as np

from salprep.flow.tvl1.inputs import as_gray_array, describe
from salprep.flow.tvl1_params import PARAMS, call_params, with_params_doc

__all__ = ["tvl1_opencv"]


@with_params_doc
def tvl1_opencv(
    first: np.ndarray,
    second: np.ndarray,
    *,
    initial_flow: np.ndarray | None = None,
    **params,
) -> np.ndarray:
    """TV-L1 flow of one grey pair with OpenCV's ``cv2.optflow.DualTVL1OpticalFlow``.

    Args:
        first, second: (H, W) grey images, uint8 (passed to OpenCV unchanged). Float arrays are
            read on the same 0-255 scale: they are divided by 255 before OpenCV, which multiplies
            float input by 255 (OpenCV's own convention is float in [0, 1]).
        initial_flow: (H, W, 2) flow to start from, with ``use_initial_flow=True``.
        **params: the TV-L1 parameters, OpenCV's names and defaults (listed below);
            ``median_filtering`` at most 5.

    Returns:
        (H, W, 2) float32 flow, [..., 0] = dx, [..., 1] = dy, ``first(x) ~ second(x + flow(x))``.
    """
    prm = call_params("tvl1_opencv", params, max_median=5)
    i0 = as_gray_array(first, "first")
    i1 = as_gray_array(second, "second")
    if i0.shape != i1.shape:
        raise ValueError(
            f"first and second: expected the same shape, got {i0.shape} and {i1.shape}"
        )
    if i0.dtype != i1.dtype:  # OpenCV needs one type; uint8 + float: both as float
        i0 = i0.astype(np.float32) / (255.0 if i0.dtype == np.uint8 else 1.0)
        i1 = i1.astype(np.float32) / (255.0 if i1.dtype == np.uint8 else 1.0)
    import cv2  # lazily: the torch path must work where OpenCV is not installed

    algo = cv2.optflow.DualTVL1OpticalFlow_create()
    # setters rather than create() keywords: the binding misspells one ("innnerIterations")
    for name, p in PARAMS.items():
        getattr(algo, p.setter)(prm[name])
    if prm["use_initial_flow"]:
        if not isinstance(initial_flow, np.ndarray) or initial_flow.shape != i0.shape + (2,):
            raise ValueError(
                f"initial_flow: expected a numpy array of shape {i0.shape + (2,)} with "
                f"use_initial_flow=True, got {describe(initial_flow)}"
            )
        flow = np.ascontiguousarray(initial_flow, dtype=np.float32).copy()
    elif initial_flow is not None:
        raise ValueError("initial_flow: given, but use_initial_flow is False (set it to True)")
    else:
        flow = None
    flow = algo.calc(i0, i1, flow)
    return np.asarray(flow, dtype=np.float32)
