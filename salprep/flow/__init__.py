"""Optical flow: TV-L1 (OpenCV and batched torch), SpyNet, LSTS encoding and visualisation."""
