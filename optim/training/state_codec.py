"""Arrays as JSON-able data: callback states travel in a checkpoint's ``extra``, which is JSON."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["encode_array", "decode_array", "encode_tree", "decode_tree"]


def encode_array(array: np.ndarray) -> dict[str, Any]:
    """``{"dtype", "shape", "data"}``: ``array`` as JSON-able data (see :func:`decode_array`)."""
    array = np.asarray(array)
    return {"dtype": array.dtype.name, "shape": list(array.shape), "data": array.ravel().tolist()}


def decode_array(record: dict[str, Any]) -> np.ndarray:
    """The array :func:`encode_array` encoded, with its dtype and shape."""
    return np.asarray(record["data"], dtype=record["dtype"]).reshape(record["shape"])


def encode_tree(node: Any) -> Any:
    """``node`` with every ndarray encoded (as ``{"__array__": ...}``), numpy scalars as Python
    numbers, tuples as lists, dicts kept: JSON-able if the rest is."""
    if isinstance(node, np.ndarray):
        return {"__array__": encode_array(node)}
    if isinstance(node, dict):
        return {k: encode_tree(v) for k, v in node.items()}
    if isinstance(node, (list, tuple)):
        return [encode_tree(v) for v in node]
    if isinstance(node, np.generic):
        return node.item()
    return node


def decode_tree(node: Any) -> Any:
    """The inverse of :func:`encode_tree` (tuples come back as lists)."""
    if isinstance(node, dict) and set(node) == {"__array__"}:
        return decode_array(node["__array__"])
    if isinstance(node, dict):
        return {k: decode_tree(v) for k, v in node.items()}
    if isinstance(node, list):
        return [decode_tree(v) for v in node]
    return node
