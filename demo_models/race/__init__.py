"""`flowscope race` (cli.py). The race itself is library code: `summaries.race`.

engine, surfaces, optimizers and tuning here are aliases of the `summaries.race` modules,
kept so that old imports keep working.
"""
