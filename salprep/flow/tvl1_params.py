"""TV-L1 parameters: OpenCV's defaults and their checks (numpy only, no torch: the recipe
record and the command line read them without loading the solver, :mod:`salprep.flow.tvl1`)."""

from __future__ import annotations

import math

import numpy as np

#: OpenCV's defaults for ``DualTVL1OpticalFlow`` (same names as the keyword arguments).
DEFAULT_PARAMS: dict = {
    "tau": 0.25,
    "lambda_": 0.15,
    "theta": 0.3,
    "nscales": 5,
    "warps": 5,
    "epsilon": 0.01,
    "inner_iterations": 30,
    "outer_iterations": 10,
    "scale_step": 0.8,
    "gamma": 0.0,
    "median_filtering": 5,
    "use_initial_flow": False,
}



# ----------------------------------------------------------------------------------------------
# parameter and input checks


def _check_params(
    tau, lambda_, theta, nscales, warps, epsilon, inner_iterations, outer_iterations,
    scale_step, gamma, median_filtering, use_initial_flow, *, max_median=None,
) -> dict:
    def number(name, value, *, low=None, low_open=False, high=None, high_open=False):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise ValueError(f"{name}: expected a number, got {value!r}")
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"{name}: expected a finite number, got {value!r}")
        if low is not None and (value <= low if low_open else value < low):
            raise ValueError(f"{name}: expected {'>' if low_open else '>='} {low}, got {value!r}")
        if high is not None and (value >= high if high_open else value > high):
            raise ValueError(f"{name}: expected {'<' if high_open else '<='} {high}, got {value!r}")
        return value

    def integer(name, value, low):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ValueError(f"{name}: expected an integer, got {value!r}")
        if value < low:
            raise ValueError(f"{name}: expected an integer >= {low}, got {value!r}")
        return int(value)

    median = integer("median_filtering", median_filtering, 0)
    if median > 1 and median % 2 == 0:
        raise ValueError(f"median_filtering: expected 0/1 (off) or an odd size, got {median}")
    if max_median is not None and median > max_median:
        raise ValueError(
            f"median_filtering: OpenCV supports at most {max_median} on float images, got {median}"
        )
    if not isinstance(use_initial_flow, (bool, np.bool_)):
        raise ValueError(f"use_initial_flow: expected a bool, got {use_initial_flow!r}")
    return {
        "tau": number("tau", tau, low=0, low_open=True),
        "lambda_": number("lambda_", lambda_, low=0),
        "theta": number("theta", theta, low=0, low_open=True),
        "nscales": integer("nscales", nscales, 1),
        "warps": integer("warps", warps, 0),
        "epsilon": number("epsilon", epsilon, low=0),
        "inner_iterations": integer("inner_iterations", inner_iterations, 0),
        "outer_iterations": integer("outer_iterations", outer_iterations, 0),
        "scale_step": number(
            "scale_step", scale_step, low=0, low_open=True, high=1, high_open=True
        ),
        "gamma": number("gamma", gamma),
        "median_filtering": median,
        "use_initial_flow": bool(use_initial_flow),
    }


def check_params(**params) -> dict:
    """All TV-L1 parameters (OpenCV defaults filled in), validated; ValueError names the bad one."""
    unknown = sorted(set(params) - set(DEFAULT_PARAMS))
    if unknown:
        raise ValueError(f"unknown TV-L1 parameter(s) {unknown}; known: {sorted(DEFAULT_PARAMS)}")
    return _check_params(**{**DEFAULT_PARAMS, **params})
