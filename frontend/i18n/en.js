export default {
  "common": {
    "language": "Language",
    "languageTitle": "Page language (remembered in this browser)",
    "none": "—"
  },
  "race": {
  },
  "confusion": {
    "title": "Confusion",
    "loading": "Loading…",
    "empty": "No confusion matrices in this logdir yet. Log them with summaries' confusion summary (one [positions, classes, classes] count tensor per step).",
    "pooled": "All positions pooled",
    "cell": "true {true} → predicted {predicted}",
    "keys": "Confusion matrix: arrow keys move between cells, Enter shows a cell's images",
    "info": {
      "single": {
        "one": ": {classes} classes, {count} step",
        "other": ": {classes} classes, {count} steps"
      },
      "positions": {
        "one": ": {positions} positions x {classes} classes, {count} step",
        "other": ": {positions} positions x {classes} classes, {count} steps"
      }
    },
    "controls": {
      "run": "Run (A)",
      "compare": "Compare with (B)",
      "none": "none",
      "differentClasses": "{series} (different classes)",
      "normalise": "normalisation",
      "errors": "Colour errors only",
      "errorsTitle": "Colour only the off-diagonal cells (the errors)"
    },
    "mode": {
      "count": "Count",
      "true": "By true class (recall)",
      "predicted": "By predicted class (precision)"
    },
    "legend": {
      "count": "count{errors}",
      "countPerPosition": "count per position{errors}",
      "countPooled": "count, all positions pooled{errors}",
      "true": "% of the true class (row)",
      "predicted": "% of the predicted class (column)",
      "share": "share of samples",
      "offDiagonal": ", off-diagonal cells",
      "compare": "change B − A in {what}, percentage points{errors}"
    },
    "compare": {
      "better": "B better ({run}) ▶",
      "worse": "◀ B worse ({run})",
      "kind": {
        "same": "Comparing every position of A with the same position of {run}.",
        "shared": "Comparing all positions pooled and the {shared} positions both runs have by name (A has {a}, B has {b}).",
        "pooled": "Comparing all positions pooled: the runs' positions differ (A has {a}, B has {b})."
      }
    },
    "verdict": {
      "better": "B better",
      "worse": "B worse",
      "same": "no change"
    },
    "map": {
      "accuracy": "accuracy {value}",
      "samples": {
        "one": "{samples} sample · {detail}",
        "other": "{samples} samples · {detail}"
      },
      "withB": "{detail} · B {value}",
      "notInB": "{detail} · not in B"
    },
    "tip": {
      "count": "count {count}",
      "countB": "count {count} (B {b})",
      "ofTrue": "{value} of true {name} ({total})",
      "ofPredicted": "{value} of predicted {name} ({total})",
      "diff": "A {a} · B {b} · B − A {change} points: {verdict}",
      "click": "click (or Enter) for the images"
    },
    "axis": {
      "predicted": "predicted",
      "true": "true"
    },
    "zoom": {
      "out": "zoom out (smaller cells)",
      "in": "zoom in (bigger cells)",
      "fit": "fit",
      "fitTitle": "fit the panel",
      "label": "zoom"
    },
    "steps": {
      "play": "play",
      "pause": "pause",
      "playTitle": "Play through training",
      "step": "step",
      "label": "step {step} ({n} of {count})",
      "labelThinned": "step {step} ({n} of {count}, thinned from {total})",
      "b": " · B at step {step}"
    },
    "accuracy": {
      "title": "Accuracy at step {step}",
      "position": "position",
      "accuracy": "accuracy",
      "b": "B",
      "change": "B − A",
      "sequence": "whole sequence",
      "sequenceTag": "Whole-sequence accuracy is the logged scalar “{tag}”.",
      "noSequence": "Whole-sequence accuracy is not logged for this run (it cannot be derived from per-position matrices)."
    },
    "chart": {
      "label": "accuracy over training",
      "step": "step {step}",
      "atStep": " (at step {step})",
      "pooled": "pooled",
      "run": "{which}: {run}",
      "sequence": "{which}: whole sequence",
      "compareNote": "A and B: accuracy of all positions pooled, each run at its own steps.",
      "compareSingle": "A and B: accuracy, each run at its own steps."
    },
    "pairs": {
      "title": "Most confused at step {step}",
      "titleCompare": "Most confused at step {step}: A and B",
      "position": "position",
      "pair": "true → predicted",
      "count": "count",
      "rate": "of true",
      "rateA": "A, of true",
      "rateB": "B, of true",
      "change": "B − A",
      "none": "No confusions at this step.",
      "show": "show the images",
      "pooledOnly": "All positions pooled (the runs' positions differ)."
    },
    "metrics": {
      "title": "Per-class metrics",
      "position": "position",
      "macro": "macro mean",
      "compareNote": "Each metric of A, with B − A under it.",
      "notInB": "B has no such position: A only.",
      "head": {
        "class": "class",
        "precision": "precision",
        "recall": "recall",
        "f1": "F1",
        "support": "support"
      }
    },
    "examples": {
      "close": "close",
      "correct": "Correct predictions: only misclassified images are stored.",
      "noTag": "This run logs no example images.",
      "noneYet": "No example images have been logged yet.",
      "step": "step {step}",
      "nearest": "step {step} (nearest step with images; none at step {requested})",
      "misclassified": {
        "one": "{n} misclassified, ",
        "other": "{n} misclassified, "
      },
      "stored": {
        "one": "{n} image stored",
        "other": "{n} images stored"
      },
      "capCell": " (at most {n} per cell)",
      "capPosition": " (at most {n} per position and cell)",
      "alt": "true {true}, predicted {predicted}",
      "noImages": "No stored images for this cell."
    },
    "error": {
      "runs": "Could not load runs: {error}",
      "series": "Could not load {series}: {error}",
      "metrics": "Could not load metrics: {error}",
      "images": "Could not load images: {error}",
      "unreadable": "{series} cannot be read: {error}"
    }
  }
};
