"""Reading and writing Caffe model files through the project's own protobuf schema."""
