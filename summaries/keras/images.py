"""Input images: which inputs are images, and ``input/images``."""

from __future__ import annotations

from typing import Any

import numpy as np

from summaries import protos


def as_unit_images(array: np.ndarray) -> np.ndarray:
    """Images as floats in [0, 1] (uint8 kept): inputs are often standardised."""
    if array.dtype == np.uint8:
        return array
    array = array.astype(np.float32)
    low, high = float(np.nanmin(array)), float(np.nanmax(array))
    if low >= 0.0 and high <= 1.0:
        return array
    if high <= 255.0 and low >= 0.0 and high > 1.0:
        return array / 255.0
    return (array - low) / (high - low) if high > low else np.zeros_like(array)


def image_like(x: Any) -> bool:
    """Whether `x` is a batch of images [N, H, W, 1|3|4] of numbers."""
    return (
        isinstance(x, np.ndarray)
        and x.dtype.kind in "uif"
        and x.ndim == 4
        and x.shape[-1] in (1, 3, 4)
        and min(x.shape[1:3]) >= 2
    )


def image_values(x: np.ndarray, max_images: int) -> list:
    """The first `max_images` inputs as ``input/images``."""
    return list(protos.image_pb("input/images", as_unit_images(x[:max_images])).value)
