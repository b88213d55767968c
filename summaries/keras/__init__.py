"""What `summaries.callback.SummaryCallback` computes, one module per thing.

The callback keeps the Keras hooks, their order and the state between them; these modules
compute (no hook, no thread, no writer):

* `samples`: the fixed sample batch and the validation examples (`fit`'s data or given);
* `internals`: the one function reading Keras's private state (the running `fit`'s data);
* `backend`: what differs between Keras's backends: where a variable's current value lives
  (the JAX trainer's state during `fit`), host copies, JAX's compiled programs;
* `weights`: a model's float weights by layer, their host copies, update ratios;
* `histograms`: weight and gradient statistics, histograms and gradient norms;
* `gradients`: the gradient probe (the sample batch's loss and gradients, with each
  backend's own differentiation);
* `optimizer`: the learning rate and the norms of the optimizer's slot variables;
* `scalars`: batch and epoch scalars (loss, metrics, learning rate);
* `images`: input images;
* `confusion`: the forward pass on validation data and the confusion matrix per class count;
* `tags`: tag components from Keras names.
"""
