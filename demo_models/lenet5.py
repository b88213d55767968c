"""lenet5: LeNet-5 on MNIST as in the lesson: conv-pool-conv-pool-fc-fc, dropout in training.

The lesson (neural-network basics, "LeNet5 model (forward propagation)") writes
`inference(input_tensor, train, regularizer)` with one variable scope per layer:
`layer1-conv1` (5 x 5, 32 filters, SAME, ReLU), `layer2-pool1` (2 x 2 max pool, stride 2),
`layer3-conv2` (5 x 5, 64 filters), `layer4-pool2`, a flatten, `layer5-fc1` (512 ReLU
units, L2-regularised, dropout 0.5 only when `train`) and `layer6-fc2` (10 logits,
L2-regularised). It trains like the book's `LeNet5_train` (batches of 100, 10,000 steps):
cross entropy plus the L2 terms, gradient descent at 0.01 decaying by 0.99 per epoch. The
book also keeps a moving average of the weights there; that is the `regularized` demo's
subject and is left out here. `--quick` (the tour) runs 300 steps of 50 at a learning rate
of 0.1, so that the CNN beats the fully connected `mlp` within seconds, as the lesson says
it should; the lesson's 0.01 needs thousands of steps to get there.

============================================  ==========================================
lesson (TF1)                                  this module (TF2)
============================================  ==========================================
`CONV1_SIZE`, `CONV1_DEEP`, ..., `FC_SIZE`    constants below (the book's values)
`variable_scope('layer1-conv1')`: weight,     `LeNet5.__call__`: the same six scopes;
bias, `conv2d` + `relu(bias_add)`             variables in `LeNet5.__init__`
`name_scope("layer2-pool1")`: `max_pool`      `tf.nn.max_pool2d`, same window and stride
`tf.reshape(pool2, [batch, nodes])`           scope `layer4-pool2`: `reshaped`
`if train: fc1 = tf.nn.dropout(fc1, 0.5)`     `LeNet5.__call__(x, train=True)`
`regularizer(fc1_weights)`, `(fc2_weights)`   `LeNet5.l2()`
`exponential_decay(...)`, GradientDescent     scope `train`: SGD on `ExponentialDecay`
`saver.save(...)`                             `Run`'s checkpoint (a rerun continues)
============================================  ==========================================

Logged: `train/loss`, `train/accuracy`, `train/learning_rate` and `test/accuracy` (the
lessons' tag scheme), histograms of every layer's weights, a few input images, the first
layer's 32 filters as images, and the confusion matrix of the test set for the Confusion
page.
"""

from __future__ import annotations

import math

import numpy as np

from demo_models import classifier, lesson

NUM_CHANNELS = 1
CONV1_DEEP, CONV1_SIZE = 32, 5
CONV2_DEEP, CONV2_SIZE = 64, 5
FC_SIZE = 512
NUM_LABELS = 10
BATCH_SIZE = 100
LEARNING_RATE_BASE = 0.01
LEARNING_RATE_DECAY = 0.99
REGULARIZATION_RATE = 0.0001
TRAINING_STEPS = 10000
QUICK_STEPS = 300
QUICK_BATCH_SIZE = 50
QUICK_LEARNING_RATE = 0.1
LOG_EVERY = 50
EVAL_EVERY = 500
EVAL_LIMIT = 1000  # test images per evaluation (convolutions are slow on a CPU)


def build(
    side: int,
    examples: int,
    batch_size: int,
    seed: int = 0,
    base_rate: float = LEARNING_RATE_BASE,
):
    """The network, its optimizer and the `train_step`/`predict` tf.functions."""
    import keras
    import tensorflow as tf

    class LeNet5(tf.Module):
        """The lesson's `inference`: two conv-pool stages and two fully connected layers."""

        def __init__(self) -> None:
            super().__init__(name="lenet5_model")
            init = tf.random.Generator.from_seed(seed)

            def weight(shape):
                return tf.Variable(init.truncated_normal(shape, stddev=0.1), name="weight")

            self.conv1_weights = weight([CONV1_SIZE, CONV1_SIZE, NUM_CHANNELS, CONV1_DEEP])
            self.conv1_biases = tf.Variable(tf.zeros([CONV1_DEEP]), name="bias")
            self.conv2_weights = weight([CONV2_SIZE, CONV2_SIZE, CONV1_DEEP, CONV2_DEEP])
            self.conv2_biases = tf.Variable(tf.zeros([CONV2_DEEP]), name="bias")
            pooled = math.ceil(math.ceil(side / 2) / 2)  # two SAME poolings with stride 2
            self.nodes = pooled * pooled * CONV2_DEEP
            self.fc1_weights = weight([self.nodes, FC_SIZE])
            self.fc1_biases = tf.Variable(tf.fill([FC_SIZE], 0.1), name="bias")
            self.fc2_weights = weight([FC_SIZE, NUM_LABELS])
            self.fc2_biases = tf.Variable(tf.fill([NUM_LABELS], 0.1), name="bias")

        def __call__(self, input_tensor, train=False):
            with tf.name_scope("layer1-conv1"):
                conv1 = tf.nn.conv2d(input_tensor, self.conv1_weights, 1, padding="SAME")
                relu1 = tf.nn.relu(tf.nn.bias_add(conv1, self.conv1_biases))
            with tf.name_scope("layer2-pool1"):
                pool1 = tf.nn.max_pool2d(relu1, ksize=2, strides=2, padding="SAME")
            with tf.name_scope("layer3-conv2"):
                conv2 = tf.nn.conv2d(pool1, self.conv2_weights, 1, padding="SAME")
                relu2 = tf.nn.relu(tf.nn.bias_add(conv2, self.conv2_biases))
            with tf.name_scope("layer4-pool2"):
                pool2 = tf.nn.max_pool2d(relu2, ksize=2, strides=2, padding="SAME")
                reshaped = tf.reshape(pool2, [-1, self.nodes], name="reshaped")
            with tf.name_scope("layer5-fc1"):
                fc1 = tf.nn.relu(tf.matmul(reshaped, self.fc1_weights) + self.fc1_biases)
                if train:
                    fc1 = tf.nn.dropout(fc1, rate=0.5)
            with tf.name_scope("layer6-fc2"):
                return tf.matmul(fc1, self.fc2_weights) + self.fc2_biases

        def l2(self):
            """The lesson regularises the fully connected weights only."""
            return REGULARIZATION_RATE * (
                tf.nn.l2_loss(self.fc1_weights) + tf.nn.l2_loss(self.fc2_weights)
            )

    model = LeNet5()
    learning_rate = keras.optimizers.schedules.ExponentialDecay(
        base_rate,
        decay_steps=max(1, examples // batch_size),
        decay_rate=LEARNING_RATE_DECAY,
        staircase=True,
    )
    optimizer = keras.optimizers.SGD(learning_rate)
    variables = model.trainable_variables
    optimizer.build(variables)

    @tf.function(autograph=False)  # plain Python control flow: no AutoGraph needed
    def train_step(images, labels):
        x, y_ = classifier.inputs(images, labels, [-1, side, side, NUM_CHANNELS])
        with tf.GradientTape() as tape:
            y = model(x, train=True)
            with tf.name_scope("loss"):
                loss = classifier.cross_entropy(y_, y) + model.l2()
        with tf.name_scope("train"):
            optimizer.apply(tape.gradient(loss, variables), variables)
        return loss, classifier.accuracy(y, y_)

    @tf.function(autograph=False)  # plain Python control flow: no AutoGraph needed
    def predict(images):
        x = tf.reshape(images, [-1, side, side, NUM_CHANNELS])
        return tf.argmax(model(x, train=False), 1)

    return model, optimizer, train_step, predict


def main(argv: list[str]) -> int:
    """Train LeNet-5 and log scalars, histograms, filters and the confusion matrix."""
    args, data = classifier.start(
        "lenet5", __doc__, argv, steps=TRAINING_STEPS, quick_steps=QUICK_STEPS
    )
    import tensorflow as tf

    import summaries

    batch_size = QUICK_BATCH_SIZE if args.quick else BATCH_SIZE
    steps = lesson.step_count(args, len(data.x_train), batch_size)
    side = data.x_train.shape[1]
    base_rate = QUICK_LEARNING_RATE if args.quick else LEARNING_RATE_BASE
    model, optimizer, train_step, predict = build(
        side, len(data.x_train), batch_size, args.seed, base_rate
    )
    x_test, y_test = data.x_test[:EVAL_LIMIT], data.y_test[:EVAL_LIMIT]
    with lesson.Run("lenet5", args.logdir, model=model, optimizer=optimizer) as run:
        for step, images, labels, log, evaluate in classifier.training(
            run, data, steps, batch_size, args.seed, log_every=LOG_EVERY, eval_every=EVAL_EVERY
        ):
            rate = float(optimizer.learning_rate)
            loss, accuracy = run.train(step, train_step, images, labels)
            if log:
                lesson.log_training(step, loss=loss, accuracy=accuracy, learning_rate=rate)
            if evaluate:
                for scope, var in (
                    ("layer1-conv1", model.conv1_weights),
                    ("layer3-conv2", model.conv2_weights),
                    ("layer5-fc1", model.fc1_weights),
                    ("layer6-fc2", model.fc2_weights),
                ):
                    with tf.name_scope(scope):
                        summaries.histogram("weight", var, step=step)
                with tf.name_scope("layer1-conv1"):
                    summaries.image(
                        "filters",
                        filter_images(model.conv1_weights),
                        step=step,
                        max_outputs=CONV1_DEEP,
                    )
                test_accuracy = lesson.evaluate(step, predict, x_test, y_test)
                lesson.say(f"step {step}: test accuracy {test_accuracy:.4f}")
    lesson.print_guide("lenet5", args)
    return 0


def filter_images(weights) -> np.ndarray:
    """The first layer's 5 x 5 filters as [32, 5, 5, 1] images, each scaled to [0, 1]."""
    w = np.transpose(np.asarray(weights)[:, :, 0, :], (2, 0, 1))
    low = w.min(axis=(1, 2), keepdims=True)
    span = np.maximum(w.max(axis=(1, 2), keepdims=True) - low, 1e-8)
    return ((w - low) / span)[..., None].astype(np.float32)
