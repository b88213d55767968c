"""`flowscope bench` targets: benchmarks that live with the applications, not the library."""
