"""The SalGAN content loss (BCE on average-pooled maps), as the released SalGAN / SalBCE code has it."""

from __future__ import annotations

import torch
import torch.nn.functional as F

#: Pooling window of the released code (``AvgPool2d((4, 4))`` in ``src/salgan_dhf1k/train_bce.py``).
LOSS_POOL = 4


def bce_loss(pred: torch.Tensor, target: torch.Tensor, pool: int = LOSS_POOL, *, eps: float = 1e-7) -> torch.Tensor:
    """SalGAN content loss: mean binary cross-entropy of average-pooled maps.

    ``p = avg_pool(pred, pool)``, ``g = avg_pool(target, pool)`` (``pool`` x ``pool`` windows,
    stride ``pool``; ``pool=1``: no pooling), ``p`` clamped to [eps, 1 - eps], loss =
    ``mean(-(g log p + (1 - g) log(1 - p)))`` over batch and pixels. Computed in float32
    (also under autocast), differentiable with respect to ``pred``.

    Args:
        pred: (B, 1, H, W) float, predicted map in [0, 1] (:class:`SalBCE` output).
        target: (B, 1, H, W) float, ground-truth saliency map in [0, 1] (e.g. divided by its
            max, as SalGAN), same shape and device as ``pred``.
        pool: pooling window, an int >= 1 dividing H and W (4 in the released code).
        eps: clamp of the pooled prediction (keeps the logs finite).

    Returns:
        0-D float32 tensor, >= 0.

    Raises:
        ValueError: shapes differ or are not (B, 1, H, W); ``pool`` < 1 or not dividing H, W.
    """
    if pred.shape != target.shape or pred.ndim != 4 or pred.shape[1] != 1:
        raise ValueError(
            f"bce_loss expects pred and target of one shape (B, 1, H, W), "
            f"got {tuple(pred.shape)} and {tuple(target.shape)}"
        )
    pool = int(pool)
    h, w = pred.shape[-2:]
    if pool < 1 or h % pool or w % pool:
        raise ValueError(f"bce_loss pool must be an int >= 1 dividing H and W, got pool={pool} for {h}x{w}")
    p, g = pred.float(), target.float()
    if pool > 1:
        p = F.avg_pool2d(p, pool)
        g = F.avg_pool2d(g, pool)
    p = p.clamp(eps, 1.0 - eps)
    return -(g * torch.log(p) + (1.0 - g) * torch.log1p(-p)).mean()
