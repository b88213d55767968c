"""regularized: the two-layer MNIST network with L2, a decaying learning rate and averaged weights.

The lesson (neural-network basics, "MNIST best practice": `mnist_inference.py`,
`mnist_train.py`, `mnist_eval.py`) trains one hidden layer of 500 ReLU units with three
improvements: L2 regularisation of the weights added to the loss, a learning rate that
decays exponentially with the global step (0.8 * 0.99^(step / batches-per-epoch),
staircase), and an exponential moving average of every weight (decay 0.99, sped up early
by the global step) that the evaluation uses instead of the raw weights. Here the learning
rate and the accuracy of both the raw and the averaged weights are logged, so the effect
of averaging is a curve you can compare. (On the offline 8 x 8 stand-in for MNIST the
rate starts at 0.2: the lesson's 0.8 oscillates there.)

=============================================  ==========================================
lesson (TF1)                                   this module (TF2)
=============================================  ==========================================
`INPUT_NODE`, `LAYER1_NODE = 500`, ...         constants below (the book's values)
`get_weight_variable` + `l2_regularizer`       `TwoLayer.__init__`, `TwoLayer.l2()`
`inference(input_tensor, avg_class)`           `TwoLayer.inference(x, average=None)`
`variable_scope('layer1')`, `('layer2')`       name scopes `layer1`, `layer2`
placeholders `x-input`, `y-input`              scope `input`: `x-input`, `y-input`
`global_step = tf.Variable(0, trainable=...)`  `lesson.global_step()`, checkpointed
`ExponentialMovingAverage(0.99, global_step)`  `tf.train.ExponentialMovingAverage`
`exponential_decay(0.8, global_step, ...)`     `keras.optimizers.schedules.ExponentialDecay`
`cross_entropy_mean + add_n('losses')`         scope `loss`: `cross_entropy`, `l2`, total
`GradientDescentOptimizer(lr).minimize(...)`   scope `train`: `keras.optimizers.SGD`
`control_dependencies([train_step, ema_op])`   scope `train`: `ema.apply` after the step
`saver.save(...)` every 1000 steps             `Run`'s checkpoint (a rerun continues)
`mnist_eval`: `variables_to_restore()`         `inference(x, ema.average)`: test accuracy
                                               of the averaged weights, every few steps
=============================================  ==========================================

Also logged: weight histograms (raw and averaged), a few input images, and the confusion
matrix of the averaged model on the test set for the Confusion page.
"""

from __future__ import annotations

import numpy as np

from demo_models import classifier, lesson

LAYER1_NODE = 500
BATCH_SIZE = 100
LEARNING_RATE_BASE = 0.8
# The upsampled 8x8 stand-in is smoother than MNIST and oscillates at 0.8 (measured: test
# accuracy stays below 40 %); 0.2 learns it in a few dozen steps.
STANDIN_LEARNING_RATE_BASE = 0.2
LEARNING_RATE_DECAY = 0.99
REGULARIZATION_RATE = 0.0001
TRAINING_STEPS = 30000
MOVING_AVERAGE_DECAY = 0.99
QUICK_STEPS = 200  # long enough for the averaged weights' curve to settle above the raw one
LOG_EVERY = 100
EVAL_EVERY = 1000
TEST_POINTS = 20  # test accuracies: a short run still gets a curve of raw against averaged


def build(pixels: int, examples: int, seed: int = 0, base_rate: float = LEARNING_RATE_BASE):
    """Model, step, optimizer, moving average, and the `train_step`/`predict` tf.functions."""
    import keras
    import tensorflow as tf

    class TwoLayer(tf.Module):
        """The lesson's `inference`: relu(x W1 + b1) W2 + b2."""

        def __init__(self) -> None:
            super().__init__(name="regularized_model")
            init = tf.random.Generator.from_seed(seed)
            self.w1 = tf.Variable(init.truncated_normal([pixels, LAYER1_NODE], stddev=0.1))
            self.b1 = tf.Variable(tf.zeros([LAYER1_NODE]))
            self.w2 = tf.Variable(init.truncated_normal([LAYER1_NODE, 10], stddev=0.1))
            self.b2 = tf.Variable(tf.zeros([10]))

        def inference(self, x, average=None):
            """Forward pass; `average` maps a variable to its moving average (evaluation)."""
            use = average or (lambda v: v)
            with tf.name_scope("layer1"):
                layer1 = tf.nn.relu(tf.matmul(x, use(self.w1)) + use(self.b1))
            with tf.name_scope("layer2"):
                return tf.matmul(layer1, use(self.w2)) + use(self.b2)

        def l2(self):
            """`l2_regularizer(REGULARIZATION_RATE)` of both weight matrices, summed."""
            return REGULARIZATION_RATE * (tf.nn.l2_loss(self.w1) + tf.nn.l2_loss(self.w2))

    model = TwoLayer()
    global_step = lesson.global_step()
    learning_rate = keras.optimizers.schedules.ExponentialDecay(
        base_rate,
        decay_steps=max(1, examples // BATCH_SIZE),  # one decay per epoch
        decay_rate=LEARNING_RATE_DECAY,
        staircase=True,
    )
    optimizer = keras.optimizers.SGD(learning_rate)
    variables = model.trainable_variables
    optimizer.build(variables)
    averages = tf.train.ExponentialMovingAverage(MOVING_AVERAGE_DECAY, num_updates=global_step)
    averages.apply(variables)  # creates the shadow variables, equal to the weights

    @tf.function(autograph=False)  # plain Python control flow: no AutoGraph needed
    def train_step(images, labels):
        x, y_ = classifier.inputs(images, labels, [-1, pixels])
        with tf.GradientTape() as tape:
            y = model.inference(x)
            with tf.name_scope("loss"):
                cross_entropy = tf.reduce_mean(
                    tf.nn.sparse_softmax_cross_entropy_with_logits(
                        logits=y, labels=tf.argmax(y_, 1)
                    )
                )
                l2 = model.l2()
                loss = cross_entropy + l2
        with tf.name_scope("train"):
            optimizer.apply(tape.gradient(loss, variables), variables)
            averages.apply(variables)
        return loss, cross_entropy, l2, classifier.accuracy(y, y_)

    @tf.function(autograph=False)  # plain Python control flow: no AutoGraph needed
    def predict(images, averaged):
        x = tf.reshape(images, [-1, pixels])
        if averaged:
            return tf.argmax(model.inference(x, averages.average), 1)
        return tf.argmax(model.inference(x), 1)

    return model, global_step, optimizer, averages, train_step, predict


def main(argv: list[str]) -> int:
    """Train with L2, a decaying learning rate and moving averages; log all three."""
    args, data = classifier.start(
        "regularized", __doc__, argv, steps=TRAINING_STEPS, quick_steps=QUICK_STEPS
    )
    import tensorflow as tf

    import summaries

    steps = lesson.step_count(args, len(data.x_train), BATCH_SIZE)
    base_rate = LEARNING_RATE_BASE if data.is_mnist else STANDIN_LEARNING_RATE_BASE
    model, global_step, optimizer, averages, train_step, predict = build(
        data.pixels, len(data.x_train), args.seed, base_rate
    )
    shadows = [averages.average(v) for v in model.trainable_variables]
    with lesson.Run(
        "regularized",
        args.logdir,
        step=global_step,
        model=model,
        optimizer=optimizer,
        averages=shadows,
    ) as run:
        training = classifier.training(
            run, data, steps, BATCH_SIZE, args.seed, log_every=LOG_EVERY, eval_every=EVAL_EVERY
        )
        run.note("about/learning_rate", f"learning rate {base_rate} * {LEARNING_RATE_DECAY}^epoch")
        last = run.start + steps - 1
        test_every = lesson.interval(steps, EVAL_EVERY, TEST_POINTS)
        for step, images, labels, log, evaluate in training:
            # the rate this step uses, read before the step advances the optimizer
            rate = float(optimizer.learning_rate)
            loss, cross_entropy, l2, accuracy = run.train(step, train_step, images, labels)
            if log:
                lesson.log_training(
                    step,
                    loss=loss,
                    cross_entropy=cross_entropy,
                    l2=l2,
                    learning_rate=rate,
                    accuracy=accuracy,
                )
            if lesson.every(step, test_every, last):
                raw = predict(data.x_test, False).numpy()
                averaged = predict(data.x_test, True).numpy()
                raw_accuracy = float(np.mean(raw == data.y_test))
                averaged_accuracy = float(np.mean(averaged == data.y_test))
                # the lesson evaluates the averaged weights: they are the headline accuracy
                summaries.scalar("test/accuracy", averaged_accuracy, step=step)
                summaries.scalar("test/accuracy_raw_weights", raw_accuracy, step=step)
                lesson.say(
                    f"After {step} training step(s), test accuracy = {raw_accuracy:.4f} "
                    f"(averaged weights {averaged_accuracy:.4f})"
                )
            if evaluate:  # weight histograms and the confusion matrix
                for name, var in (("layer1", model.w1), ("layer2", model.w2)):
                    with tf.name_scope(name):
                        summaries.histogram("weights", var, step=step)
                        summaries.histogram("weights_averaged", averages.average(var), step=step)
                averaged = predict(data.x_test, True).numpy()
                lesson.log_classifier(step, data.y_test, averaged, data.x_test)
    lesson.print_guide("regularized", args)
    return 0
