"""salprep: offline preprocessing and feature extraction for video saliency research."""

__version__ = "0.1.0"
