"""SalBCE: the SalGAN generator (VGG16 encoder-decoder) trained with the BCE content loss only.

One backbone serves every variant (design/MODELS.md, "SalBCE"); the variants are constructor
arguments:

=====================  =========================================  ===============================
variant                input channels (``in_channels``)           ``coordconv``
=====================  =========================================  ===============================
``salbce_rgb``         3: RGB                                     False
``salbce_coord``       3: RGB                                     True (y, x added inside)
``salbce_depth``       4: RGB + monodepth2 disparity              False
``salbce_depth_coord`` 4: RGB + disparity                         True
``salbce_flow``        5: RGB + SpyNet flow (dx, dy)              False
=====================  =========================================  ===============================

* Encoder ``features``: VGG16's convolutional layers conv1_1 ... conv5_3, each 3x3 conv followed
  by a BatchNorm2d (``batchnorm=True``, the thesis's DHF1K models: torchvision ``vgg16_bn``
  indices 0..42) or not (plain SalGAN: ``vgg16().features`` indices 0..29), then ReLU; no max
  pool after conv5_3. Four 2x2 max pools: H and W must be multiples of 16 (:data:`SIZE_MULTIPLE`).
* Decoder ``decoder``: the mirror image with nearest x2 upsampling in place of the pools:
  3x3 conv (+ BN) + ReLU 512 x3, up, 512 x3, up, 256 x3, up, 128 x2, up, 64 x2; then ``output``,
  a 1x1 conv to one channel, and a sigmoid. ``features``, ``decoder``, ``output`` and the
  sigmoid are, module for module, the original code's flat ``nn.Sequential`` (62 modules, 88
  with BatchNorm; :func:`original_sequential`).
* Input convention of the original code, applied inside the module (:func:`salgan_input`): the
  forward takes RGB in [0, 1] (channels 0-2) and the network sees B, G, R as 8-bit values minus
  the Caffe VGG means (:data:`CAFFE_BGR_MEAN`); depth disparity in [0, 1] becomes 0-255 (the 8-bit
  depth PNG the original appended, not mean-subtracted); flow dx, dy in [-1, 1] is used as given
  (the original code has no flow input); with ``coordconv`` two channels y then x in [-1, 1] are
  appended after the others (:func:`coord_channels`). The first conv therefore has
  ``in_channels + 2 * coordconv`` inputs; the filters of every channel beyond RGB start as the
  mean of the three RGB filters (:func:`init_extra_channels`), at construction and after VGG
  loading.
* Weights: :func:`load_vgg16_features` (torchvision ImageNet VGG16, folded into the SalGAN input
  convention), :func:`load_salgan` (an original SalGAN / SalBCE generator file, ready to run),
  :func:`init_salbce` (start training from an original file or a salprep model.pt),
  :func:`save_random_salgan` (seeded random weights in the original format).
* Loss: :func:`bce_loss`, BCE on 4x4 average-pooled maps (as in the released SalGAN code).

Parameters at ``width=1.0``: 31,787,009 with 3 input channels and no BatchNorm (14,714,688
encoder, 17,072,321 decoder incl. output); BatchNorm adds 2 per channel (16,896 in all, plus as
many running statistics); each extra input channel adds 576. Sizes: 192x256 in the released
code, 96x128 for demos. ``width < 1`` scales every channel count (CPU demos and tests; VGG16 and
original generator weights do not fit then).
"""

from salprep.models.salbce.original import (  # noqa: F401
    DEFAULT_INPUTS,
    SALGAN_INPUTS,
    copy_salbce_weights,
    init_salbce,
    load_salgan,
)
from salprep.models.salbce.random_weights import random_salgan_state_dict, save_random_salgan  # noqa: F401
from salprep.models.salbce.vgg16 import (  # noqa: F401
    IMAGENET_MEAN,
    IMAGENET_STD,
    VGG16_CHECKPOINT,
    fold_imagenet_filters,
    load_vgg16_features,
)
from salprep.models.salbce.loss import LOSS_POOL, bce_loss  # noqa: F401
from salprep.models.salbce.network import (  # noqa: F401
    CAFFE_BGR_MEAN,
    COORD_NAMES,
    DECODER_CFG,
    ENCODER_CFG,
    EXTRA_INPUTS,
    EXTRA_SCALE,
    N_RGB,
    PIXEL_SCALE,
    SIZE_MULTIPLE,
    VGG16_CONV_INDICES,
    SalBCE,
    make_layers,
    coord_channels,
    init_extra_channels,
    input_channel_names,
    original_sequential,
    salgan_input,
)

__all__ = [
    "SalBCE",
    "bce_loss",
    "coord_channels",
    "copy_salbce_weights",
    "fold_imagenet_filters",
    "init_extra_channels",
    "init_salbce",
    "input_channel_names",
    "load_salgan",
    "load_vgg16_features",
    "original_sequential",
    "random_salgan_state_dict",
    "salgan_input",
    "save_random_salgan",
    "CAFFE_BGR_MEAN",
    "COORD_NAMES",
    "DECODER_CFG",
    "DEFAULT_INPUTS",
    "ENCODER_CFG",
    "EXTRA_INPUTS",
    "EXTRA_SCALE",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "LOSS_POOL",
    "N_RGB",
    "PIXEL_SCALE",
    "SALGAN_INPUTS",
    "SIZE_MULTIPLE",
    "VGG16_CHECKPOINT",
    "VGG16_CONV_INDICES",
]
