"""Flowscope from PyTorch: per-position confusion with example images, and a race of
`torch.optim` optimizers on a loss surface. The code of docs/pytorch.md, runnable:

    python docs/examples/pytorch_recipe.py runs/pytorch
    tensorboard --logdir runs/pytorch

It never imports TensorFlow (tests/test_torch.py runs it with TensorFlow unimportable).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits
from torch.utils.tensorboard import SummaryWriter

import summaries
from summaries.race import SURFACE_TAG, SURFACES, race_tag, write_surface, write_trajectory

# -- 1. a two-digit classifier: per-position confusion with example images ----------------


def digit_pairs(count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Images [count, 8, 16] of two 8 x 8 digits side by side, and their labels [count, 2]."""
    digits = load_digits()  # bundled with scikit-learn: no download
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(digits.images), size=(count, 2))
    images = np.concatenate([digits.images[pick[:, 0]], digits.images[pick[:, 1]]], axis=2) / 16
    return torch.tensor(images, dtype=torch.float32), torch.tensor(digits.target[pick])


def train_classifier(run: Path, epochs: int = 6) -> None:
    """Train a small two-digit reader; log its loss with PyTorch, its confusion with Flowscope."""
    torch.manual_seed(0)
    images, labels = digit_pairs(3000, seed=0)
    val_images, val_labels = digit_pairs(600, seed=1)
    model = torch.nn.Sequential(
        torch.nn.Flatten(), torch.nn.Linear(8 * 16, 128), torch.nn.ReLU(), torch.nn.Linear(128, 20)
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)

    tb = SummaryWriter(str(run))  # PyTorch's own writer: scalars, histograms, ...
    fs = summaries.LogWriter(tb.get_logdir())  # Flowscope's, beside it in the same run
    step = 0
    for _epoch in range(epochs):
        for batch in torch.randperm(len(images)).split(100):
            logits = model(images[batch]).view(-1, 2, 10)  # [batch, positions, classes]
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 10), labels[batch].ravel())
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
            tb.add_scalar("train/loss", loss.item(), step)
        with torch.no_grad():
            scores = model(val_images).view(-1, 2, 10)
        whole = (scores.argmax(-1) == val_labels).all(dim=1).float().mean().item()
        tb.add_scalar("validation/sequence_accuracy", whole, step)
        summaries.write_confusion(
            fs,
            "confusion/validation",
            labels=val_labels,  # [N, 2] class ids
            predictions=scores,  # [N, 2, 10] scores: the argmax is taken
            images=val_images,  # the misclassified ones become the page's examples
            classes=[str(d) for d in range(10)],
            positions=["left digit", "right digit"],
            step=step,
            sequence_accuracy_tag="validation/sequence_accuracy",  # PyTorch's scalar
        )
    tb.close()
    fs.close()


# -- 2. an optimizer race: torch.optim optimizers on Himmelblau's surface ---------------

RACERS = {  # racer name: (torch.optim class, its keyword arguments)
    "sgd": (torch.optim.SGD, {"lr": 0.01}),
    "momentum": (torch.optim.SGD, {"lr": 0.002, "momentum": 0.9}),
    "rmsprop": (torch.optim.RMSprop, {"lr": 0.01}),
    "adagrad": (torch.optim.Adagrad, {"lr": 0.5}),
    "adam": (torch.optim.Adam, {"lr": 0.05}),
    "adamw": (torch.optim.AdamW, {"lr": 0.05, "weight_decay": 0.01}),
}


def himmelblau(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The loss, in torch: the closed form of summaries.race.SURFACES["himmelblau"]."""
    return (x * x + y - 11) ** 2 + (x + y * y - 7) ** 2


def run_racer(
    optimizer_class: type, settings: dict, start: tuple[float, float], steps: int
) -> tuple[np.ndarray, np.ndarray]:
    """Positions [steps + 1, 2] and losses [steps + 1]: row i is after i updates."""
    xy = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    optimizer = optimizer_class([xy], **settings)
    positions, losses = [], []
    for i in range(steps + 1):
        loss = himmelblau(xy[0], xy[1])
        positions.append(xy.detach().tolist())
        losses.append(loss.item())
        if i < steps:
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return np.array(positions), np.array(losses)


def race(logdir: Path, steps: int = 300) -> None:
    """The whole race in one run, logdir/race: the surface's grid for the map, and one
    trajectory (and loss scalar) per racer."""
    surface = SURFACES["himmelblau"]  # window, start, minima; .value(x, y) is numpy
    _, _, grid = surface.grid(101)
    with summaries.LogWriter(logdir / "race") as writer:
        write_surface(
            writer,
            SURFACE_TAG,
            grid,
            race="torch-himmelblau",
            surface=surface.name,
            window=surface.window,
            minima=surface.minima,
            log_scale=surface.log_scale,
        )
        for order, (name, (optimizer_class, settings)) in enumerate(RACERS.items()):
            positions, losses = run_racer(optimizer_class, settings, surface.start, steps)
            write_trajectory(
                writer,
                race_tag("trajectory", name),  # race/trajectory/sgd, ...: one tag per racer
                np.arange(steps + 1),
                positions,
                losses,
                race="torch-himmelblau",
                racer=name,
                optimizer=f"torch.optim.{optimizer_class.__name__}",
                hyperparameters=settings,  # shown as written: lr, momentum, weight_decay
                optimizer_title=f"{name} (torch)",
                order=order,  # the racer's colour
                surface=surface.name,  # fills the title, formula and tolerance
                window=surface.window,
                minima=surface.minima,
            )
            writer.add_scalars(race_tag("loss", name), losses)  # race/loss/sgd, ...


def main(argv: list[str]) -> None:
    logdir = Path(argv[0] if argv else "runs/pytorch")
    train_classifier(logdir / "classifier")
    race(logdir)
    print(f"wrote {logdir}: tensorboard --logdir {logdir}")


if __name__ == "__main__":
    main(sys.argv[1:])
