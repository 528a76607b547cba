"""monodepth2 (Godard et al. 2019) depth network, numerically matching nianticlabs/monodepth2.

Written from the description in ``design/MODELS.md`` (upstream code is under a non-commercial
licence and is not copied here). The modules read the original release files unchanged: the
ResNet-18 ``encoder.pth`` (torchvision keys under ``encoder.``, plus the unused ``encoder.fc.*``
and the entries ``height``, ``width``, ``use_stereo``) and the ``depth.pth`` decoder (28 tensors,
``decoder.{0..13}.*``).

Public API:

* :func:`load_monodepth2` -- read ``encoder.pth`` + ``depth.pth``, return a :class:`Monodepth2`
  in eval mode on CPU, float32.
* :class:`Monodepth2` -- ``module(x)`` maps RGB frames in [0, 1] to the scale-0 disparity
  (sigmoid output) at the input size; the network itself runs at the checkpoint's training size.
* :class:`DepthEncoder`, :class:`DepthDecoder` -- the two halves, state_dict keys as upstream.
* :func:`disp_to_depth` -- upstream's sigmoid-disparity to (scaled disparity, depth) mapping.
* :func:`random_monodepth2_state_dicts`, :func:`save_random_monodepth2` -- seeded random weights
  laid out exactly like the released files (demo data and tests; nothing can be downloaded).
"""

from salprep.models.monodepth.checkpoint import (  # noqa: F401
    load_monodepth2,
    random_monodepth2_state_dicts,
    save_random_monodepth2,
)
from salprep.models.monodepth.network import (  # noqa: F401
    DepthDecoder,
    DepthEncoder,
    ENCODER_NON_TENSORS,
    Monodepth2,
    NUM_CH_DEC,
    NUM_CH_ENC,
    disp_to_depth,
)

__all__ = [
    "DepthEncoder",
    "DepthDecoder",
    "Monodepth2",
    "load_monodepth2",
    "disp_to_depth",
    "random_monodepth2_state_dicts",
    "save_random_monodepth2",
    "NUM_CH_ENC",
    "NUM_CH_DEC",
    "ENCODER_NON_TENSORS",
]
