"""linear: the week-2 linear regression, k and b fitted to y = 0.1x + 0.2 by gradient descent.

The lesson's first model: 100 random points x in [0, 1) with y = 0.1x + 0.2, a model
y = kx + b with k = b = 0 at the start, the mean squared error as loss, and
`GradientDescentOptimizer(0.2)` run for 201 steps, printing k and b every 20 steps. Here
k, b and the loss are logged at every step, the data with the current line is drawn every
few steps, and the whole path of (k, b) is written as an optimizer trajectory over the
(k, b) loss surface, so the lesson's gradient descent appears on the Optimizer Race page
(race `race-linear_regression`, racer "SGD (lesson)"), beside the Keras optimizers that
`flowscope race --surfaces linear_regression` races on the very same surface.

=========================================  =============================================
lesson (TF1)                               this module (TF2)
=========================================  =============================================
`x_data = np.random.rand(100)`             the race's `linear_regression` surface data
`y_data = x_data * 0.1 + 0.2`              (100 seeded points, the same formula)
`b = tf.Variable(0.)`, `k = tf.Variable(0.)`  `k`, `b` in `build()`
`y = k*x_data + b`                         scope `model` in `train_step`
`loss = reduce_mean(square(y_data - y))`   scope `loss`
`GradientDescentOptimizer(0.2).minimize`   scope `train`: `keras.optimizers.SGD(0.2)`
`for step in range(201)`                   `STEPS` (`--steps`)
`if step % 20 == 0: print(step, [k, b])`   scalars `train/k`, `train/b`, `train/loss` at
                                           every step;
                                           the printed lines every `PRINT_EVERY` steps
=========================================  =============================================

Also logged: a histogram of the residuals y - (kx + b), an image of the data and the
current line, and the race pair `race/surface` + `race/trajectory`. Step s holds the
parameters after s updates, so a resumed run continues the same path.
"""

from __future__ import annotations

import numpy as np

from demo_models import lesson

LEARNING_RATE = 0.2
STEPS = 201
QUICK_STEPS = 201  # the lesson's run takes well under a second
PRINT_EVERY = 20
PLOT_EVERY = 40
# `flowscope race` names its race on this surface `race-linear_regression`: the lesson's
# gradient descent joins that race as one more racer.
RACE = "race-linear_regression"
RACER = "SGD (lesson)"
SURFACE = "linear_regression"


def build(x_data: np.ndarray, y_data: np.ndarray):
    """k, b, the optimizer and the `train_step` tf.function (the lesson's graph)."""
    import keras
    import tensorflow as tf

    b = tf.Variable(0.0, name="b")
    k = tf.Variable(0.0, name="k")
    optimizer = keras.optimizers.SGD(LEARNING_RATE)
    optimizer.build([k, b])

    @tf.function(autograph=False)  # plain Python control flow: no AutoGraph needed
    def train_step():
        """One step of gradient descent; returns the loss before it (at the current k, b)."""
        with tf.GradientTape() as tape:
            with tf.name_scope("model"):
                y = k * x_data + b
            with tf.name_scope("loss"):
                loss = tf.reduce_mean(tf.square(y_data - y))
        with tf.name_scope("train"):
            optimizer.apply(tape.gradient(loss, [k, b]), [k, b])
        return loss

    return k, b, optimizer, train_step


def main(argv: list[str]) -> int:
    """Fit k and b and log them, the fitted line and the (k, b) trajectory."""
    args = lesson.parse(
        lesson.parser("linear", __doc__.splitlines()[0], steps=STEPS, quick_steps=QUICK_STEPS),
        argv,
    )
    import tensorflow as tf

    import summaries
    from summaries.format import RACE_TAGS
    from summaries.race.surfaces import SURFACES

    surface = SURFACES[SURFACE]
    x_data, y_data = surface.x_data, surface.y_data
    k, b, optimizer, train_step = build(x_data, y_data)
    steps = lesson.step_count(args)
    with lesson.Run("linear", args.logdir, k=k, b=b, optimizer=optimizer) as run:
        _, _, grid = surface.grid(101)
        summaries.surface(
            RACE_TAGS["surface"],
            grid,
            race=RACE,
            surface=SURFACE,
            window=surface.window,
            minima=surface.minima,
            log_scale=surface.log_scale,
            step=run.start,
        )
        last = run.start + steps - 1
        plot_every = lesson.interval(steps, PLOT_EVERY, 4)
        path: list[tuple[int, float, float, float]] = []
        for step in run.steps(steps):
            k_now, b_now = float(k.numpy()), float(b.numpy())
            loss = run.call_with_graph(train_step) if step == run.start else train_step()
            path.append((step, k_now, b_now, float(loss)))
            lesson.log_training(step, k=k_now, b=b_now, loss=loss)
            if lesson.every(step, PRINT_EVERY, last):
                lesson.say(f"{step} [k={k_now:.6f}, b={b_now:.6f}] loss={float(loss):.3g}")
            if lesson.every(step, plot_every, last):
                residuals = y_data - (k_now * x_data + b_now)
                with tf.name_scope("model"):
                    summaries.histogram("residuals", residuals, step=step)
                    line_x = np.array([0.0, 1.0])
                    picture = lesson.plot_fit(
                        x_data,
                        y_data,
                        line_x,
                        k_now * line_x + b_now,
                        f"step {step}: y = {k_now:.3f}x + {b_now:.3f}",
                    )
                    summaries.image("data_and_line", picture, step=step)
        rows = np.array(path)
        summaries.trajectory(
            RACE_TAGS["trajectory"],
            rows[:, 0].astype(np.int64),
            rows[:, 1:3],
            rows[:, 3],
            race=RACE,
            optimizer=RACER,
            surface=SURFACE,
            window=surface.window,
            hyperparameters={"learning_rate": LEARNING_RATE},
            minima=surface.minima,
            # the surface's display fields come from the library (the writer's defaults)
            optimizer_title=RACER,
            keras_class="keras.optimizers.SGD",
            tolerance_kind="distance",
        )
    lesson.print_guide("linear", args)
    return 0
