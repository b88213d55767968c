"""The course's distributed TensorFlow, as real processes: `flowscope demo distributed`.

The lesson's slides: a parameter-server job stores and updates the parameters, worker jobs
compute, a master schedules; TensorBoard's graph shows which device each node ran on.
Here that is `tf.distribute.ParameterServerStrategy` with a `ClusterCoordinator` (the chief)
in a custom training loop (Keras 3 `fit` does not run under these strategies), or
`MultiWorkerMirroredStrategy` over worker processes. Modules: `cluster` (processes and
ports), `task` (one task's entry point), `model` (the shared model, step and logs), `ps`,
`multiworker`, `main` (the command).
"""
