"""softmax: the week-5 MNIST softmax classifier, with the lesson's name scopes, in TF2.

The lesson (course notes, week 5: "TensorBoard structure and training visualisation")
builds a one-layer softmax network on MNIST inside nested name scopes, puts
`variable_summaries` on W and b, and writes the graph and merged summaries with a
`FileWriter`. Here is where each part of it went:

==========================================  =============================================
lesson (TF1)                                this module (TF2)
==========================================  =============================================
`input_data.read_data_sets(one_hot=True)`   `mnist.load()`; labels one-hot in `train_step`
`batch_size = 128`, `range(51)` epochs      `BATCH_SIZE`, `EPOCHS` (`--epochs`, `--steps`)
`with tf.name_scope('input')`: x, y         scope `input`: `x-input`, `y-input`
`layer/weights`: `W = tf.zeros([784,10])`   `Softmax.W`, read under `layer/weights`
`layer/biases`: `b = tf.zeros([1, 10])`     `Softmax.b`, read under `layer/biases`
`layer/xw_plus_b`, `layer/softmax`          the same scopes in `Softmax.__call__`
`loss`: cross entropy with logits (*)       scope `loss`
`train`: GradientDescentOptimizer(0.2)      scope `train`: `keras.optimizers.SGD(0.2)`
`accuracy/correct_prediction`, `accuracy`   the same scopes
`variable_summaries(W)`, `(b)`              `summaries.variable_summaries` on W and b
`merged`, `writer.add_summary(summary, i)`  `Run`'s writer; one summary call per value
`FileWriter('logs/', sess.graph)`           `Run.call_with_graph(train_step, ...)`
==========================================  =============================================

(*) the notes first used the squared error and then switched to
`softmax_cross_entropy_with_logits` ("an important problem found"); this is the fixed code.
Extras beyond the lesson: a few input images, test accuracy, and the test set's confusion
matrix for the Confusion page, a checkpoint (running again continues the step numbers) and
a progress bar.
"""

from __future__ import annotations

from demo_models import classifier, lesson

BATCH_SIZE = 128
LEARNING_RATE = 0.2
EPOCHS = 51
QUICK_STEPS = 60
LOG_EVERY = 10  # scalars and variable summaries
EVAL_EVERY = 100  # test accuracy, weight histograms, confusion matrix


def build(pixels: int):
    """The model, its optimizer and the `train_step` tf.function (lesson's graph)."""
    import keras
    import tensorflow as tf

    class Softmax(tf.Module):
        """y = softmax(xW + b): one layer, weights and biases start at zero as in the lesson."""

        def __init__(self) -> None:
            super().__init__(name="softmax_model")
            self.W = tf.Variable(tf.zeros([pixels, 10]), name="W")
            self.b = tf.Variable(tf.zeros([1, 10]), name="b")

        def __call__(self, x):
            with tf.name_scope("layer"):
                with tf.name_scope("weights"):
                    W = tf.identity(self.W, name="W")
                with tf.name_scope("biases"):
                    b = tf.identity(self.b, name="b")
                with tf.name_scope("xw_plus_b"):
                    wx_plus_b = tf.matmul(x, W) + b
                with tf.name_scope("softmax"):
                    prediction = tf.nn.softmax(wx_plus_b)
            return wx_plus_b, prediction

    model = Softmax()
    optimizer = keras.optimizers.SGD(LEARNING_RATE)
    optimizer.build(model.trainable_variables)

    def accuracy_of(y, prediction):
        with tf.name_scope("accuracy"):
            with tf.name_scope("correct_prediction"):
                correct_prediction = tf.equal(tf.argmax(y, 1), tf.argmax(prediction, 1))
            with tf.name_scope("accuracy"):
                return tf.reduce_mean(tf.cast(correct_prediction, tf.float32))

    @tf.function(autograph=False)  # plain Python control flow: no AutoGraph needed
    def train_step(images, labels):
        x, y = classifier.inputs(images, labels, [-1, pixels])
        with tf.GradientTape() as tape:
            wx_plus_b, prediction = model(x)
            with tf.name_scope("loss"):
                loss = classifier.cross_entropy(y, wx_plus_b)
        with tf.name_scope("train"):
            grads = tape.gradient(loss, [model.W, model.b])
            optimizer.apply(grads, [model.W, model.b])
        return loss, accuracy_of(y, prediction)

    @tf.function(autograph=False)  # plain Python control flow: no AutoGraph needed
    def predict(images):
        x = tf.reshape(images, [-1, pixels])
        return tf.argmax(model(x)[1], 1)

    return model, optimizer, train_step, predict


def main(argv: list[str]) -> int:
    """Train the softmax classifier and log the lesson's summaries."""
    args, data = classifier.start("softmax", __doc__, argv, epochs=EPOCHS, quick_steps=QUICK_STEPS)
    import tensorflow as tf

    import summaries

    steps = lesson.step_count(args, len(data.x_train), BATCH_SIZE)
    model, optimizer, train_step, predict = build(data.pixels)
    with lesson.Run("softmax", args.logdir, model=model, optimizer=optimizer) as run:
        for step, images, labels, log, evaluate in classifier.training(
            run, data, steps, BATCH_SIZE, args.seed, log_every=LOG_EVERY, eval_every=EVAL_EVERY
        ):
            loss, accuracy = run.train(step, train_step, images, labels)
            if log:
                # the lesson's summaries, under the same name scopes as its graph
                with tf.name_scope("layer"):
                    with tf.name_scope("weights"):
                        summaries.variable_summaries(model.W, name="", step=step)
                    with tf.name_scope("biases"):
                        summaries.variable_summaries(model.b, name="", step=step)
                lesson.log_training(step, loss=loss, accuracy=accuracy)
            if evaluate:
                test_accuracy = lesson.evaluate(step, predict, data.x_test, data.y_test)
                lesson.say(f"Iter {step} Testing Accuracy: {test_accuracy:.4f}")
    lesson.print_guide("softmax", args)
    return 0
