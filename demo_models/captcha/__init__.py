"""The captcha recognition demo: seeded data, the course's model, training and evaluation.

`data` imports no TensorFlow, so its worker processes start quickly.
"""
