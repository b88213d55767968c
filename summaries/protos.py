"""numpy builders of TensorBoard's own summary kinds (no TensorFlow): scalars, histograms,
images, and `summary`, the one-tensor Summary every Flowscope kind builds on.

Like TensorBoard's `*_pb` functions, each builder returns a `Summary` proto that a
`summaries.pb.LogWriter` writes; the TensorFlow writers build the same protos, so there is
one format. Flowscope's own kinds live in their homes: `summaries.position_confusion` and
`summaries.race`.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np
from tensorboard.compat.proto import summary_pb2, tensor_pb2, tensor_shape_pb2, types_pb2
from tensorboard.plugins.histogram import metadata as histogram_metadata
from tensorboard.plugins.scalar import metadata as scalar_metadata
from tensorboard.util import tensor_util

from summaries import checks

_SCALAR_META = scalar_metadata.create_summary_metadata(display_name=None, description=None)
_HISTOGRAM_META = histogram_metadata.create_summary_metadata(display_name=None, description=None)
_SCALAR_SHAPE = tensor_shape_pb2.TensorShapeProto()


def summary(tag: str, array: np.ndarray, metadata: summary_pb2.SummaryMetadata) -> Any:
    """A Summary with one value: `array` as a tensor under `tag`."""
    checks.check_text("tag", tag)
    out = summary_pb2.Summary()
    out.value.add(tag=tag, metadata=metadata, tensor=tensor_util.make_tensor_proto(array))
    return out


# -- scalars and histograms (TensorBoard's layouts) ------------------------------------


def scalar_value(tag: str, value: float) -> summary_pb2.Summary.Value:
    """One scalar Summary value (float32, as `tf.summary.scalar`)."""
    tensor = tensor_pb2.TensorProto(
        dtype=types_pb2.DT_FLOAT, tensor_shape=_SCALAR_SHAPE, float_val=[value]
    )
    return summary_pb2.Summary.Value(tag=tag, metadata=_SCALAR_META, tensor=tensor)


def histogram_value(tag: str, buckets: np.ndarray) -> summary_pb2.Summary.Value:
    """One histogram Summary value from [k, 3] (left, right, count) buckets."""
    tensor = tensor_util.make_tensor_proto(np.asarray(buckets, np.float64))
    return summary_pb2.Summary.Value(tag=tag, metadata=_HISTOGRAM_META, tensor=tensor)


class ScalarRows:
    """Serialized Summary protos holding one scalar per tag of a fixed tag list, one per
    step, built from a [steps, tags] array without touching protobuf.

    For a fixed tag list the serialized protos differ only in each value's 4 float bytes,
    so one template is serialized with distinct sentinel floats, and copies of its bytes
    get the real floats at the sentinels' offsets: a flush of 100 steps costs tens of
    microseconds instead of milliseconds of Python (which would hold the GIL the training
    loop needs).
    """

    def __init__(self, tags: Sequence[str]):
        rng = np.random.default_rng(0)
        while True:  # sentinels whose bytes occur once each in the template
            marks = rng.uniform(1e3, 1e6, len(tags)).astype("<f4")
            proto = summary_pb2.Summary(
                value=[scalar_value(tag, float(m)) for tag, m in zip(tags, marks, strict=True)]
            )
            template = proto.SerializeToString()
            if all(template.count(m.tobytes()) == 1 for m in marks):
                break
        self._template = np.frombuffer(template, np.uint8)
        offsets = np.array([template.find(m.tobytes()) for m in marks])
        self._columns = offsets[:, None] + np.arange(4)  # [tags, 4] byte positions

    def blobs(self, values: np.ndarray) -> list[bytes]:
        """One serialized Summary per row of `values` [steps, tags]."""
        floats = np.ascontiguousarray(values, "<f4")
        rows = np.tile(self._template, (len(floats), 1))
        rows[:, self._columns] = floats.view(np.uint8).reshape(*floats.shape, 4)
        return [row.tobytes() for row in rows]


# -- images -----------------------------------------------------------------------------


def _unit_to_uint8(array: np.ndarray) -> np.ndarray:
    """Floats in [0, 1] as 0..255 (NaN as 0, out of range clipped)."""
    return (np.clip(np.nan_to_num(array.astype(np.float64)), 0, 1) * 255).round().astype(np.uint8)


def encode_png(image: Any) -> bytes:
    """PNG bytes of a [h, w], [h, w, 1|3|4] image (uint8, or float in [0, 1])."""
    from PIL import Image

    array = np.asarray(image)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[-1] not in (3, 4)):
        raise ValueError(f"image must have shape [h, w] or [h, w, 1|3|4], got {list(array.shape)}")
    if array.dtype != np.uint8:
        array = _unit_to_uint8(array)
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


# PNG's colour type by channel count: grey, RGB, RGBA
_COLOUR_TYPES = {1: 0, 3: 2, 4: 6}
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# values converted at once when encoding a stack (bounds the float64 copy to 8 MiB)
_CONVERT_VALUES = 1 << 20


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(data, zlib.crc32(kind))
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def encode_pngs(images: Any) -> list[bytes]:
    """PNG bytes of each image of a stack [n, h, w] or [n, h, w, 1|3|4]: uint8, integers
    (clipped to 0..255) or floats in [0, 1] (`encode_png`'s pixels).

    Converted in bulk and compressed with one zlib call each (no scanline filter): PIL's
    per-image overhead made the ~1,000 example images of a 1,000-class confusion step most
    of its cost (docs/benchmarks.md, "The writers at 1,000 classes")."""
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[-1] not in _COLOUR_TYPES:
        raise ValueError(
            f"images must have shape [n, h, w] or [n, h, w, 1|3|4], got {list(images.shape)}"
        )
    count, height, width, channels = images.shape
    header = struct.pack(">IIBBBBB", width, height, 8, _COLOUR_TYPES[channels], 0, 0, 0)
    head = _PNG_SIGNATURE + _png_chunk(b"IHDR", header)
    end = _png_chunk(b"IEND", b"")
    row = width * channels
    per_batch = max(1, _CONVERT_VALUES // max(1, height * row))
    out = []
    for start in range(0, count, per_batch):
        pixels = images[start : start + per_batch]
        if pixels.dtype.kind in "iub" and pixels.dtype != np.uint8:
            pixels = np.clip(pixels, 0, 255).astype(np.uint8)
        elif pixels.dtype != np.uint8:
            pixels = _unit_to_uint8(pixels)
        lines = np.zeros((len(pixels), height, 1 + row), np.uint8)  # byte 0: filter "none"
        lines[:, :, 1:] = pixels.reshape(len(pixels), height, row)
        out += [head + _png_chunk(b"IDAT", zlib.compress(line.tobytes())) + end for line in lines]
    return out


def image_pb(tag: str, images: Any) -> summary_pb2.Summary:
    """Images [k, h, w, c] (uint8, or floats in [0, 1]) in TensorBoard's Images format:
    a string tensor [width, height, png_1, ..., png_k]."""
    from tensorboard.plugins.image import metadata as image_metadata

    array = np.asarray(images)
    if array.ndim != 4 or array.shape[-1] not in (1, 3, 4) or not len(array):
        raise ValueError(f"images must have shape [k, h, w, 1|3|4], got {list(array.shape)}")
    height, width = array.shape[1:3]
    strings = [str(width).encode(), str(height).encode(), *(encode_png(i) for i in array)]
    metadata = image_metadata.create_summary_metadata(display_name=None, description=None)
    return summary(tag, np.array(strings, dtype=object), metadata)
