"""The summary helpers under `tf.distribute.MirroredStrategy` (two logical CPUs, in a
subprocess since logical devices must be set before TensorFlow starts): one set of
summaries, replica 0's values, tags as written, also from cross-replica context."""

from __future__ import annotations

import json
import textwrap

import numpy as np
from conftest import run_on_two_cpus
from tensorboard.backend.event_processing import plugin_event_accumulator
from tensorboard.util import tensor_util

SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import summaries

    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        w = tf.Variable(np.linspace(-1.0, 1.0, 12, dtype="float32").reshape(3, 4), name="w")
    labels = np.array(json.loads(sys.argv[2]), np.int64)
    preds = np.array(json.loads(sys.argv[3]), np.int64)
    images = np.linspace(0, 1, 4 * 5 * 6, dtype="float32").reshape(4, 5, 6)

    @tf.function
    def step(s):
        def replica():
            rid = tf.distribute.get_replica_context().replica_id_in_sync_group
            with tf.name_scope("train"):
                summaries.scalar("loss", 10.0 + tf.cast(rid, tf.float32), step=s)
                summaries.histogram("weights", w, step=s)
                with tf.name_scope("layer"):
                    summaries.variable_summaries(w, name="", step=s)
                summaries.image("input", images[..., None], step=s, max_outputs=2)
                summaries.confusion("confusion", labels, preds, classes=["a", "b", "c"],
                                    step=s, images=images, cap_per_cell=1)
        strategy.run(replica)

    writer = tf.summary.create_file_writer(sys.argv[1])
    with writer.as_default():
        for s in range(3):
            step(tf.constant(s, tf.int64))
        with strategy.scope():  # cross-replica context: the mirrored variable itself
            summaries.histogram("cross/weights", w, step=5)
            summaries.scalar("cross/mean", tf.reduce_mean(w), step=5)
    writer.close()
    print(json.dumps({
        "replicas": strategy.num_replicas_in_sync,
        "buckets": summaries.histogram_buckets(w.numpy()).numpy().tolist(),
    }))
    """
)


def test_helpers_write_one_set_under_mirrored_strategy(tmp_path):
    labels = [[0, 1], [1, 2], [2, 0], [0, 0]]
    preds = [[0, 2], [1, 2], [1, 0], [0, 1]]
    result = run_on_two_cpus(SCRIPT, str(tmp_path), json.dumps(labels), json.dumps(preds))
    assert result["replicas"] == 2
    assert len(list(tmp_path.glob("events.out.tfevents.*"))) == 1

    acc = plugin_event_accumulator.EventAccumulator(str(tmp_path), size_guidance={"tensors": 0})
    acc.Reload()
    events = {tag: acc.Tensors(tag) for tag in acc.Tags()["tensors"]}
    expected_tags = {
        "train/loss",
        "train/weights",
        "train/input",
        "train/confusion",
        "train/confusion/examples",
        *(f"train/layer/summaries/{s}" for s in ("mean", "stddev", "max", "min", "histogram")),
        "cross/weights",
        "cross/mean",
    }
    assert set(events) == expected_tags  # no replica_1/ copies, no AutoGraph renames
    for tag, series in events.items():  # one event per step: replica 0 only
        assert [e.step for e in series] == ([5] if tag.startswith("cross/") else [0, 1, 2]), tag

    def last(tag):
        return tensor_util.make_ndarray(events[tag][-1].tensor_proto)

    assert [float(last("train/loss"))] * 3 == [
        float(tensor_util.make_ndarray(e.tensor_proto)) for e in events["train/loss"]
    ]
    assert float(last("train/loss")) == 10.0  # replica 0's value, not replica 1's 11
    w = np.linspace(-1.0, 1.0, 12, dtype="float32")
    for stat, value in (("mean", w.mean()), ("max", 1.0), ("min", -1.0), ("stddev", w.std())):
        np.testing.assert_allclose(last(f"train/layer/summaries/{stat}"), value, atol=1e-6)
    for tag in ("train/weights", "train/layer/summaries/histogram", "cross/weights"):
        np.testing.assert_allclose(last(tag), result["buckets"])
    np.testing.assert_allclose(last("cross/mean"), w.mean(), atol=1e-6)

    lab, pred = np.array(labels), np.array(preds)
    counts = np.zeros((2, 3, 3), np.int64)
    for p in range(2):
        np.add.at(counts[p], (lab[:, p], pred[:, p]), 1)
    np.testing.assert_array_equal(last("train/confusion"), counts)
    examples = last("train/confusion/examples")
    cells = json.loads(bytes(examples[0]))["cells"]
    assert sorted(map(tuple, cells)) == [(0, 2, 1), (1, 0, 1), (1, 1, 2)]  # one per cell
    assert len(examples) == 1 + len(cells)
    image = last("train/input")
    assert [bytes(image[0]), bytes(image[1])] == [b"6", b"5"] and len(image) == 2 + 2
