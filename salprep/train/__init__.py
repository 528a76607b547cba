"""Training: the one loop every decoder uses (:func:`fit`) and the shard-backed data
(:class:`FrameFeatures`); see :mod:`salprep.models.registry` for what each model trains on."""

from salprep.train.data import FrameFeatures, VideoShards, epoch_order, video_shards
from salprep.train.loop import fit, load_training_checkpoint

__all__ = ["FrameFeatures", "VideoShards", "epoch_order", "fit", "load_training_checkpoint", "video_shards"]
