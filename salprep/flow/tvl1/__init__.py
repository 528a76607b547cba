"""TV-L1 optical flow: OpenCV's DualTVL1 and a batched torch implementation of the same algorithm.

Both functions compute the duality-based TV-L1 flow of Zach, Pock and Bischof (2007) in the form
analysed by Sánchez, Meinhardt-Llopis and Facciolo ("TV-L1 Optical Flow Estimation", IPOL 2013),
which is also what ``cv2.optflow.DualTVL1OpticalFlow`` implements. Conventions (CONTRACT.md):

* flow in pixels, channel 0 = dx, channel 1 = dy, ``first(x) ~ second(x + flow(x))``;
* grey images on the 0-255 scale;
* parameters carry OpenCV's names and defaults, stated once in
  :data:`salprep.flow.tvl1_params.PARAMS` (``DEFAULT_PARAMS`` here is its default column).

Modules: :mod:`~salprep.flow.tvl1.solver` (:func:`tvl1_torch`, :class:`TVL1Flow`: the algorithm
step by step, batched), :mod:`~salprep.flow.tvl1.ops` (its building blocks: OpenCV's resize,
gradient, bicubic warp and median filter in torch), :mod:`~salprep.flow.tvl1.opencv`
(:func:`tvl1_opencv`, the reference) and :mod:`~salprep.flow.tvl1.inputs` (input checks).
"""

from salprep.flow.tvl1.opencv import tvl1_opencv
from salprep.flow.tvl1.solver import TVL1Flow, tvl1_torch
from salprep.flow.tvl1_params import DEFAULT_PARAMS, check_params

__all__ = ["tvl1_opencv", "tvl1_torch", "TVL1Flow", "DEFAULT_PARAMS", "check_params"]
