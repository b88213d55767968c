"""`flowscope demo own_model`: race the optimizers on your own network, the MLP lesson's here.

What a user does with their own Keras model, done on the course's 500/100 network: build
and compile it, save it and its data as `model.keras` and `data.npz` in the run directory,
then run `flowscope race --model model.keras --data data.npz` on those files (the same
code, `demo_models.race.own_model`). The run is that race: the Optimizer Race page shows
every racer's path on the network's real loss landscape (the plane of the racers' first
two principal components), Scalars their training and validation losses, HParams their
settings and results. The command it prints races again with other options.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import numpy as np

from demo_models import classifier, lesson, mnist, notes
from demo_models.race import own_model
from summaries.writer import LogWriter

STEPS = 500
QUICK_STEPS = 200
BATCH_SIZE = 100
OPTIMIZERS = ("sgd", "momentum", "rmsprop", "adam")
TRAIN, VALIDATION = 10_000, 1_000  # examples saved (at most): a race sees 50,000 at most
GRID, SAMPLE = 15, 256  # the map's grid and the training examples it is computed on


def build(seed: int = 0):
    """The MLP lesson's 500/100 network as a user writes it in Keras, compiled like the
    lesson (cross entropy of the logits, accuracy; the race picks the optimizers)."""
    import keras

    keras.utils.set_random_seed(seed)
    dense = dict(
        kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.1, seed=seed),
        bias_initializer=keras.initializers.Constant(0.1),
    )
    model = keras.Sequential(
        [
            keras.Input((mnist.SIDE, mnist.SIDE), name="image"),
            keras.layers.Flatten(),
            keras.layers.Dense(500, activation="relu", name="hidden1", **dense),
            keras.layers.Dense(100, activation="relu", name="hidden2", **dense),
            keras.layers.Dense(10, name="output", **dense),
        ],
        name="mlp",
    )
    model.compile(
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"]
    )
    return model


def save_inputs(run: Path, data: mnist.Digits, seed: int) -> tuple[Path, Path]:
    """The model and data files a user would bring, written into `run/inputs/`."""
    inputs = run / "inputs"
    inputs.mkdir(parents=True, exist_ok=True)
    model_file, data_file = inputs / "model.keras", inputs / "data.npz"
    build(seed).save(model_file)
    np.savez(
        data_file,
        x=data.x_train[:TRAIN],
        y=data.y_train[:TRAIN],
        x_val=data.x_test[:VALIDATION],
        y_val=data.y_test[:VALIDATION],
    )
    return model_file, data_file


def main(argv: list[str]) -> int:
    """Save the lesson's network and digits, then race the optimizers on them."""
    args, data = classifier.start("own_model", __doc__, argv, steps=STEPS, quick_steps=QUICK_STEPS)
    steps = lesson.step_count(args, min(len(data.x_train), TRAIN), BATCH_SIZE)
    run = Path(args.logdir)
    lesson.say(f"own_model: {data.source}")
    model_file, data_file = save_inputs(run, data, args.seed)
    race = [
        "--model", str(model_file), "--data", str(data_file),
        "--logdir", str(run.parent), "--name", run.name,
        "--optimizers", *OPTIMIZERS, "--steps", str(steps), "--batch-size", str(BATCH_SIZE),
        "--grid", str(GRID), "--sample", str(SAMPLE), "--seed", str(args.seed),
    ]  # fmt: skip
    lesson.say("own_model: flowscope race " + shlex.join(race))
    status = own_model.main(race)
    if status:
        return status
    with LogWriter(str(run)) as writer:  # the lesson note (Text tab), beside the race's file
        writer.add(notes.note_pb("own_model"), step=0)
    lesson.print_guide("own_model", args)
    return 0
