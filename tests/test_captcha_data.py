"""The captcha data sets: seeded byte-identical images, worker independence, the disk cache."""

from __future__ import annotations

import io
import secrets

import captcha.image
import numpy as np
import pytest

from demo_models.captcha import data
from demo_models.runtime import cache_root


def test_same_seed_gives_byte_identical_images_and_different_seeds_differ():
    a_images, a_labels = data.generate_chunk(11, 1, 0, 6)
    b_images, b_labels = data.generate_chunk(11, 1, 0, 6)
    assert a_images.dtype == np.uint8 and a_images.shape == (6, data.HEIGHT, data.WIDTH)
    assert a_images.tobytes() == b_images.tobytes()
    assert a_labels.tobytes() == b_labels.tobytes()
    assert a_labels.shape == (6, 4) and a_labels.max() <= 9
    assert a_images.std() > 10  # real drawings, not blank frames

    c_images, c_labels = data.generate_chunk(12, 1, 0, 6)
    assert (a_images != c_images).mean() > 0.2
    assert not np.array_equal(a_labels, c_labels)
    # another split of the same seed is another stream of captchas
    d_images, _ = data.generate_chunk(11, data.SPLITS["evaluate"], 0, 6)
    assert (a_images != d_images).mean() > 0.2
    # the package's own randomness is restored afterwards
    assert captcha.image.secrets is secrets


def test_same_label_text_gives_identical_png_through_the_patched_generator():
    import random

    generator = captcha.image.ImageCaptcha(width=160, height=60)
    pngs = []
    for _ in range(2):
        with data.seeded_captcha(random.Random(5)):
            buffer = io.BytesIO()
            generator.generate_image("0427").save(buffer, format="PNG")
            pngs.append(buffer.getvalue())
    assert pngs[0] == pngs[1]


def test_result_does_not_depend_on_worker_count(monkeypatch):
    monkeypatch.setattr(data, "CHUNK", 3)  # 8 images in 3 chunks
    one = data.generate(8, 4, "validation", workers=1)
    two = data.generate(8, 4, "validation", workers=2)
    assert one[0].tobytes() == two[0].tobytes()
    assert one[1].tobytes() == two[1].tobytes()
    # a prefix of a larger set is the smaller set
    five = data.generate(5, 4, "validation", workers=1)
    assert five[0].tobytes() == one[0][:5].tobytes()


def test_cache_hit_reuses_the_stored_files(tmp_path):
    first = data.load(5, 3, "train", cache_dir=tmp_path, workers=1)
    assert not first.cached and first.path is not None and first.path.is_relative_to(tmp_path)
    files = {p.name: p.stat().st_mtime_ns for p in first.path.iterdir()}
    assert {"images.npy", "labels.npy", "meta.json"} <= set(files)

    second = data.load(5, 3, "train", cache_dir=tmp_path, workers=1)
    assert second.cached and second.path == first.path
    assert isinstance(second.images, np.memmap)  # read straight from disk
    assert {p.name: p.stat().st_mtime_ns for p in second.path.iterdir()} == files
    assert np.array_equal(second.images, first.images)
    assert second.texts() == first.texts() and all(len(t) == 4 for t in second.texts())

    other = data.load(5, 4, "train", cache_dir=tmp_path, workers=1)
    assert not other.cached and other.path != first.path


def test_cache_location_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("FLOWSCOPE_CACHE", str(tmp_path / "env-cache"))
    assert cache_root() == tmp_path / "env-cache"
    assert cache_root(tmp_path / "explicit") == tmp_path / "explicit"
    monkeypatch.delenv("FLOWSCOPE_CACHE")
    assert cache_root().name == "flowscope"


def test_bad_arguments_name_the_argument():
    with pytest.raises(ValueError, match="n must be"):
        data.generate(-1, 0)
    with pytest.raises(TypeError, match="seed must be an integer"):
        data.generate(1, "x")
    with pytest.raises(ValueError, match="split must be one of"):
        data.generate(1, 0, "nope")
