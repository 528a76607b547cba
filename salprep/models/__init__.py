"""Networks: pretrained feature extractors read from the original checkpoint files
(:mod:`salprep.models.i3d`, :mod:`salprep.models.monodepth`) and the saliency decoders."""
