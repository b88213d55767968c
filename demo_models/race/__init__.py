"""`flowscope race` (cli.py). The race itself is library code: `summaries.race`."""
