"""The models the source documents teach, rebuilt in TF2 / Keras 3 and instrumented."""
