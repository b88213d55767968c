"""The arguments every confusion writer shares, checked once: `ConfusionArgs`.

`confusion` (TensorFlow), `confusion_pb`, `build_confusion` and `write_confusion` (numpy)
differ only in their data (counts, or labels and predictions, and images) and their step;
the matrix's tag, its names, the examples' cap and the sequence-accuracy tag, and so the
metadata of both summaries, come from here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tensorboard.compat.proto import summary_pb2

from summaries import checks
from summaries import format as fmt
from summaries.position_confusion.examples import examples_pb


def default_positions(count: int) -> list[str]:
    """Position names when none are given: "all" for one, else "position 1", ..."""
    return ["all"] if count == 1 else [f"position {i + 1}" for i in range(count)]


def matrix_content(
    positions: list[str], classes: list[str], sequence_accuracy_tag: str | None
) -> dict[str, Any]:
    """The JSON content of a confusion matrix (see `summaries.format`); its layout follows
    from its size (`summaries.format.matrix_layout`)."""
    if sequence_accuracy_tag is not None:
        checks.check_tag(sequence_accuracy_tag, "sequence_accuracy_tag")
    return {
        "positions": positions,
        "classes": classes,
        "sequence_accuracy_tag": sequence_accuracy_tag,
        "layout": fmt.matrix_layout(len(positions), len(classes)),
    }


@dataclass(frozen=True)
class ConfusionArgs:
    """A confusion summary's tag, names, examples cap and sequence-accuracy tag.

    Making one checks `tag`, `classes` and `cap_per_cell`, in that order; `positions` and
    `sequence_accuracy_tag` are checked by `matrix_metadata`, once the number of positions
    is known.
    """

    tag: str
    classes: list[str]
    positions: Sequence[str] | None = None
    cap_per_cell: int = 8
    sequence_accuracy_tag: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "tag", checks.check_tag(self.tag, "tag"))
        object.__setattr__(self, "classes", checks.check_names("classes", self.classes))
        cap = checks.check_count("cap_per_cell", self.cap_per_cell)
        object.__setattr__(self, "cap_per_cell", cap)

    @property
    def num_classes(self) -> int:
        """K, the number of classes."""
        return len(self.classes)

    def position_names(self, count: int | None) -> list[str]:
        """The names of `count` positions (None: not known yet): given, or the defaults."""
        if self.positions is not None:
            return checks.check_names("positions", self.positions, count)
        if count is None:
            raise ValueError("positions must be given when the number of positions is unknown")
        return default_positions(count)

    def matrix_metadata(self, count: int | None) -> summary_pb2.SummaryMetadata:
        """The metadata of the [P, K, K] counts, with P = `count` positions."""
        content = matrix_content(
            self.position_names(count), self.classes, self.sequence_accuracy_tag
        )
        return fmt.make_metadata(fmt.CONFUSION_PLUGIN, fmt.MATRIX, content)

    def examples_pb(self, cells: Any, pngs: Sequence[Any]) -> summary_pb2.Summary:
        """The misclassified examples of this matrix, under ``tag + "/examples"``."""
        return examples_pb(
            f"{self.tag}/{fmt.EXAMPLES}",
            cells,
            pngs,
            matrix_tag=self.tag,
            cap_per_cell=self.cap_per_cell,
        )
