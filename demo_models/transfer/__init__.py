"""Transfer learning (`flowscope demo transfer`): a trained base, cached bottlenecks, a small head.

The lesson ("TensorFlow and transfer learning for image recognition") reuses Inception-V3's
convolution and pooling layers: every image goes once through them to its 2048-d bottleneck
vector, the vectors are cached, and only a two-layer fully-connected head (`layer1`,
`layer2`, `logits`) is trained, with gradient descent on random batches of cached vectors.
Offline, without Inception-V3's weights, a small CNN that Flowscope trains itself on digits
0-4 is transferred to digits 5-9 instead (`demo_models.transfer.standin`).
"""
