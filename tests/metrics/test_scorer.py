"""Label scoring helpers (pointdiff.metrics.scorer): accuracy per label and the density raster."""

from __future__ import annotations

import pytest
import torch

from pointdiff.metrics import label_accuracy, rasterize


def test_label_accuracy():
    pred = [{"o": "left", "e": "sad"}, {"o": "front", "e": "sad"}, {"o": "left", "e": "angry"}]
    true = [{"o": "left", "e": "sad"}, {"o": "left", "e": "sad"}, {"o": "left", "e": "sad"}]
    acc = label_accuracy(pred, true, ["o", "e"])
    assert acc == pytest.approx({"o": 2 / 3, "e": 2 / 3, "joint": 1 / 3})


def test_rasterize_keeps_mass_and_orientation():
    cloud = torch.tensor([[[2.9, 2.9], [-2.9, -2.9], [0.0, 0.0]]])
    img = rasterize(cloud, 12)[0, 0]
    assert float(img.sum()) == pytest.approx(144.0, rel=1e-5)
    assert img[0, -1] > 0 and img[-1, 0] > 0  # top-right is (+x, +y), bottom-left is (-x, -y)
    assert img[0, 0] == 0 and img[-1, -1] == 0
