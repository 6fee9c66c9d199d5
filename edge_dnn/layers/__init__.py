"""Layer definitions: one module per Caffe layer type (see :mod:`edge_dnn.layers.base`).

The explicit registry ``LAYERS`` is in :mod:`edge_dnn.layers.registry`.
"""
