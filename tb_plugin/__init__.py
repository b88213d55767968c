"""Flowscope's TensorBoard plugin back end: the optimizer race and per-position confusion."""
