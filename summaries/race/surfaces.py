"""The loss surfaces optimizers race over: six analytic test functions and two real models.

Every surface offers the same interface to the engine: initial parameters for a start
point, a TensorFlow loss of those parameters, and their 2-D position. For the analytic
surfaces and the linear regression the parameters ARE the position (one float32 vector of
length 2). For `nn_plane` they are all the weights of a small classifier, and the position
is their projection onto a fixed plane through the initial weights. `value(x, y)` evaluates
the surface with numpy on grids (for `nn_plane`: the model's loss at the plane's points).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

Window = tuple[float, float, float, float]
Point = tuple[float, float]


class Surface:
    """A named 2-D loss surface with its window, standard start and known minima."""

    analytic = True  # a closed-form test function (not a model fitted to data)
    direct = True  # the parameters are the position (one float32 vector [x, y])
    basis: dict[str, Any] | None = None

    def __init__(
        self,
        name: str,
        title: str,
        window: Window,
        start: Point,
        minima: Sequence[Point],
        *,
        log_scale: bool,
        tolerance: float,
        description: str,
        formula: str | None = None,
        defaults: dict[str, dict[str, float]] | None = None,
        unbounded_below: bool = False,
        axes: tuple[str, str] = ("x", "y"),
    ):
        self.name = name
        self.title = title
        self.window = tuple(float(v) for v in window)
        self.start = (float(start[0]), float(start[1]))
        self.minima = [(float(x), float(y)) for x, y in minima]
        self.log_scale = log_scale
        # distance to the nearest minimum, or (no minima) the loss threshold counted as arrived
        self.tolerance = float(tolerance)
        self.description = description
        # the closed form as plain text (shown on the page), None when there is none
        self.formula = formula
        # surface-specific default hyper-parameters, {optimizer: {key: value}}
        self.defaults = defaults or {}
        # no lower bound: a racer leaving the window escapes (the lesson), it does not diverge
        self.unbounded_below = bool(unbounded_below)
        # the names of the two parameters (the map's axes), e.g. ("k", "b") for y = kx + b
        self.axes = (str(axes[0]), str(axes[1]))

    def value(self, x: Any, y: Any) -> np.ndarray:
        """Loss at (x, y), numpy-vectorised (broadcasts x and y)."""
        raise NotImplementedError

    def grid(self, resolution: int = 101) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(xs, ys, values[ny, nx]) on a regular grid over the window (rows follow y)."""
        xmin, xmax, ymin, ymax = self.window
        xs = np.linspace(xmin, xmax, resolution)
        ys = np.linspace(ymin, ymax, resolution)
        gx, gy = np.meshgrid(xs, ys)
        return xs, ys, np.asarray(self.value(gx, gy), dtype=np.float64)

    # -- what the engine uses -------------------------------------------------------
    size = 2  # number of parameters

    def initial_params(self, start: Point | None = None) -> np.ndarray:
        """float32 parameter vector [size] at a start point (default: the standard start)."""
        x, y = self.start if start is None else start
        return np.array([x, y], dtype=np.float32)

    def tf_loss(self, params: Any) -> Any:
        """TensorFlow scalar loss of one parameter vector [size]."""
        raise NotImplementedError

    def tf_batch_loss(self, params: Any) -> Any:
        """TensorFlow losses [k] of k parameter vectors [k, size]."""
        raise NotImplementedError

    def tf_position(self, params: Any) -> Any:
        """TensorFlow position [2] on the map of one parameter vector."""
        return params

    def tf_batch_position(self, params: Any) -> Any:
        """TensorFlow positions [k, 2] of k parameter vectors [k, size]."""
        return params

    def display_fields(self) -> dict[str, Any]:
        """The display fields (`summaries.format`) a trajectory on this surface carries:
        the writers' defaults, and what `flowscope race` writes itself (nn_plane has a basis)."""
        return {
            "surface_title": self.title,
            "description": self.description,
            "formula": self.formula,
            "analytic": bool(self.analytic),
            "tolerance": self.tolerance,
            "log_scale": bool(self.log_scale),
            "unbounded_below": self.unbounded_below,
            "axes": list(self.axes),
        }

    def info(self) -> dict[str, Any]:
        """JSON-ready description (for the CLI, the logs and the plugin)."""
        return {
            "name": self.name,
            "title": self.title,
            "window": list(self.window),
            "start": list(self.start),
            "minima": [list(m) for m in self.minima],
            "log_scale": self.log_scale,
            "tolerance": self.tolerance,
            "tolerance_kind": "distance" if self.minima else "loss",
            "analytic": self.analytic,
            "unbounded_below": self.unbounded_below,
            "axes": list(self.axes),
            "description": self.description,
            "formula": self.formula,
        }

    def __repr__(self) -> str:
        return f"Surface({self.name!r})"


class AnalyticSurface(Surface):
    """A closed-form f(x, y), written once for numpy and TensorFlow."""

    def __init__(self, name: str, title: str, function: Callable, **kwargs: Any):
        super().__init__(name, title, **kwargs)
        self._function = function  # function(x, y, cos) with cos from numpy or TensorFlow

    def value(self, x: Any, y: Any) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        with np.errstate(over="ignore", invalid="ignore"):
            return self._function(x, y, np.cos)

    def tf_loss(self, params: Any) -> Any:
        import tensorflow as tf

        return self._function(params[0], params[1], tf.cos)

    def tf_batch_loss(self, xy: Any) -> Any:
        import tensorflow as tf

        x, y = tf.unstack(xy, axis=1)  # one op (and one for its gradient), not two slices
        return self._function(x, y, tf.cos)


def _saddle(x, y, cos):
    return x * x - y * y


def _beale(x, y, cos):
    return (1.5 - x + x * y) ** 2 + (2.25 - x + x * y * y) ** 2 + (2.625 - x + x * y * y * y) ** 2


def _rosenbrock(x, y, cos):
    return (1.0 - x) ** 2 + 100.0 * (y - x * x) ** 2


def _rastrigin(x, y, cos):
    return 20.0 + x * x - 10.0 * cos(2.0 * math.pi * x) + y * y - 10.0 * cos(2.0 * math.pi * y)


def _himmelblau(x, y, cos):
    return (x * x + y - 11.0) ** 2 + (x + y * y - 7.0) ** 2


# The ill-conditioned quadratic: curvatures 1 and 50 along axes turned by 30 degrees, so a
# per-coordinate method cannot simply rescale x and y.
_COND = 50.0
_C, _S = math.cos(math.pi / 6), math.sin(math.pi / 6)


def _quadratic(x, y, cos):
    u = _C * x + _S * y
    v = -_S * x + _C * y
    return 0.5 * (u * u + _COND * v * v)


class LinearRegressionSurface(Surface):
    """Mean squared error of y = k x + b on the course notes' data, over (k, b)."""

    analytic = False

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        # As in the course notes: 100 random x in [0, 1) and y = 0.1 x + 0.2 (no noise).
        rng = np.random.default_rng(4)
        self.x_data = rng.random(100).astype(np.float32)
        self.y_data = (self.x_data * np.float32(0.1) + np.float32(0.2)).astype(np.float32)

    def value(self, x: Any, y: Any) -> np.ndarray:
        k = np.asarray(x, dtype=np.float64)[..., None]
        b = np.asarray(y, dtype=np.float64)[..., None]
        with np.errstate(over="ignore", invalid="ignore"):
            return np.mean((k * self.x_data + b - self.y_data) ** 2, axis=-1)

    def tf_loss(self, params: Any) -> Any:
        import tensorflow as tf

        kb = params
        prediction = kb[0] * tf.constant(self.x_data) + kb[1]
        return tf.reduce_mean(tf.square(tf.constant(self.y_data) - prediction))

    def tf_batch_loss(self, xy: Any) -> Any:
        import tensorflow as tf

        prediction = xy[:, 0:1] * tf.constant(self.x_data)[None, :] + xy[:, 1:2]
        return tf.reduce_mean(tf.square(tf.constant(self.y_data)[None, :] - prediction), axis=1)


class NNPlaneSurface(Surface):
    """Cross-entropy of a small MLP on two moons, mapped on a plane through its start weights.

    The plane is spanned by two fixed random directions, filter-normalised (each unit's
    incoming weights scaled to the norm of that unit's weights; biases not moved), as in
    Li et al., "Visualizing the Loss Landscape of Neural Nets" (2018). Optimizers train the
    FULL network; each position is the least-squares projection of the weights onto the
    plane, and each recorded loss is the full network's loss (not the loss on the plane).
    """

    analytic = False
    direct = False
    LAYERS = (2, 16, 16, 2)
    SAMPLES = 200

    @functools.cached_property
    def _model(self) -> dict[str, Any]:
        from sklearn.datasets import make_moons

        x, y = make_moons(n_samples=self.SAMPLES, noise=0.15, random_state=0)
        rng = np.random.default_rng(0)
        shapes, weights = [], []
        for fan_in, fan_out in zip(self.LAYERS[:-1], self.LAYERS[1:], strict=True):
            limit = math.sqrt(6.0 / (fan_in + fan_out))  # Glorot uniform, like Keras
            weights += [rng.uniform(-limit, limit, (fan_in, fan_out)), np.zeros(fan_out)]
            shapes += [(fan_in, fan_out), (fan_out,)]
        directions = []
        for seed in (1, 2):
            drng = np.random.default_rng(seed)
            parts = []
            for w in weights:
                if w.ndim == 1:  # biases are not moved
                    parts.append(np.zeros_like(w))
                    continue
                d = drng.standard_normal(w.shape)
                d *= np.linalg.norm(w, axis=0) / np.linalg.norm(d, axis=0)  # per unit
                parts.append(d)
            directions.append(np.concatenate([d.ravel() for d in parts]))
        basis = np.stack(directions, axis=1)  # [n_params, 2]
        return {
            "x": x.astype(np.float32),
            "y": y.astype(np.int32),
            "shapes": shapes,
            "theta0": np.concatenate([w.ravel() for w in weights]).astype(np.float32),
            "d1": directions[0].astype(np.float32),
            "d2": directions[1].astype(np.float32),
            "projector": np.linalg.pinv(basis).astype(np.float32),  # [2, n_params]
        }

    @property
    def size(self) -> int:  # type: ignore[override]
        return int(len(self._model["theta0"]))

    @property
    def basis(self) -> dict[str, Any]:  # type: ignore[override]
        return {
            "kind": "plane through the initial weights",
            "directions": "two fixed Gaussian random directions (seeds 1 and 2), "
            "filter-normalised per unit; biases not moved",
            "origin": "the initial weights (Glorot uniform, seed 0)",
            "projection": "least squares of (weights - initial weights) onto the two directions",
            "loss": "recorded losses are the full network's training loss; the surface grid "
            "is the loss on the plane",
            "model": "MLP " + "-".join(map(str, self.LAYERS)) + ", tanh, softmax cross-entropy",
            "data": f"two moons, {self.SAMPLES} points, noise 0.15, seed 0 (full batch)",
            "parameters": self.size,
        }

    def initial_params(self, start: Point | None = None) -> np.ndarray:
        a, b = self.start if start is None else start
        m = self._model
        return (m["theta0"] + np.float32(a) * m["d1"] + np.float32(b) * m["d2"]).astype(np.float32)

    def _unpack(self, params: Any, reshape: Callable) -> list[Any]:
        """Split [..., n_params] into the layers' weights [..., *shape]."""
        out, offset = [], 0
        for shape in self._model["shapes"]:
            n = int(np.prod(shape))
            out.append(reshape(params[..., offset : offset + n], shape))
            offset += n
        return out

    def value(self, x: Any, y: Any) -> np.ndarray:
        a, b = np.broadcast_arrays(np.asarray(x, np.float64), np.asarray(y, np.float64))
        m = self._model
        flat_a, flat_b = a.ravel(), b.ravel()
        out = np.empty(len(flat_a))
        for lo in range(0, len(flat_a), 256):  # bounded memory on big grids
            theta = (
                m["theta0"]
                + flat_a[lo : lo + 256, None] * m["d1"]
                + flat_b[lo : lo + 256, None] * m["d2"]
            )
            layers = self._unpack(theta, lambda p, s: p.reshape(len(p), *s))
            h = np.broadcast_to(m["x"].astype(np.float64), (len(theta), *m["x"].shape))
            for i in range(0, len(layers), 2):
                h = np.matmul(h, layers[i]) + layers[i + 1][:, None, :]
                if i + 2 < len(layers):
                    h = np.tanh(h)
            logits = h - h.max(axis=-1, keepdims=True)
            log_softmax = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
            picked = np.take_along_axis(log_softmax, m["y"][None, :, None], axis=-1)[..., 0]
            out[lo : lo + 256] = -picked.mean(axis=-1)
        return out.reshape(a.shape)

    def tf_loss(self, params: Any) -> Any:
        import tensorflow as tf

        layers = self._unpack(params, tf.reshape)
        h = tf.constant(self._model["x"])
        for i in range(0, len(layers), 2):
            h = tf.matmul(h, layers[i]) + layers[i + 1]
            if i + 2 < len(layers):
                h = tf.tanh(h)
        return tf.reduce_mean(
            tf.nn.sparse_softmax_cross_entropy_with_logits(
                labels=tf.constant(self._model["y"]), logits=h
            )
        )

    def tf_batch_loss(self, params: Any) -> Any:
        import tensorflow as tf

        # One split, and batched matmuls (the first broadcasts the shared inputs): fewer and
        # cheaper kernels per step than slices and einsums (measured in docs/benchmarks.md).
        shapes = self._model["shapes"]
        parts = tf.split(params, [int(np.prod(shape)) for shape in shapes], axis=1)
        w1, b1, w2, b2, w3, b3 = (
            tf.reshape(p, [-1, *shape]) for p, shape in zip(parts, shapes, strict=True)
        )
        h = tf.constant(self._model["x"])[None]
        h = tf.tanh(tf.matmul(h, w1) + b1[:, None, :])
        h = tf.tanh(tf.matmul(h, w2) + b2[:, None, :])
        # Two classes: the cross-entropy is softplus(other logit - own logit), so only the
        # logits' difference is computed (one output column, no softmax; a quarter faster).
        flip = tf.constant([[-1.0], [1.0]])  # logit 1 - logit 0
        margin = tf.matmul(h, tf.matmul(w3, flip))[:, :, 0] + tf.matmul(b3, flip)
        sign = tf.constant(np.where(self._model["y"] == 0, 1.0, -1.0).astype(np.float32))
        return tf.reduce_mean(tf.nn.softplus(sign * margin), axis=1)

    def tf_position(self, params: Any) -> Any:
        return self.tf_batch_position(params[None, :])[0]

    def tf_batch_position(self, params: Any) -> Any:
        import tensorflow as tf

        delta = params - tf.constant(self._model["theta0"])[None, :]
        return tf.matmul(delta, tf.constant(self._model["projector"]), transpose_b=True)

    def position(self, params: Any) -> np.ndarray:
        """numpy projection of a weight vector onto the plane."""
        flat = np.asarray(params, np.float32).ravel()
        return self._model["projector"] @ (flat - self._model["theta0"])

    def info(self) -> dict[str, Any]:
        return {**super().info(), "basis": self.basis}


_SURFACE_LIST: list[Surface] = [
    AnalyticSurface(
        "saddle",
        "Saddle x² − y²",
        _saddle,
        window=(-1.5, 1.5, -1.5, 1.5),
        start=(1.0, 0.001),
        minima=[],
        log_scale=False,
        tolerance=-1.0,
        unbounded_below=True,
        formula="x^2 - y^2",
        description="the course notes' saddle point: no minimum; arriving = loss below -1 "
        "(escaped the saddle)",
    ),
    AnalyticSurface(
        "beale",
        "Beale",
        _beale,
        window=(-4.5, 4.5, -4.5, 4.5),
        start=(1.0, 1.5),
        minima=[(3.0, 0.5)],
        log_scale=True,
        tolerance=0.05,
        formula="(1.5 - x + x y)^2 + (2.25 - x + x y^2)^2 + (2.625 - x + x y^3)^2",
        description="flat plateaus and sharp ridges; minimum 0 at (3, 0.5)",
    ),
    AnalyticSurface(
        "rosenbrock",
        "Rosenbrock",
        _rosenbrock,
        window=(-2.0, 2.0, -1.0, 3.0),
        start=(-2.0, 2.0),
        minima=[(1.0, 1.0)],
        log_scale=True,
        tolerance=0.05,
        formula="(1 - x)^2 + 100 (y - x^2)^2",
        description="a narrow curved valley; minimum 0 at (1, 1)",
    ),
    AnalyticSurface(
        "rastrigin",
        "Rastrigin",
        _rastrigin,
        window=(-4.5, 4.5, -4.5, 4.5),
        start=(-2.0, 3.5),
        minima=[(0.0, 0.0)],
        log_scale=False,
        tolerance=0.05,
        formula="20 + x^2 - 10 cos(2 pi x) + y^2 - 10 cos(2 pi y)",
        description="a bowl covered in local minima; global minimum 0 at (0, 0)",
    ),
    AnalyticSurface(
        "himmelblau",
        "Himmelblau",
        _himmelblau,
        window=(-5.0, 5.0, -5.0, 5.0),
        start=(-0.3, -0.9),  # beside the local maximum (-0.27, -0.92): paths fan out
        minima=[
            (3.0, 2.0),
            (-2.805118, 3.131312),
            (-3.779310, -3.283186),
            (3.584428, -1.848126),
        ],
        log_scale=True,
        tolerance=0.05,
        formula="(x^2 + y - 11)^2 + (x + y^2 - 7)^2",
        description="four equal minima (0); which one a racer reaches depends on its path",
    ),
    AnalyticSurface(
        "quadratic",
        "Ill-conditioned quadratic",
        _quadratic,
        window=(-3.0, 3.0, -3.0, 3.0),
        start=(-2.5, 1.5),
        minima=[(0.0, 0.0)],
        log_scale=True,
        tolerance=0.05,
        formula=f"0.5 (u^2 + {_COND:g} v^2), u = x cos 30° + y sin 30°, v = y cos 30° - x sin 30°",
        description=f"0.5 (u² + {_COND:g} v²) with (u, v) turned 30°: condition number "
        f"{_COND:g}; minimum 0 at (0, 0)",
    ),
    LinearRegressionSurface(
        name="linear_regression",
        title="Linear regression (k, b)",
        window=(-1.0, 1.2, -0.8, 1.0),
        start=(0.0, 0.0),
        minima=[(0.1, 0.2)],
        log_scale=True,
        tolerance=0.01,
        formula="mean over the data (x_i, y_i) of (k x_i + b - y_i)^2",
        description="the course notes' first model: MSE of y = kx + b on 100 random points "
        "of y = 0.1x + 0.2, from k = b = 0; minimum 0 at (0.1, 0.2)",
        # the course notes train it with plain gradient descent at 0.2
        axes=("k", "b"),
        defaults={
            "sgd": {"learning_rate": 0.2},
            "momentum": {"learning_rate": 0.05},
            "nag": {"learning_rate": 0.05},
        },
    ),
    NNPlaneSurface(
        name="nn_plane",
        title="Neural network (2-D plane of a 354-weight MLP)",
        window=(-1.0, 1.0, -1.0, 1.0),
        start=(0.0, 0.0),
        minima=[],
        log_scale=True,
        tolerance=0.1,
        description="a 2-16-16-2 tanh MLP on two moons; the map is the loss on a plane "
        "through the initial weights (filter-normalised random directions); arriving = "
        "training loss below 0.1",
        defaults={
            "sgd": {"learning_rate": 0.5},
            "momentum": {"learning_rate": 0.05},
            "nag": {"learning_rate": 0.05},
        },
    ),
]

SURFACES: dict[str, Surface] = {s.name: s for s in _SURFACE_LIST}
ANALYTIC = [s.name for s in _SURFACE_LIST if s.analytic]


def get_surface(name: str, argument: str = "surface") -> Surface:
    """The surface called `name`, or ValueError naming the argument."""
    if not isinstance(name, str) or name not in SURFACES:
        raise ValueError(f"{argument} must be one of {', '.join(SURFACES)}; got {name!r}")
    return SURFACES[name]
