"""A tiny numpy trainer for the networks edge-dnn bundles in :mod:`edge_dnn.zoo`.

The SDK deploys trained Caffe networks; to demonstrate (and test) quantization on a network with
*real* learned weights without shipping a deep-learning framework, this package trains small
CNNs in pure numpy and exports them as a Caffe ``deploy.prototxt`` + binary ``caffemodel``
through edge-dnn's own protobuf schema and writer.

* :mod:`edge_dnn.train.nn`: layers with forward and backward passes (convolution via im2col,
  ReLU, max pooling, inner product, softmax, softmax cross-entropy), a ``Sequential`` container
  that also knows its Caffe form, and SGD-with-momentum / Adam optimizers. Activations are NCHW;
  parameter blobs use Caffe's shapes and blob order, so exporting is a copy.
* :mod:`edge_dnn.train.digits`: the bundled ``digits`` network, trained on scikit-learn's
  8x8 handwritten digits (scikit-learn is needed only to train or evaluate, never to deploy).

Nothing here is needed at inference time and nothing imports OpenCV.
"""

from __future__ import annotations
