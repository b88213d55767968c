"""Benchmarks of the summaries library, run with `flowscope bench NAME`."""
