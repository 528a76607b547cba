"""SalBCE training augmentation: flips and rotations move inputs, target and flow vectors together."""

from __future__ import annotations

import pytest
import torch
from tolerance import float_bound

from salprep.train.augment import Augmented, flip_rotate


def _blob(h, w, cy, cx, sigma=2.0):
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    return torch.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * sigma**2))


def _peak(m):
    i = int(m.flatten().argmax())
    return divmod(i, m.shape[-1])


def test_flip_mirrors_images_and_negates_flow_dx():
    x = torch.zeros(5, 16, 24)
    x[0] = _blob(16, 24, 4, 3)
    x[3], x[4] = 0.5, 0.25  # flow (dx, dy)
    y = _blob(16, 24, 4, 3)[None]
    fx, fy = flip_rotate(x, y, flip=True, degrees=0, flow=3)
    assert _peak(fx[0]) == (4, 20) and _peak(fy[0]) == (4, 20)
    assert torch.all(fx[3] == -0.5) and torch.all(fx[4] == 0.25)
    assert torch.equal(x[3], torch.full((16, 24), 0.5))  # the input is not modified in place


def test_rotation_turns_content_and_vectors_counter_clockwise():
    # a square frame: a blob right of centre ends up above it after 90 degrees counter-clockwise
    h = w = 33
    x = torch.zeros(5, h, w)
    x[0] = _blob(h, w, 16, 26)
    x[3] = 1.0  # flow pointing right ...
    y = _blob(h, w, 16, 26)[None]
    rx, ry = flip_rotate(x, y, flip=False, degrees=90.0, flow=3)
    assert _peak(rx[0]) == (6, 16) and _peak(ry[0]) == (6, 16)
    # ... points up (dy < 0 in image coordinates) after the turn: the constant flow sampled
    # bilinearly (4 terms), then rotated (2 products and a sum), on values <= 1
    atol = float_bound(torch.float32, 1.0, 4, 2)
    torch.testing.assert_close(rx[3, 16, 16], torch.tensor(0.0), atol=atol, rtol=0)
    torch.testing.assert_close(rx[4, 16, 16], torch.tensor(-1.0), atol=atol, rtol=0)
    assert float(ry.min()) >= 0 and float(ry.max()) <= 1
    # a small rotation of a wide frame keeps the centre where it was
    small = flip_rotate(x[:3, :, :], y, flip=False, degrees=3.0)[1]
    assert abs(_peak(small[0])[0] - 16) <= 2 and abs(_peak(small[0])[1] - 26) <= 1


def test_shape_errors_say_expected_and_got():
    with pytest.raises(ValueError, match=r"expects x \(C, H, W\).*got \(3, 4\)"):
        flip_rotate(torch.zeros(3, 4), torch.zeros(1, 3, 4), flip=True, degrees=0)


class _Items(torch.utils.data.Dataset):
    def __len__(self):
        return 6

    def __getitem__(self, i):
        return torch.rand(3, 8, 12, generator=torch.Generator().manual_seed(i)), torch.rand(1, 8, 12)


def test_vflip_mirrors_rows_and_negates_flow_dy():
    x = torch.rand(5, 6, 8, generator=torch.Generator().manual_seed(3))
    y = torch.rand(1, 6, 8, generator=torch.Generator().manual_seed(4))
    fx, fy = flip_rotate(x, y, flip=False, vflip=True, degrees=0, flow=3)
    assert torch.equal(fy, y.flip(-2)) and torch.equal(fx[:3], x[:3].flip(-2))
    assert torch.equal(fx[3], x[3].flip(-2)) and torch.equal(fx[4], -x[4].flip(-2))  # dx kept, dy negated


def test_augmented_is_seeded_by_seed_epoch_and_item():
    a = Augmented(_Items(), seed=1, epoch=0, rotate=5.0)
    b = Augmented(_Items(), seed=1, epoch=0, rotate=5.0)
    c = Augmented(_Items(), seed=1, epoch=1, rotate=5.0)
    assert all(torch.equal(a[i][0], b[i][0]) for i in range(6))
    assert any(not torch.equal(a[i][0], c[i][0]) for i in range(6))
    plain = _Items()
    assert any(not torch.equal(a[i][0], plain[i][0]) for i in range(6))


def test_augmented_draws_the_theses_four_choices_evenly():
    """One of hflip / vflip / rotation / none per item, each 1/4: over 4,000 draws each count
    lies within 5 standard deviations of 1,000 (binomial, sd = sqrt(4000 * 1/4 * 3/4) = 27.4)."""
    from collections import Counter

    from salprep.train.augment import CHOICES

    draws = [Augmented(_Items(), seed=s, epoch=e, rotate=5.0).choice(i) for s in range(10) for e in range(40)
             for i in range(10)]
    counts = Counter(kind for kind, _ in draws)
    assert set(counts) == set(CHOICES)
    assert all(abs(n - 1000) < 5 * 27.4 for n in counts.values()), counts
    angles = [d for kind, d in draws if kind == "rotate"]
    assert max(abs(d) for d in angles) <= 5.0 and all(d == 0.0 for kind, d in draws if kind != "rotate")
    item = Augmented(_Items(), seed=0, epoch=0, rotate=5.0)
    for i in range(6):
        kind, _ = item.choice(i)
        x, y = item[i]
        if kind == "none":
            assert torch.equal(x, _Items()[i][0])
        elif kind == "hflip":
            assert torch.equal(x, _Items()[i][0].flip(-1))
        elif kind == "vflip":
            assert torch.equal(x, _Items()[i][0].flip(-2))
