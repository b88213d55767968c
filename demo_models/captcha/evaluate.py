"""`flowscope evaluate captcha MODEL`: accuracy of a trained reader on fresh seeded captchas.

The captchas come from the "evaluate" seed stream, which training never draws from, so
they are new to the model for every seed (including the seed it was trained with).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from demo_models.captcha import data
from demo_models.captcha.model import head_names, position_names
from demo_models.captcha.train import LABELS_FILE, MODEL_FILE
from demo_models.runtime import CliError, saved_model


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="flowscope evaluate captcha",
        description="Evaluate a trained captcha model on fresh captchas: per-position, "
        "per-digit and whole-captcha accuracy.",
    )
    p.add_argument("model", metavar="MODEL", help="model.keras, or the run directory holding it")
    p.add_argument("--n", type=int, default=1000, help="captchas to generate (default 1000)")
    p.add_argument("--seed", type=int, default=1, help="seed of the fresh captchas (default 1)")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--cache-dir", help="data cache (default $FLOWSCOPE_CACHE or ~/.cache/...)")
    p.add_argument("--no-cache", action="store_true", help="generate without caching")
    p.add_argument("--workers", type=int, help="generation processes (default: all cores)")
    p.add_argument("--json", action="store_true", help="print the results as one JSON object")
    return p


def _model_paths(arg: str) -> tuple[Path, Path | None]:
    path, spec = saved_model(arg, MODEL_FILE, LABELS_FILE)
    return path, spec if spec.is_file() else None


def accuracies(predicted: np.ndarray, labels: np.ndarray) -> dict:
    """Per-position, per-digit (all digits pooled), per-class and whole-captcha accuracy."""
    correct = predicted == labels
    per_class = {
        data.DIGITS[k]: float(correct[labels == k].mean()) if (labels == k).any() else None
        for k in range(len(data.DIGITS))
    }
    return {
        "n": int(len(labels)),
        "per_position": {
            name: float(correct[:, i].mean()) for i, name in enumerate(position_names())
        },
        "digit_accuracy": float(correct.mean()),
        "per_class": per_class,
        "captcha_accuracy": float(correct.all(axis=1).mean()),
    }


def main(argv: list[str]) -> int:
    """Generate fresh captchas, run the model, print its accuracies."""
    args = _parser().parse_args(argv)
    if args.n < 1:
        raise CliError("--n must be >= 1")
    if args.seed < 0:
        raise CliError("--seed must be >= 0")
    model_path, spec_path = _model_paths(args.model)
    spec = json.loads(spec_path.read_text()) if spec_path else {}
    image = spec.get("image", {})
    width, height = int(image.get("width", data.WIDTH)), int(image.get("height", data.HEIGHT))
    started = time.time()
    fresh = data.load(
        args.n,
        args.seed,
        "evaluate",
        width=width,
        height=height,
        cache_dir=args.cache_dir,
        use_cache=not args.no_cache,
        workers=args.workers,
    )
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    try:
        reader = keras.models.load_model(model_path, compile=False)
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot load MODEL {str(model_path)!r}: {exc}") from None
    out = reader.predict(np.asarray(fresh.images)[..., None], batch_size=args.batch_size, verbose=0)
    names = spec.get("outputs", head_names())
    predicted = np.stack([np.asarray(out[name]).argmax(-1) for name in names], axis=1)
    result = accuracies(predicted, np.asarray(fresh.labels, np.int64))
    result.update(model=str(model_path), seed=args.seed, seconds=round(time.time() - started, 2))
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{model_path} on {args.n} fresh captchas (seed {args.seed}, never used in training)")
    print("per-position accuracy:")
    for name, value in result["per_position"].items():
        print(f"  {name}: {value:.4f}")
    print("accuracy by true digit:")
    by_class = result["per_class"].items()
    print("  " + "  ".join(f"{k}: {v:.3f}" for k, v in by_class if v is not None))
    n_digits = predicted.size
    print(
        f"per-digit accuracy: {result['digit_accuracy']:.4f} "
        f"({round(result['digit_accuracy'] * n_digits)}/{n_digits} digits)"
    )
    print(
        f"whole-captcha accuracy: {result['captcha_accuracy']:.4f} "
        f"({round(result['captcha_accuracy'] * args.n)}/{args.n} captchas)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
