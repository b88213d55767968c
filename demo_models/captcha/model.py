"""The captcha reader: convolution layers shared by four softmax heads, one per digit.

`course` is the architecture of the course notes: gray-scale input normalised to [0, 1],
three 3x3 convolution + 2x2 max-pool layers, then one fully-connected softmax head per
digit. `fast` is the improved network for a CPU: the input is averaged down 2x (the digits
are 40-55 px tall, so little detail is lost, and each convolution costs 4x less), every
convolution is followed by batch normalisation, and a fourth convolution block widens the
receptive field to a whole digit, so the heads read a compact 1 x 5 x 128 feature map.
`lite` (the presets' default) is `fast` at half the width or less, (16, 32, 64, 96): it
needs 2.3x fewer CPU-seconds per image and still reaches >= 0.99 per digit and >= 0.96
per captcha in 3 epochs of 72,000 captchas (docs/benchmarks.md).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from demo_models.captcha.data import DIGITS, HEIGHT, LENGTH, WIDTH


@dataclass(frozen=True)
class Arch:
    """A named architecture: convolution widths, input downsampling and batch norm."""

    filters: tuple[int, ...]
    downsample: int = 1
    batch_norm: bool = False
    dropout: float = 0.3
    hidden: int = 0  # units of a shared dense layer before the heads (0: none)


ARCHS = {
    "course": Arch(filters=(32, 64, 64)),
    "fast": Arch(filters=(32, 64, 128, 128), downsample=2, batch_norm=True),
    "lite": Arch(filters=(16, 32, 64, 96), downsample=2, batch_norm=True),
}


def head_names(length: int = LENGTH) -> list[str]:
    """Output names of the heads: digit_1 .. digit_N."""
    return [f"digit_{i + 1}" for i in range(length)]


def position_names(length: int = LENGTH) -> list[str]:
    """Human names of the positions: "digit 1" .. "digit N"."""
    return [f"digit {i + 1}" for i in range(length)]


def label_spec(width: int = WIDTH, height: int = HEIGHT, length: int = LENGTH) -> dict:
    """What the model reads and predicts, saved beside it as labels.json."""
    return {
        "task": "captcha",
        "classes": list(DIGITS),
        "positions": position_names(length),
        "outputs": head_names(length),
        "image": {"height": height, "width": width, "channels": 1, "dtype": "uint8"},
        "normalisation": "gray / 255 inside the model",
    }


def build(
    arch: str | Arch = "course",
    *,
    batch_norm: bool | None = None,
    augment: bool = False,
    width: int = WIDTH,
    height: int = HEIGHT,
    length: int = LENGTH,
    classes: int = len(DIGITS),
    seed: int = 0,
):
    """A Keras model mapping uint8 gray images [h, w, 1] to `length` softmax outputs."""
    import keras
    from keras import layers

    spec = ARCHS[arch] if isinstance(arch, str) else arch
    use_bn = spec.batch_norm if batch_norm is None else batch_norm
    inputs = keras.Input((height, width, 1), name="image")
    x = layers.Rescaling(1 / 255, name="normalise")(inputs)
    if augment:
        # small shifts, rotations and contrast changes; active only while training
        x = layers.RandomTranslation(0.06, 0.04, fill_mode="nearest", seed=seed, name="shift")(x)
        x = layers.RandomRotation(0.02, fill_mode="nearest", seed=seed + 1, name="rotate")(x)
        x = layers.RandomContrast(0.2, seed=seed + 2, name="contrast")(x)
    if spec.downsample > 1:
        x = layers.AveragePooling2D(spec.downsample, name="downsample")(x)
    for i, filters in enumerate(spec.filters):
        with keras.name_scope(f"conv{i + 1}"):
            x = layers.Conv2D(filters, 3, padding="same", use_bias=not use_bn, name=f"conv{i + 1}")(
                x
            )
            if use_bn:
                x = layers.BatchNormalization(momentum=0.9, name=f"bn{i + 1}")(x)
            x = layers.Activation("relu", name=f"relu{i + 1}")(x)
            x = layers.MaxPooling2D(2, name=f"pool{i + 1}")(x)
    x = layers.Flatten(name="flatten")(x)
    if spec.hidden:
        x = layers.Dense(spec.hidden, activation="relu", name="shared")(x)
    if spec.dropout:
        x = layers.Dropout(spec.dropout, seed=seed + 3, name="dropout")(x)
    outputs = {
        name: layers.Dense(classes, activation="softmax", name=name)(x)
        for name in head_names(length)
    }
    label = arch if isinstance(arch, str) else "custom"
    return keras.Model(inputs, outputs, name=f"captcha_{label}")


def describe(arch: str) -> dict:
    """The settings of a named architecture, for logs and the run's config."""
    return asdict(ARCHS[arch])


def split(keras_model) -> tuple[object, dict[str, object]]:
    """A built reader as its shared trunk (a Keras model from the image to the features the
    heads read) and its heads by name; both share the reader's layers and weights."""
    import keras

    heads = {name: keras_model.get_layer(name) for name in head_names()}
    features = heads[head_names()[0]].input
    trunk = keras.Model(keras_model.inputs, features, name="trunk")
    return trunk, heads
