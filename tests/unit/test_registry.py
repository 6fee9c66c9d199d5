"""Every layer file is registered in LAYERS, and every registered layer is fully handled."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import edge_dnn.layers as layers_pkg
from edge_dnn.layers.base import Layer
from edge_dnn.layers.registry import LAYERS

NOT_LAYER_FILES = {"base", "registry"}


def layer_modules() -> list[str]:
    return [
        m.name
        for m in pkgutil.iter_modules(layers_pkg.__path__)
        if not m.name.startswith("_") and m.name not in NOT_LAYER_FILES
    ]


def test_every_layer_file_is_registered() -> None:
    registered = set(LAYERS.values())
    for mod_name in layer_modules():
        mod = importlib.import_module(f"edge_dnn.layers.{mod_name}")
        classes = [
            c
            for _, c in inspect.getmembers(mod, inspect.isclass)
            if issubclass(c, Layer) and c is not Layer and c.__module__ == mod.__name__
        ]
        assert len(classes) == 1, f"{mod_name}.py must define exactly one layer, has {classes}"
        assert classes[0] in registered, f"{classes[0].__name__} ({mod_name}.py) not in LAYERS"


def test_registry_keys_are_caffe_types_and_layers_are_handled() -> None:
    files = set(layer_modules())
    for type_name, cls in LAYERS.items():
        assert type_name == cls.TYPE
        assert cls.__module__.rsplit(".", 1)[-1] in files
        # The float reference is implemented by the layer itself, not inherited from the base.
        assert "forward" in vars(cls) or cls.TYPE == "Input", f"{type_name} lacks forward()"
        assert "from_proto" in vars(cls) or cls.TYPE in {
            "Sigmoid",
            "TanH",
            "AbsVal",
            "BNLL",
            "Dropout",
            "Split",
        }, type_name
