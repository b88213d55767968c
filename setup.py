"""Packaging for Flowscope: one distribution, one console script, two TensorBoard plugins."""

from setuptools import find_packages, setup

setup(
    name="flowscope",
    version="0.1.0",
    description="A TensorBoard plugin and visualization toolkit for TensorFlow 2 / Keras 3",
    python_requires=">=3.11",
    packages=find_packages(include=["summaries*", "tb_plugin*", "demo_models*", "frontend*"]),
    package_data={
        "frontend": ["*.js", "*.css", "*/*.js", "*/*.css"],
        "tb_plugin": ["*.md"],
    },
    install_requires=[
        "tensorflow>=2.16",
        "tensorboard>=2.16",
        "numpy>=1.26",
        "werkzeug>=2.0",
        "protobuf>=3.20",
        "contourpy>=1.2",
        "matplotlib>=3.8",
        "pillow>=10.0",
        "captcha>=0.7",
        "tqdm>=4.60",
        "scikit-learn>=1.3",
        "google-crc32c>=1.5",
        "portpicker>=1.5",  # free ports: the TensorBoard launcher, `demo distributed`
    ],
    extras_require={
        "test": [
            "pytest>=8.0",
            "pytest-xdist>=3.5",
            "playwright>=1.40",
            "hypothesis>=6.100",
            "tbparse>=0.0.9",
            "ruff>=0.5",
            "build>=1.0",
            "import-linter>=2.1",  # the layer contract in pyproject.toml (tests/test_layers.py)
            "keras-tuner>=1.4",  # a real search instrumented by summaries.tuner
            # SummaryCallback on Keras's JAX backend (tests/test_backends.py); the CPU build
            # (jaxlib's wheel, no CUDA plugin). PyTorch's CPU wheel: see setup.sh.
            "jax[cpu]>=0.4.30",
        ],
    },
    entry_points={
        "console_scripts": ["flowscope = demo_models.cli:main"],
        "tensorboard_plugins": [
            "optimizer_race = tb_plugin.loaders:RaceLoader",
            "position_confusion = tb_plugin.loaders:ConfusionLoader",
        ],
    },
)
