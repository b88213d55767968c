"""nonlinear: the week-3 non-linear regression, a 1-10-1 tanh network fitted to y = x^2 + noise.

The lesson generates 200 points on [-0.5, 0.5], adds Gaussian noise (sigma 0.02) to x^2,
fits a network with one hidden layer of 10 tanh units and a tanh output by gradient
descent (learning rate 0.1, 2,000 steps on the whole data set) and finally plots the data
with the fitted curve (`plt.scatter`, `plt.plot(..., 'r-', lw=5)`). Here the same plot is
rendered every few steps into an image summary, so the fit can be watched improving in
TensorBoard's Images tab (drag the step slider).

==========================================  =============================================
lesson (TF1)                                this module (TF2)
==========================================  =============================================
`x_data = np.linspace(-0.5, 0.5, 200)`      `make_data()`
`noise = np.random.normal(0, 0.02, ...)`    `make_data()` (seeded by `--seed`)
placeholders `x`, `y`                       scope `input`: `x-input`, `y-input`
`Weights_L1` random_normal([1, 10])         `Net.weights_l1`, read under `layer1/weights`
`bias_L1` zeros([1, 10])                    `Net.bias_l1`, read under `layer1/biases`
`Wx_plus_b_L1`, `L1 = tf.nn.tanh(...)`      scopes `layer1/Wx_plus_b`, `layer1/tanh`
`Weights_L2`, `bias_L2`, `prediction`       the same under `layer2`
`loss = reduce_mean(square(y - pred))`      scope `loss`
`GradientDescentOptimizer(0.1)`             scope `train`: `keras.optimizers.SGD(0.1)`
`for _ in range(2000)`                      `STEPS` (`--steps`)
`plt.scatter` + `plt.plot` at the end       image `fit/data_and_model` every few steps
==========================================  =============================================

Also logged: the loss (Scalars) and every weight and bias (Histograms); a checkpoint lets a
second run continue the step numbers.
"""

from __future__ import annotations

import numpy as np

from demo_models import lesson

LEARNING_RATE = 0.1
STEPS = 2000
QUICK_STEPS = 300
HIDDEN = 10
LOG_EVERY = 10  # loss
PLOT_EVERY = 200  # weight histograms and the fitted-curve image


def make_data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """200 points of y = x^2 + noise on [-0.5, 0.5], as float32 [200, 1] columns."""
    rng = np.random.default_rng(seed)
    x_data = np.linspace(-0.5, 0.5, 200)[:, np.newaxis]
    noise = rng.normal(0, 0.02, x_data.shape)
    y_data = np.square(x_data) + noise
    return x_data.astype(np.float32), y_data.astype(np.float32)


def build(seed: int = 0):
    """The 1-10-1 network, its optimizer and the `train_step` tf.function (lesson's graph)."""
    import keras
    import tensorflow as tf

    class Net(tf.Module):
        """tanh(tanh(x W1 + b1) W2 + b2) with normal-initialised weights and zero biases."""

        def __init__(self) -> None:
            super().__init__(name="nonlinear_model")
            init = tf.random.Generator.from_seed(seed)
            self.weights_l1 = tf.Variable(init.normal([1, HIDDEN]), name="Weights_L1")
            self.bias_l1 = tf.Variable(tf.zeros([1, HIDDEN]), name="bias_L1")
            self.weights_l2 = tf.Variable(init.normal([HIDDEN, 1]), name="Weights_L2")
            self.bias_l2 = tf.Variable(tf.zeros([1, 1]), name="bias_L2")

        @staticmethod
        def _layer(name, x, weights, bias):
            with tf.name_scope(name):
                with tf.name_scope("weights"):
                    w = tf.identity(weights, name="W")
                with tf.name_scope("biases"):
                    b = tf.identity(bias, name="b")
                with tf.name_scope("Wx_plus_b"):
                    wx_plus_b = tf.matmul(x, w) + b
                with tf.name_scope("tanh"):
                    return tf.nn.tanh(wx_plus_b)

        def __call__(self, x):
            l1 = self._layer("layer1", x, self.weights_l1, self.bias_l1)
            return self._layer("layer2", l1, self.weights_l2, self.bias_l2)

    net = Net()
    optimizer = keras.optimizers.SGD(LEARNING_RATE)
    optimizer.build(net.trainable_variables)

    @tf.function(autograph=False)  # plain Python control flow: no AutoGraph needed
    def train_step(x_data, y_data):
        with tf.name_scope("input"):
            x = tf.identity(x_data, name="x-input")
            y = tf.identity(y_data, name="y-input")
        with tf.GradientTape() as tape:
            prediction = net(x)
            with tf.name_scope("loss"):
                loss = tf.reduce_mean(tf.square(y - prediction))
        with tf.name_scope("train"):
            variables = net.trainable_variables
            optimizer.apply(tape.gradient(loss, variables), variables)
        return loss

    return net, optimizer, train_step


def main(argv: list[str]) -> int:
    """Fit the 1-10-1 network and log loss, weight histograms and the fitted curve."""
    args = lesson.parse(
        lesson.parser("nonlinear", __doc__.splitlines()[0], steps=STEPS, quick_steps=QUICK_STEPS),
        argv,
    )
    import tensorflow as tf

    import summaries

    x_data, y_data = make_data(args.seed)
    net, optimizer, train_step = build(args.seed)
    steps = lesson.step_count(args)
    with lesson.Run("nonlinear", args.logdir, model=net, optimizer=optimizer) as run:
        last = run.start + steps - 1
        log_every = lesson.interval(steps, LOG_EVERY, 30)
        plot_every = lesson.interval(steps, PLOT_EVERY, 5)
        for step in run.steps(steps):
            loss = run.train(step, train_step, x_data, y_data)
            if lesson.every(step, log_every, last):
                lesson.log_training(step, loss=loss)
            if lesson.every(step, plot_every, last):
                for layer, weights, bias in (
                    ("layer1", net.weights_l1, net.bias_l1),
                    ("layer2", net.weights_l2, net.bias_l2),
                ):
                    with tf.name_scope(layer):
                        summaries.histogram("weights", weights, step=step)
                        summaries.histogram("biases", bias, step=step)
                prediction_value = net(x_data).numpy()
                picture = lesson.plot_fit(
                    x_data[:, 0],
                    y_data[:, 0],
                    x_data[:, 0],
                    prediction_value[:, 0],
                    f"step {step}: loss {float(loss):.5f}",
                )
                with tf.name_scope("fit"):
                    summaries.image("data_and_model", picture, step=step)
                lesson.say(f"step {step}: loss {float(loss):.6f}")
    lesson.print_guide("nonlinear", args)
    return 0
