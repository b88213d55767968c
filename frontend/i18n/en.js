export default {
  "common": {
    "language": "Language",
    "languageTitle": "Page language (remembered in this browser)",
    "none": "—",
    "error": {
      "network": "TensorBoard did not answer (it may have stopped, or the network is down). Check that TensorBoard is still running, then reload the page.",
      "server": "TensorBoard's server failed on this request (HTTP {status}). Reload the page; if it happens again, TensorBoard's terminal output says why.",
      "notFound": "It is no longer in the logs (the server says: {detail}). Reload the page to see what the logdir holds now.",
      "refused": "The server refused the request (it says: {detail}). Reload the page; if it happens again, please report it."
    }
  },
  "race": {
    "loading": "Loading races…",
    "loadingRace": "Loading {race}…",
    "empty": "No optimizer races in this logdir yet. Write one with `flowscope race --logdir DIR`.",
    "header": {
      "title": "Optimizer Race",
      "race": "race",
      "option": {
        "one": "{race} · {count} racer",
        "other": "{race} · {count} racers"
      },
      "surface": "surface: {surface}",
      "noSurface": "surface unknown",
      "formula": "f({x}, {y}) = {formula}"
    },
    "controls": {
      "play": "Play",
      "pause": "Pause",
      "playTitle": "Play the race (Space)",
      "pauseTitle": "Pause (Space)",
      "speed": "speed",
      "speedValue": "{speed}×",
      "step": "step",
      "stepOf": "step {step} / {max}",
      "keys": "Arrow keys move one step (Shift: ten), Home and End jump, Space plays or pauses"
    },
    "cards": {
      "map": "Loss surface",
      "loss": "Loss per step",
      "racers": "Racers",
      "board": "Leaderboard"
    },
    "map": {
      "zoomGroup": "map zoom",
      "zoomIn": "Zoom in",
      "zoomOut": "Zoom out",
      "fit": "Fit to paths",
      "fitTitle": "Zoom to the paths of the shown racers",
      "whole": "Whole surface",
      "wholeTitle": "Show the surface's whole window",
      "zoomHint": "wheel or pinch to zoom, drag to pan",
      "keysLabel": "Loss map: with it focused, the arrow keys pan (Shift: further), + and − zoom, 0 shows the whole surface",
      "levelsLog": {
        "one": "{count} log-spaced contour level from {low} to {high}",
        "other": "{count} log-spaced contour levels from {low} to {high}"
      },
      "levelsLinear": {
        "one": "{count} evenly spaced contour level from {low} to {high}",
        "other": "{count} evenly spaced contour levels from {low} to {high}"
      },
      "legendMinimum": "★ known minimum",
      "legendStart": "○ start",
      "legendCross": "× diverged or escaped (shown once reached)",
      "clickHint": "click a path to jump to that step",
      "colorbar": "loss",
      "colorbarTitle": "Loss: the background's colours; the ticks are the contour levels",
      "minimum": "known minimum ({x}, {y})",
      "start": "start",
      "startAt": "start ({x}, {y})",
      "direction1": "direction 1",
      "direction2": "direction 2",
      "planeExplained": "the plane's directions explain {a} and {b} of the racers' motion from the start",
      "planeCaptured": "the plane holds {share} of it; the rest is hidden by the projection",
      "divergedAt": "{name} diverged at step {step}",
      "escapedAt": "{name} escaped at step {step}",
      "whatifTag": "(what-if)",
      "tipStep": "step {step}",
      "tipPosition": "({xname}, {yname}) = ({x}, {y})",
      "tipLoss": "loss {loss}",
      "viewLevels": {
        "library": "levels and colours for this view, from the surface's formula",
        "interpolated": "levels and colours for this view, interpolated from the logged grid"
      }
    },
    "loss": {
      "step": "step",
      "axisLog": "loss (log)",
      "axisSymlog": "loss (symlog)",
      "logNote": "Loss on a log axis. × marks where a racer diverged or escaped, once reached.",
      "logNoteZeros": "Loss on a log axis (losses of exactly 0 are drawn on the bottom edge). × marks where a racer diverged or escaped, once reached.",
      "symlogNote": "Loss on a symlog axis: some losses are ≤ 0 (e.g. a saddle), so the axis is sign(loss)·log10(1 + |loss|/{c}), linear within ±{c}.",
      "tipStep": "step {step}",
      "diverged": "diverged",
      "escaped": "escaped"
    },
    "racers": {
      "show": "show {name}",
      "shared": "{title} ({id})",
      "tuned": "tuned",
      "tunedTitle": "best of {budget} trials ({method}); objective: {objective}",
      "atEdge": "at edge",
      "atEdgeTitle": "the best value sits at the edge of the search space ({edge}): widen it"
    },
    "whatif": {
      "help": "Drag a learning rate or momentum (or type a value) to re-run that optimizer on the server with the real Keras optimizer; the path, the loss and the leaderboard row follow.",
      "off": "What-if is off for this race: {reason}",
      "fixed": "this race's paths are fixed",
      "unavailable": "what-if is not available for this racer",
      "why": {
        "surface": "What-if needs an analytic surface; this race runs on {surface}.",
        "projected": "What-if needs an analytic surface; this race runs on {surface}, a projected model loss.",
        "metadata": "What-if needs the racer's metadata, which cannot be read: {error}.",
        "optimizer": "What-if can only re-run Keras optimizers: {optimizer} is not one of Flowscope's racers, so its path is shown as logged."
      },
      "noPath": "This racer has no path to re-run.",
      "noLr": "No learning rate is logged for this racer.",
      "lr": "learning rate",
      "momentum": "momentum",
      "lrLabel": "{name}: learning rate",
      "lrTitle": "Learning rate of the what-if (type a value and press Enter)",
      "lrSlider": "{name}: learning rate slider (log scale)",
      "lrSliderTitle": "Drag to change the learning rate (log scale)",
      "momentumLabel": "{name}: momentum",
      "momentumTitle": "Momentum of the what-if, from 0 to 0.999",
      "momentumSlider": "{name}: momentum slider",
      "reset": "reset",
      "resetTitle": "Back to the logged path",
      "computing": "recomputing…",
      "shown": "what-if: {hyper} — not the logged path",
      "chip": "what-if",
      "approx": "approximate: blended from {count} precomputed real runs (nearest {hyper}); the exact path replaces it when you release the slider",
      "bannerApprox": "{names}: approximate path while the slider moves (blended from precomputed real Keras runs); the exact path replaces it on release.",
      "badLr": "The learning rate must be a number from {min} to {max} (not “{value}”).",
      "badMomentum": "The momentum must be a number from {min} to {max} (not “{value}”).",
      "failed": "The server could not re-run this optimizer with these values. {error}",
      "staleLogged": "The map and the leaderboard still show the logged path.",
      "staleShown": "The map and the leaderboard still show the previous what-if, marked as outdated.",
      "staleChip": "outdated",
      "staleTitle": "Not the values in the racer's inputs: they are invalid or could not be run",
      "banner": {
        "one": "What-if active for {names}: its path is recomputed by the server and no longer the logged run (the logged path shows dotted). Use reset to go back.",
        "other": "What-if active for {names}: their paths are recomputed by the server and no longer the logged run (the logged paths show dotted). Use reset to go back."
      },
      "bannerStale": {
        "one": "{names}: the shown path is not for the values typed (see the racer's message).",
        "other": "{names}: the shown paths are not for the values typed (see the racers' messages)."
      },
      "bannerNone": "Every path shows its logged run (a what-if re-runs a racer with other values)."
    },
    "board": {
      "rank": "#",
      "rankTitle": "Rank by arrival: settled step, then first step within tolerance, then final loss; ties share a rank, racers that never arrived come after",
      "optimizer": "optimizer",
      "optimizerTitle": "Optimizer (racer)",
      "hyper": "hyper-parameters",
      "hyperTitle": "Learning rate and the others",
      "finalLoss": "final loss",
      "finalLossTitle": "Loss at the last step",
      "bestLoss": "best loss",
      "bestLossTitle": "Lowest loss reached",
      "distance": "distance to min",
      "distanceTitle": "Distance from the final position to the nearest known minimum",
      "firstEntry": "first within tol.",
      "firstEntryTitle": "First step within tolerance of a minimum",
      "settled": "settled",
      "settledTitle": "Step from which the racer stays within tolerance",
      "status": "status",
      "statusTitle": "What happened: arrived, not arrived in N steps, escaped (left the window of a surface unbounded below) or diverged (NaN, Inf or leaving the window)",
      "sortTitle": "{what} — click (or Enter) to sort, again to reverse",
      "arrivalDistance": "within {tol} of a known minimum counts as arrived",
      "arrivalLoss": "a loss at or below {tol} counts as arrived (no known minimum on this surface)",
      "arrivalNone": "arrival is not measured (no tolerance known)",
      "note": "Steps count from 0; {arrival}. # ranks by arrival (settled, then first within tolerance, then final loss; ties share a rank). Escaped = left the map of a surface with no lower bound (the aim there); diverged = NaN, Inf or far outside the map. Click a column header to sort; what-if rows show a recomputed path, not the logged run.",
      "asOf": "As of step {step} of {max}: only what has happened so far (ranks, arrivals, outcomes); the whole race's verdict shows at its last step.",
      "verdict": "The whole race: the verdict at its last step.",
      "lossNow": "loss now",
      "lossNowTitle": "Loss at the shown step (the final loss at the last step)",
      "rankModelTitle": "Rank by {what} ({order}); racers that diverged come last, ties share a rank",
      "whatTrainLoss": "final training loss",
      "whatValLoss": "best validation loss",
      "whatMetric": "best validation {metric}",
      "lowFirst": "lowest first",
      "highFirst": "highest first",
      "targetOnTrainLoss": "training loss (of the step's batch)",
      "targetOnValLoss": "validation loss",
      "targetOnMetric": "validation {metric}",
      "trainLoss": "final train loss",
      "trainLossTitle": "Training loss on the last step's batch",
      "trainLossNow": "train loss now",
      "bestValLoss": "best val loss",
      "bestValLossTitle": "Lowest validation loss logged (Model.evaluate on the validation data, at intervals)",
      "bestMetric": "best val {metric}",
      "bestMetricMaxTitle": "Highest {metric} logged on the validation data (higher is better)",
      "bestMetricMinTitle": "Lowest {metric} logged on the validation data (lower is better)",
      "targetStep": "steps to target",
      "targetStepTitle": "First step at which the {what} reached {op} {target}",
      "targetSeconds": "s to target",
      "targetSecondsTitle": "The racer's own training time (its steps only, no validation) until its {what} reached {op} {target}",
      "msPerStep": "ms/step",
      "msPerStepTitle": "Mean wall time of one training step of this racer: its own compiled step, timed alone (the racers take turns on each batch)",
      "msPerStepBatchedTitle": "Mean wall time of one step of all racers together (they ran in one compiled program, so it cannot be split per racer)",
      "targetGiven": "Target: {what} {op} {target} (yours).",
      "targetDefault": "Target: {what} {op} {target}, 90 % of the way from the common start to the best any racer reached (set your own with --target).",
      "targetNone": "No target: no racer has a value to aim at.",
      "timingSequential": "each racer's own compiled step, timed alone (the racers take turns on each batch)",
      "timingBatched": "one compiled step of all racers together (not split per racer)",
      "modelNote": "# ranks by {what} ({order}); racers that diverged come last. {target} The target is checked where the value is measured: at each validation for validation values, at every step for the training loss; its seconds count only the racer's own training steps. ms/step: {timing}. Click a column header to sort."
    },
    "status": {
      "noData": "no data",
      "arrived": "arrived at step {step}",
      "arrivedTitle": "Settled within the tolerance from this step to its last",
      "escaped": "escaped at step {step}",
      "escapedTitle": "Left the window of a surface with no lower bound: escaping is the lesson's aim, not a divergence",
      "diverged": "diverged at step {step}",
      "divergedTitle": "The loss or position blew up (NaN, Inf) or left the window",
      "leftWindow": "Left the window (the surface is bounded below)",
      "nan": "The loss or position became NaN",
      "infinite": "The loss or position became infinite",
      "notArrived": {
        "one": "not arrived in {steps} step",
        "other": "not arrived in {steps} steps"
      },
      "notArrivedTitle": "Raced every step without settling within the tolerance",
      "racing": "racing",
      "racingTitle": "Still on its way at the shown step (not within the tolerance now); the verdict comes at its last step",
      "arrivedSoFarTitle": "Within the tolerance from this step to the shown one, so far; the verdict comes at its last step",
      "finished": {
        "one": "ran {steps} step",
        "other": "ran {steps} steps"
      },
      "finishedTitle": "Trained every step without diverging (a race on your own model has no finish line: see the ranking columns)"
    },
    "error": {
      "races": "Could not load the races. {error}",
      "noSurfaceLogged": "the race logged no surface",
      "noSurface": "No surface summary for this race ({error}); showing paths only.",
      "noTrajectory": "No trajectory in race {race} could be read ({why}).",
      "racerWhy": "{racer}: {error}",
      "noRows": "no rows"
    },
    "library": {
      "surface": {
        "saddle": {
          "title": "Saddle x² − y²",
          "description": "the course notes' saddle point: no minimum; arriving = loss below -1 (escaped the saddle)"
        },
        "beale": {
          "title": "Beale",
          "description": "flat plateaus and sharp ridges; minimum 0 at (3, 0.5)"
        },
        "rosenbrock": {
          "title": "Rosenbrock",
          "description": "a narrow curved valley; minimum 0 at (1, 1)"
        },
        "rastrigin": {
          "title": "Rastrigin",
          "description": "a bowl covered in local minima; global minimum 0 at (0, 0)"
        },
        "himmelblau": {
          "title": "Himmelblau",
          "description": "four equal minima (0); which one a racer reaches depends on its path"
        },
        "quadratic": {
          "title": "Ill-conditioned quadratic",
          "description": "0.5 (u² + 50 v²) with (u, v) turned 30°: condition number 50; minimum 0 at (0, 0)"
        },
        "linear_regression": {
          "title": "Linear regression (k, b)",
          "description": "the course notes' first model: MSE of y = kx + b on 100 random points of y = 0.1x + 0.2, from k = b = 0; minimum 0 at (0.1, 0.2)"
        },
        "nn_plane": {
          "title": "Neural network (2-D plane of a 354-weight MLP)",
          "description": "a 2-16-16-2 tanh MLP on two moons; the map is the loss on a plane through the initial weights (filter-normalised random directions); arriving = training loss below 0.1"
        }
      },
      "optimizer": {
        "sgd": {
          "title": "SGD"
        },
        "momentum": {
          "title": "Momentum"
        },
        "nag": {
          "title": "NAG"
        },
        "adagrad": {
          "title": "Adagrad"
        },
        "rmsprop": {
          "title": "RMSprop"
        },
        "adadelta": {
          "title": "Adadelta"
        },
        "adam": {
          "title": "Adam"
        },
        "adamax": {
          "title": "Adamax"
        },
        "nadam": {
          "title": "Nadam"
        },
        "adamw": {
          "title": "AdamW"
        },
        "lion": {
          "title": "Lion"
        },
        "ftrl": {
          "title": "Ftrl"
        }
      }
    }
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
      "errorsTitle": "Colour only the off-diagonal cells (the errors)",
      "perStep": "Colours per step",
      "perStepTitle": "Scale the count colours to each step's own largest count (by default one scale serves the whole series, so a colour means the same count at every step)"
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
      "compare": "change B − A in {what}, percentage points{errors}",
      "scaleSeries": " (one scale for every step)",
      "scaleStep": " (this step's scale)"
    },
    "compare": {
      "better": "B better ({run}) ▶",
      "worse": "◀ B worse ({run})",
      "kind": {
        "same": "Comparing every position of A with the same position of {run}.",
        "shared": "Comparing all positions pooled and the {shared} positions both runs have by name (A has {a}, B has {b}).",
        "pooled": "Comparing all positions pooled: the runs' positions differ (A has {a}, B has {b})."
      },
      "missing": {
        "one": "{n} map hidden: {run} has no position {names}.",
        "other": "{n} maps hidden: {run} has no positions {names}."
      },
      "showMissing": "show them",
      "hideMissing": "hide them"
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
      "noImages": "No stored images for this cell.",
      "open": "open the image at its own size",
      "closeImage": "close the image",
      "ownSize": "own size",
      "enlarged": "enlarged × {factor}",
      "size": "{width} × {height} px"
    },
    "error": {
      "runs": "Could not load the runs. {error}",
      "series": "Could not load {series}. {error}",
      "metrics": "Could not load the metrics. {error}",
      "images": "Could not load the images. {error}",
      "unreadable": "{series} cannot be read: {error}",
      "step": "Could not load this step's matrix. {error}"
    },
    "overview": {
      "keys": "Confusion matrix: the wheel or + / − zoom, dragging pans, 0 shows it whole; arrow keys move between cells, Enter shows a cell's images"
    },
    "pager": {
      "prev": "previous rows",
      "next": "next rows",
      "range": "{from}–{to} of {count}"
    },
    "find": {
      "label": "Find class",
      "placeholder": "class name",
      "none": "No class matches “{query}”.",
      "found": "{name} (class {index})"
    }
  }
};
