"""TV-L1 parameters: the one table of their names, defaults, types and meanings, and their checks.

Numpy only, no torch: the recipe record and the command line read the table without loading the
solver (:mod:`salprep.flow.tvl1`). Everything else derives from :data:`PARAMS`:
:data:`DEFAULT_PARAMS`, the keyword arguments :func:`~salprep.flow.tvl1.tvl1_torch` and
:func:`~salprep.flow.tvl1.tvl1_opencv` accept (and OpenCV's setters the latter calls), the
stage's command-line types (:data:`salprep.stages.flow_tvl1.TVL1_PARAMS`) and the paper settings
in ``results/recipe.json``.

Source of every default: OpenCV's ``cv2.optflow.DualTVL1OpticalFlow_create()`` (opencv_contrib
``optflow/src/tvl1flow.cpp``), which the LSTS recipe uses unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Param:
    """One TV-L1 parameter: OpenCV's default, the setter that sets it, what it means, its range.

    Its type is the default's (float, int or bool). ``low`` / ``high`` bound a number (``None``:
    unbounded), excluded with ``low_open`` / ``high_open``.
    """

    default: float | int | bool
    setter: str
    meaning: str
    low: float | None = None
    low_open: bool = False
    high: float | None = None
    high_open: bool = False

    @property
    def type(self) -> type:
        return type(self.default)


#: name (the keyword argument) -> default, OpenCV setter, meaning, range
PARAMS: dict[str, Param] = {
    "tau": Param(0.25, "setTau", "time step of the primal-dual scheme", low=0, low_open=True),
    "lambda_": Param(0.15, "setLambda", "weight of the data term (smaller: smoother flow)", low=0),
    "theta": Param(0.3, "setTheta", "coupling of the flow and its auxiliary variable", low=0, low_open=True),
    "nscales": Param(5, "setScalesNumber", "pyramid levels at most", low=1),
    "warps": Param(5, "setWarpingsNumber", "warps of the second image per level", low=0),
    "epsilon": Param(0.01, "setEpsilon", "stopping threshold (rms flow change per iteration)", low=0),
    "inner_iterations": Param(30, "setInnerIterations", "iterations per outer iteration", low=0),
    "outer_iterations": Param(10, "setOuterIterations", "outer iterations per warp", low=0),
    "scale_step": Param(0.8, "setScaleStep", "size ratio of consecutive pyramid levels",
                        low=0, low_open=True, high=1, high_open=True),
    "gamma": Param(0.0, "setGamma", "weight of the illumination term (0: none)"),
    "median_filtering": Param(5, "setMedianFiltering", "median filter size (odd; 0 or 1: none)", low=0),
    "use_initial_flow": Param(False, "setUseInitialFlow", "start from the given initial flow"),
}

#: name -> OpenCV's default (the ``default`` column of :data:`PARAMS`)
DEFAULT_PARAMS: dict = {name: p.default for name, p in PARAMS.items()}


# ----------------------------------------------------------------------------------------------
# parameter checks


def _number(name: str, value, p: Param) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name}: expected a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name}: expected a finite number, got {value!r}")
    if p.low is not None and (value <= p.low if p.low_open else value < p.low):
        raise ValueError(f"{name}: expected {'>' if p.low_open else '>='} {p.low}, got {value!r}")
    if p.high is not None and (value >= p.high if p.high_open else value > p.high):
        raise ValueError(f"{name}: expected {'<' if p.high_open else '<='} {p.high}, got {value!r}")
    return value


def _integer(name: str, value, p: Param) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name}: expected an integer, got {value!r}")
    if value < p.low:
        raise ValueError(f"{name}: expected an integer >= {p.low}, got {value!r}")
    return int(value)


def validate(params: dict, *, max_median: int | None = None) -> dict:
    """Every parameter of :data:`PARAMS` in ``params``, checked and converted to its type.

    ``max_median``: the largest median filter the caller supports (OpenCV: 5 on float images).
    Raises ValueError naming the first bad parameter (the median filter and the initial-flow
    switch first, then the table's order).
    """
    median = _integer("median_filtering", params["median_filtering"], PARAMS["median_filtering"])
    if median > 1 and median % 2 == 0:
        raise ValueError(f"median_filtering: expected 0/1 (off) or an odd size, got {median}")
    if max_median is not None and median > max_median:
        raise ValueError(
            f"median_filtering: OpenCV supports at most {max_median} on float images, got {median}"
        )
    use_initial_flow = params["use_initial_flow"]
    if not isinstance(use_initial_flow, (bool, np.bool_)):
        raise ValueError(f"use_initial_flow: expected a bool, got {use_initial_flow!r}")
    out = {}
    for name, p in PARAMS.items():
        if name == "median_filtering":
            out[name] = median
        elif p.type is bool:
            out[name] = bool(params[name])
        else:
            out[name] = (_integer if p.type is int else _number)(name, params[name], p)
    return out


def check_params(**params) -> dict:
    """All TV-L1 parameters (OpenCV defaults filled in), validated; ValueError names the bad one."""
    unknown = sorted(set(params) - set(DEFAULT_PARAMS))
    if unknown:
        raise ValueError(f"unknown TV-L1 parameter(s) {unknown}; known: {sorted(DEFAULT_PARAMS)}")
    return validate({**DEFAULT_PARAMS, **params})


def call_params(func: str, params: dict, *, max_median: int | None = None) -> dict:
    """The TV-L1 keyword arguments ``params`` of a call of ``func``, defaults filled in, validated.

    A name that is not a parameter is a TypeError, as Python raises for an unexpected keyword
    argument; a bad value a ValueError (:func:`validate`).
    """
    for name in params:
        if name not in PARAMS:
            raise TypeError(f"{func}() got an unexpected keyword argument {name!r}")
    return validate({**DEFAULT_PARAMS, **params}, max_median=max_median)


def with_params_doc(func):
    """Append the table of the TV-L1 parameters (name = default: meaning) to ``func``'s docstring:
    the documentation of a function that takes them as ``**params``."""
    rows = "\n".join(f"        {name} = {p.default!r}: {p.meaning}" for name, p in PARAMS.items())
    func.__doc__ = (f"{(func.__doc__ or '').rstrip()}\n\n"
                    f"    TV-L1 parameters (``**params``), name = OpenCV's default: meaning:\n\n{rows}\n    ")
    return func
