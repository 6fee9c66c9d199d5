"""Small utilities shared by edge-dnn's modules (no third-party dependencies)."""
