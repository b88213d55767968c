"""TFRecord framing of event files: what TensorBoard's readers expect, without TensorFlow.

A record is the data's length (uint64, little-endian), the masked CRC32C of those 8 bytes,
the data, and the masked CRC32C of the data.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from tensorboard.compat.proto import event_pb2

# Event.summary is field 5, length-delimited: tag byte (5 << 3) | 2.
_SUMMARY_FIELD = b"\x2a"


def crc32c(data: bytes) -> int:
    """The CRC32C (Castagnoli) of `data`."""
    try:
        import google_crc32c  # C implementation: pure-Python CRCs cost ~0.4 s per MB
    except ImportError:
        from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import crc32c as slow

        return slow(data)
    return google_crc32c.value(data)


def masked_crc32c(data: bytes) -> int:
    """The masked CRC32C of TFRecord framing."""
    crc = crc32c(data)
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def record(data: bytes) -> bytes:
    """One TFRecord: length, masked CRC of the length, data, masked CRC of the data."""
    header = struct.pack("<Q", len(data))
    return b"".join(
        [
            header,
            struct.pack("<I", masked_crc32c(header)),
            data,
            struct.pack("<I", masked_crc32c(data)),
        ]
    )


def records(blobs: Sequence[bytes]) -> bytes:
    """The TFRecords of several serialized Events, back to back."""
    return b"".join(record(blob) for blob in blobs)


def varint(value: int) -> bytes:
    """Protobuf's base-128 varint of a non-negative integer."""
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def summary_event(summary: bytes, step: int, wall_time: float) -> bytes:
    """A serialized Event holding serialized Summary bytes at `step`.

    An Event's serialization is its other fields' bytes followed by the summary field's tag,
    length and bytes, so the Summary is never parsed again.
    """
    head = event_pb2.Event(wall_time=wall_time, step=int(step)).SerializeToString()
    return head + _SUMMARY_FIELD + varint(len(summary)) + summary
