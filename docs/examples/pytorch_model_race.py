"""Racing `torch.optim` optimizers on your own PyTorch model, mapped on its real loss
landscape: the recipe of docs/pytorch.md's "Racing optimizers on your own PyTorch model".

    python docs/examples/pytorch_model_race.py runs/torch-race
    tensorboard --logdir runs/torch-race

Every racer trains a copy of one small MLP from the same initial weights on the same
batches; its flat parameters and losses are recorded at every step, and
`summaries.race.race_landscape` (numpy only) maps them on the plane of the racers' first
two principal components, with the model's loss on a grid of that plane. It never imports
TensorFlow (tests/test_torch_model_race.py runs it with TensorFlow unimportable).
"""

from __future__ import annotations

import copy
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch.nn.utils import parameters_to_vector, vector_to_parameters

from summaries.race import race_landscape

RACERS = {  # racer name: (torch.optim class, its keyword arguments)
    "sgd": (torch.optim.SGD, {"lr": 0.1}),
    "momentum": (torch.optim.SGD, {"lr": 0.05, "momentum": 0.9}),
    "rmsprop": (torch.optim.RMSprop, {"lr": 0.003}),
    "adam": (torch.optim.Adam, {"lr": 0.01}),
}
BATCH = 32


def make_data(count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Points [count, 4] and a label that needs the hidden layer (the sign of x0 * x1)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(count, 4)).astype(np.float32)
    y = (x[:, 0] * x[:, 1] > 0).astype(np.int64)
    return torch.from_numpy(x), torch.from_numpy(y)


def batch_order(count: int, steps: int, seed: int) -> list[torch.Tensor]:
    """Indices of steps + 1 batches, reshuffled each epoch: the same for every racer."""
    generator = torch.Generator().manual_seed(seed)
    batches: list[torch.Tensor] = []
    while len(batches) < steps + 1:
        batches += list(torch.randperm(count, generator=generator).split(BATCH))
    return batches[: steps + 1]


def run_racer(
    start: torch.nn.Module,
    optimizer_class: type,
    settings: dict,
    data: tuple[torch.Tensor, torch.Tensor],
    batches: list[torch.Tensor],
    validation: tuple[torch.Tensor, torch.Tensor],
    eval_every: int,
) -> dict:
    """One racer from `start`'s weights: flat parameters and the batch's loss before each
    update (row t is step t), validation every `eval_every` steps, each update's seconds."""
    model = copy.deepcopy(start)  # the same initial weights for every racer
    optimizer = optimizer_class(model.parameters(), **settings)
    loss_fn = torch.nn.functional.cross_entropy
    x, y = data
    steps = len(batches) - 1
    flats, losses, seconds, val_loss, val_accuracy = [], [], [], [], []
    for t, batch in enumerate(batches):  # the last batch is only measured, not stepped on
        if t % eval_every == 0 or t == steps:
            with torch.no_grad():
                scores = model(validation[0])
            val_loss.append((t, loss_fn(scores, validation[1]).item()))
            val_accuracy.append((t, (scores.argmax(1) == validation[1]).float().mean().item()))
        flats.append(parameters_to_vector(model.parameters()).detach().numpy())  # not timed
        began = time.perf_counter()
        loss = loss_fn(model(x[batch]), y[batch])
        losses.append(loss.item())
        if t == steps or not np.isfinite(losses[-1]):  # a NaN loss ends the racer's path
            break
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        seconds.append(time.perf_counter() - began)
    return {
        "snapshots": np.stack(flats),  # [steps + 1, parameters]
        "losses": np.array(losses),
        "seconds": np.array(seconds),
        "validation": {"val_loss": val_loss, "val_accuracy": val_accuracy},
    }


def loss_function(
    start: torch.nn.Module, x: torch.Tensor, y: torch.Tensor
) -> Callable[[np.ndarray], float]:
    """The surface's function: the model's loss on (x, y) at a flat parameter vector."""
    probe = copy.deepcopy(start)

    def loss_at(flat: np.ndarray) -> float:
        vector_to_parameters(torch.from_numpy(flat), probe.parameters())
        with torch.no_grad():
            return torch.nn.functional.cross_entropy(probe(x), y).item()

    return loss_at


def keras_names(settings: dict) -> dict:
    return {"learning_rate" if key == "lr" else key: value for key, value in settings.items()}


def race_torch_model(logdir: Path, steps: int = 300, grid: int = 21) -> tuple:
    """Race `RACERS` on one MLP and write the race as run ``logdir/torch-mlp``; returns the
    `ModelRace`, every racer's snapshots and the surface's loss function."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.Tanh(), torch.nn.Linear(16, 2))
    x, y = make_data(1024, seed=0)
    validation = make_data(256, seed=1)
    batches = batch_order(len(x), steps, seed=0)
    runs = {
        name: run_racer(model, cls, settings, (x, y), batches, validation, max(1, steps // 10))
        for name, (cls, settings) in RACERS.items()
    }
    loss_at = loss_function(model, x[:256], y[:256])  # a fixed sample of the training data
    race = race_landscape(
        {name: run["snapshots"] for name, run in runs.items()},  # [steps + 1, parameters]
        {name: run["losses"] for name, run in runs.items()},  # the batch's loss per step
        loss_at,  # flat float32 parameters -> loss: the map's surface
        validation={name: run["validation"] for name, run in runs.items()},
        optimizers={name: f"torch.optim.{cls.__name__}" for name, (cls, _) in RACERS.items()},
        # in the race format's names (torch's `lr` is `learning_rate`), as the page reads them
        hyperparameters={name: keras_names(settings) for name, (_, settings) in RACERS.items()},
        step_seconds={name: run["seconds"] for name, run in runs.items()},
        logdir=logdir,
        name="torch-mlp",
        model="torch-mlp: Linear(4, 16), Tanh, Linear(16, 2)",
        loss="the cross-entropy on 256 fixed training samples",
        grid=grid,
        batch_size=BATCH,
    )
    return race, {name: run["snapshots"] for name, run in runs.items()}, loss_at


def main(argv: list[str]) -> None:
    logdir = Path(argv[0] if argv else "runs/torch-race")
    race, _, _ = race_torch_model(logdir)
    print(f"PC1 and PC2 explain {[round(s, 3) for s in race.basis['explained']]} of the motion")
    for rank, r in enumerate(race.ranked(), 1):
        print(f"{rank}. {r.name}: best val_loss {r.metrics['score']:.4f}")
    print(f"wrote {race.run_dir}: tensorboard --logdir {logdir}")


if __name__ == "__main__":
    main(sys.argv[1:])
