"""Keep AutoGraph out of the library's own code, without importing TensorFlow."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

F = TypeVar("F", bound=Callable)


def not_converted(fn: F) -> F:
    """Mark `fn` so that AutoGraph calls it as written instead of converting it.

    Converting these functions inside a user's `tf.function` gains nothing (their Python
    control flow is static) and cost about 10 s the first time. This sets the marker that
    `tf.autograph.experimental.do_not_convert` sets, so TF-free modules can use it.
    """
    fn.autograph_info__ = frozenset()
    return fn
