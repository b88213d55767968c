"""The lesson's cats-vs-dogs network as a Keras model, with the lesson's layer names.

============================================  ==========================================
lesson (TF1, `tf.layers`)                     this module (Keras 3)
============================================  ==========================================
`conv2d(x, 16, (3, 3), padding='same',        `Conv2D(16, 3, padding="same",
activation=relu, name='conv1_1')` ...         activation="relu", name="conv1_1")` ...
`conv4_2` (16,16,32,32,64,64,128,128)         the same eight layers and filter counts
`max_pooling2d(..., (2, 2), (2, 2),           `MaxPooling2D(2, 2, name="pool1")` ...
name='pool1')` ... `pool4`
`flatten`, `dense(512, relu)`,                `flatten`, `fc1`, `fc1_dropout`, `fc2`,
`dropout(keep_prob)`, `dense(256, relu)`,     `fc2_dropout`, `fc3` (keep 0.7 in training:
`dropout`, `dense(2)`                         `Dropout(0.3)`; Keras turns it off to test)
`sparse_softmax_cross_entropy`, Adam          `SparseCategoricalCrossentropy(from_logits)`
============================================  ==========================================

The lesson's `fc2 = dense(fc1, ...)` skips the dropout it just computed; this model feeds
`fc1_dropout` to `fc2`, as the lesson's `conv_net(x, keep_prob)` intends. Keras names each
layer's ops after the layer, so the graph and every weight tag (`conv1_1/kernel/...`)
carry the lesson's names.
"""

from __future__ import annotations

from typing import Any

FILTERS = (16, 16, 32, 32, 64, 64, 128, 128)  # conv1_1 ... conv4_2
FC = (512, 256)
KEEP_PROB = 0.7  # the lesson's keep_prob in training
LEARNING_RATE = 1e-3  # the lesson's LEARNING_RATE is not printed; Adam's usual default


def layer_names() -> list[str]:
    """The eight convolution layers' names, conv1_1 ... conv4_2."""
    return [f"conv{stage}_{i}" for stage in range(1, 5) for i in (1, 2)]


def build(side: int, classes: int = 2, seed: int = 0, lr: float = LEARNING_RATE) -> Any:
    """The compiled network for [side, side, 3] images in [0, 1] and `classes` classes."""
    import keras

    if side < 16:
        raise ValueError(f"side must be >= 16 (four 2 x 2 poolings), got {side}")
    if classes < 2:
        raise ValueError(f"classes must be >= 2, got {classes}")
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((side, side, 3), name="input_data")
    x = inputs
    names = layer_names()
    for stage in range(4):
        for i in range(2):
            x = keras.layers.Conv2D(
                FILTERS[2 * stage + i],
                3,
                padding="same",
                activation="relu",
                name=names[2 * stage + i],
            )(x)
        x = keras.layers.MaxPooling2D(2, 2, name=f"pool{stage + 1}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    for i, units in enumerate(FC, 1):
        x = keras.layers.Dense(units, activation="relu", name=f"fc{i}")(x)
        x = keras.layers.Dropout(1.0 - KEEP_PROB, name=f"fc{i}_dropout")(x)
    logits = keras.layers.Dense(classes, name="fc3")(x)
    model = keras.Model(inputs, logits, name="catsdogs")
    model.compile(
        optimizer=keras.optimizers.Adam(lr),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model
