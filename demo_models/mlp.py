"""mlp: the "almost practical example", a 500/100 feed-forward network on MNIST trained with Adam.

The lesson ("TensorFlow as a computation framework") ends by putting everything together:
MNIST through a network with two hidden layers of 500 and 100 units, cross-entropy loss,
the Adam optimizer with learning rate 0.001, the graph cut into blocks with name scopes,
summaries of the accuracy and the mean loss merged into one op, 20,000 steps of 100
examples with a summary every 100 steps, and a Saver so the model is not lost. It reports
about 96 % test accuracy ("not good, but the point is how much you can see for little work").
The notes lost the code's screenshots; the hidden units here are ReLUs.

==========================================  =============================================
lesson (TF1)                                this module (TF2)
==========================================  =============================================
`input_data.read_data_sets(...)`            `mnist.load()`
scope `input`: placeholders                 scope `input`: `x-input`, `y-input`
scope `model`: hidden 500, hidden 100,      scope `model`: `hidden1`, `hidden2`, `output`,
output layer                                each with `weights`, `biases` (`MLP.__call__`)
scope `loss`: softmax cross entropy         scope `loss`
scope `train`: AdamOptimizer(0.001)         scope `train`: `keras.optimizers.Adam(0.001)`
scope `accuracy`                            scope `accuracy`
`tf.summary.scalar` accuracy and loss,      `train/loss`, `train/accuracy` (the lessons'
`tf.summary.merge`                          tag scheme), every `LOG_EVERY` steps
20,000 steps of 100, summary every 100      `STEPS`, `BATCH_SIZE`, `LOG_EVERY`
`saver.save(...)`                           `Run`'s checkpoint (a rerun continues)
==========================================  =============================================

Also logged: weight histograms per layer, a few input images, and the test set's confusion
matrix for the Confusion page.
"""

from __future__ import annotations

from typing import Any

from demo_models import classifier, lesson

LAYERS = (500, 100)
LEARNING_RATE = 0.001
BATCH_SIZE = 100
STEPS = 20000
QUICK_STEPS = 60
LOG_EVERY = 100
EVAL_EVERY = 1000


def build(pixels: int, seed: int = 0):
    """The 500/100 network, Adam, and the `train_step` and `predict` tf.functions."""
    import keras
    import tensorflow as tf

    class MLP(tf.Module):
        """relu(relu(x W1 + b1) W2 + b2) W3 + b3 with truncated-normal weights."""

        def __init__(self) -> None:
            super().__init__(name="mlp_model")
            init = tf.random.Generator.from_seed(seed)
            sizes = (pixels, *LAYERS, 10)
            self.layers = [
                (
                    tf.Variable(init.truncated_normal([n_in, n_out], stddev=0.1), name="weights"),
                    tf.Variable(tf.fill([n_out], 0.1), name="biases"),
                )
                for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True)
            ]

        names = ("hidden1", "hidden2", "output")

        def __call__(self, x):
            with tf.name_scope("model"):
                for i, (name, (weights, biases)) in enumerate(
                    zip(self.names, self.layers, strict=True)
                ):
                    with tf.name_scope(name):
                        x = tf.matmul(x, weights) + biases
                        if i < len(self.layers) - 1:
                            x = tf.nn.relu(x)
                return x

    model = MLP()
    optimizer = keras.optimizers.Adam(LEARNING_RATE)
    optimizer.build(model.trainable_variables)

    @tf.function(autograph=False)  # plain Python control flow: no AutoGraph needed
    def train_step(images, labels):
        x, y = classifier.inputs(images, labels, [-1, pixels])
        with tf.GradientTape() as tape:
            logits = model(x)
            with tf.name_scope("loss"):
                loss = classifier.cross_entropy(y, logits)
        with tf.name_scope("train"):
            variables = model.trainable_variables
            optimizer.apply(tape.gradient(loss, variables), variables)
        return loss, classifier.accuracy(logits, y)

    @tf.function(autograph=False)  # plain Python control flow: no AutoGraph needed
    def predict(images):
        return tf.argmax(model(tf.reshape(images, [-1, pixels])), 1)

    return model, optimizer, train_step, predict


def log_weights(model: Any, step: int) -> None:
    """Weight and bias histograms of each layer, under the lesson's scopes `model/<layer>/`."""
    import tensorflow as tf

    import summaries

    with tf.name_scope("model"):
        for name, (weights, biases) in zip(model.names, model.layers, strict=True):
            with tf.name_scope(name):
                summaries.histogram("weights", weights.read_value(), step=step)
                summaries.histogram("biases", biases.read_value(), step=step)


def main(argv: list[str]) -> int:
    """Train the 500/100 network with Adam and log accuracy and loss under scopes."""
    args, data = classifier.start("mlp", __doc__, argv, steps=STEPS, quick_steps=QUICK_STEPS)
    steps = lesson.step_count(args, len(data.x_train), BATCH_SIZE)
    model, optimizer, train_step, predict = build(data.pixels, args.seed)
    with lesson.Run("mlp", args.logdir, model=model, optimizer=optimizer) as run:
        for step, images, labels, log, evaluate in classifier.training(
            run, data, steps, BATCH_SIZE, args.seed, log_every=LOG_EVERY, eval_every=EVAL_EVERY
        ):
            loss, accuracy = run.train(step, train_step, images, labels)
            if log:
                lesson.log_training(step, loss=loss, accuracy=accuracy)
            if evaluate:
                log_weights(model, step)
                test_accuracy = lesson.evaluate(step, predict, data.x_test, data.y_test)
                lesson.say(f"step {step}: test accuracy {test_accuracy:.4f}")
    lesson.print_guide("mlp", args)
    return 0
