"""Small dataset loaders for examples and tests: IDX files (MNIST) and scikit-learn's digits.

Nothing here downloads anything. :func:`load_mnist` reads the four standard MNIST files from a
directory you provide (plain or gzipped), :func:`load_digits` uses the 8x8 digits that ship inside
scikit-learn, and :func:`read_idx` / :func:`write_idx` handle the IDX format itself.

The IDX format is a 4-byte header, ``0x00 0x00 <type code> <ndim>``, followed by ``ndim``
big-endian uint32 dimension sizes and then the data, big-endian and in C order. The type codes
are ``0x08`` uint8, ``0x09`` int8, ``0x0B`` int16, ``0x0C`` int32, ``0x0D`` float32 and ``0x0E``
float64.
"""

from __future__ import annotations

import gzip
import math
import numbers
import os
import struct
import zlib

import numpy as np
import numpy.typing as npt

__all__ = ["load_digits", "load_mnist", "read_idx", "write_idx"]

_GZIP_MAGIC = b"\x1f\x8b"

# IDX type code -> native numpy dtype. The file stores the big-endian version of each.
_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(np.int16),
    0x0C: np.dtype(np.int32),
    0x0D: np.dtype(np.float32),
    0x0E: np.dtype(np.float64),
}
_IDX_CODES = {dtype: code for code, dtype in _IDX_DTYPES.items()}

_MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def _malformed(path: str, problem: str) -> ValueError:
    return ValueError(f"Malformed IDX file {path!r}: {problem}")


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Reads an IDX file, such as the MNIST files, into a numpy array.

    A gzip-compressed file is recognized by its first two bytes (``1f 8b``), whatever its name.

    Args:
        path: The file to read.

    Returns:
        A new, writable array with the shape stored in the header and the native-endian version
        of the stored dtype (uint8, int8, int16, int32, float32 or float64).

    Raises:
        FileNotFoundError: If `path` does not exist.
        ValueError: If the file is not a well-formed IDX file: corrupt gzip data, a magic number
            not starting with two zero bytes, an unknown type code, a truncated header or data,
            or bytes left over after the data. The message names the file and the problem.

    Example:
        >>> images = read_idx("mnist/train-images-idx3-ubyte.gz")  # doctest: +SKIP
        >>> images.shape, images.dtype  # doctest: +SKIP
        ((60000, 28, 28), dtype('uint8'))
    """
    name = os.fspath(path)
    with open(name, "rb") as f:
        data = f.read()
    if data[:2] == _GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise _malformed(name, f"the gzip data is corrupt ({exc}).") from exc

    if len(data) < 4:
        raise _malformed(name, f"the header must be at least 4 bytes, got {len(data)}.")
    if data[:2] != b"\x00\x00":
        raise _malformed(
            name, f"the magic number must start with two zero bytes, got {data[:2]!r}."
        )
    code, ndim = data[2], data[3]
    if code not in _IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in _IDX_DTYPES)
        raise _malformed(name, f"the type code must be one of {known}, got 0x{code:02X}.")
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise _malformed(
            name,
            f"the header declares {ndim} dimensions and so needs {header_size} bytes, "
            f"but the file has only {len(data)}.",
        )
    shape = struct.unpack(f">{ndim}I", data[4:header_size])
    dtype = _IDX_DTYPES[code]
    expected = math.prod(shape) * dtype.itemsize
    present = len(data) - header_size
    if present < expected:
        raise _malformed(
            name,
            f"the data is truncated: shape {shape} of {dtype.name} needs {expected} bytes after "
            f"the header, but only {present} are present.",
        )
    if present > expected:
        raise _malformed(
            name,
            f"{present - expected} trailing bytes follow the {expected} bytes of data for shape "
            f"{shape} of {dtype.name}.",
        )
    flat = np.frombuffer(
        data, dtype=dtype.newbyteorder(">"), count=math.prod(shape), offset=header_size
    )
    return flat.astype(dtype).reshape(shape)


def write_idx(path: str | os.PathLike[str], array: npt.ArrayLike) -> None:
    """Writes an array to an IDX file, gzip-compressed if `path` ends with ``.gz``.

    The gzip header carries no timestamp and no file name, so the same array always gives the same
    bytes.

    Args:
        path: The file to write; it is overwritten if it exists.
        array: Array of dtype uint8, int8, int16, int32, float32 or float64 (any byte order),
            with at most 255 dimensions, each smaller than ``2**32``. Other dtypes are refused
            rather than converted, since a conversion could lose information.

    Raises:
        TypeError: If `array` has a dtype IDX cannot store.
        ValueError: If `array` has too many dimensions or a dimension too large.

    Example:
        >>> write_idx("labels-idx1-ubyte.gz", np.array([5, 0, 4], dtype=np.uint8))  # doctest: +SKIP
    """
    array = np.asarray(array)
    native = array.dtype.newbyteorder("=")
    if native not in _IDX_CODES:
        names = ", ".join(dtype.name for dtype in _IDX_CODES)
        raise TypeError(f"`array` must have one of the dtypes {names}, got {array.dtype!r}.")
    if array.ndim > 255:
        raise ValueError(f"`array` must have at most 255 dimensions, got {array.ndim}.")
    if any(size >= 2**32 for size in array.shape):
        raise ValueError(f"`array` must have every dimension below 2**32, got {array.shape}.")
    header = struct.pack(f">BBBB{array.ndim}I", 0, 0, _IDX_CODES[native], array.ndim, *array.shape)
    payload = np.ascontiguousarray(array, dtype=native.newbyteorder(">")).tobytes()
    name = os.fspath(path)
    if name.lower().endswith(".gz"):
        with open(name, "wb") as raw, gzip.GzipFile("", "wb", fileobj=raw, mtime=0) as f:
            f.write(header)
            f.write(payload)
    else:
        with open(name, "wb") as f:
            f.write(header)
            f.write(payload)


def _check_float_dtype(dtype: npt.DTypeLike) -> np.dtype:
    try:
        result = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"`dtype` must be a floating-point dtype, got {dtype!r}.") from exc
    if not np.issubdtype(result, np.floating):
        raise TypeError(f"`dtype` must be a floating-point dtype, got {dtype!r}.")
    return result


def _find_mnist_file(data_dir: str, base: str) -> str | None:
    for candidate in (base, base + ".gz"):
        path = os.path.join(data_dir, candidate)
        if os.path.isfile(path):
            return path
    return None


def load_mnist(
    data_dir: str | os.PathLike[str], dtype: npt.DTypeLike = np.float32
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Loads MNIST (or a drop-in like Fashion-MNIST) from the four standard IDX files.

    `data_dir` must contain ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
    ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``, each either plain or with a
    ``.gz`` suffix (the plain file wins if both exist). Nothing is downloaded.

    Args:
        data_dir: Directory holding the files.
        dtype: Floating-point dtype of the returned images. Defaults to float32.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``. Images are flattened to ``(n, rows * cols)``
        and scaled from bytes to ``[0, 1]``; labels are int64 of shape ``(n,)``.

    Raises:
        FileNotFoundError: If `data_dir` or any of the four files is missing; the message lists
            every file name that was looked for and not found.
        ValueError: If a file is malformed, images are not 3-D unsigned bytes, labels are not
            1-D integers, or the number of images and labels differ.
        TypeError: If `dtype` is not a floating-point dtype.

    Example:
        >>> (x_train, y_train), (x_test, y_test) = load_mnist("data/mnist")  # doctest: +SKIP
        >>> x_train.shape, y_train.dtype  # doctest: +SKIP
        ((60000, 784), dtype('int64'))
    """
    dtype = _check_float_dtype(dtype)
    root = os.fspath(data_dir)
    if not os.path.isdir(root):
        raise FileNotFoundError(f"MNIST directory {root!r} does not exist or is not a directory.")
    paths = {key: _find_mnist_file(root, base) for key, base in _MNIST_FILES.items()}
    missing = [_MNIST_FILES[key] for key, path in paths.items() if path is None]
    if missing:
        looked_for = ", ".join(f"{base!r} or {base + '.gz'!r}" for base in missing)
        raise FileNotFoundError(f"MNIST files missing from {root!r}: looked for {looked_for}.")

    splits = []
    for split in ("train", "test"):
        images_path, labels_path = paths[f"{split}_images"], paths[f"{split}_labels"]
        images, labels = read_idx(images_path), read_idx(labels_path)
        if images.ndim != 3 or images.dtype != np.uint8:
            raise ValueError(
                f"MNIST images in {images_path!r} must be a 3-D uint8 array, got shape "
                f"{images.shape} of {images.dtype.name}."
            )
        if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(
                f"MNIST labels in {labels_path!r} must be a 1-D integer array, got shape "
                f"{labels.shape} of {labels.dtype.name}."
            )
        if len(images) != len(labels):
            raise ValueError(
                f"MNIST image and label counts must match, got {len(images)} images in "
                f"{images_path!r} and {len(labels)} labels in {labels_path!r}."
            )
        x = images.reshape(len(images), -1).astype(dtype) / 255
        splits.append((x, labels.astype(np.int64)))
    return splits[0], splits[1]


def load_digits(
    test_size: float = 0.2, seed: int | None = 0, dtype: npt.DTypeLike = np.float32
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Loads scikit-learn's bundled 8x8 handwritten digits, split into train and test sets.

    The 1797 images come with scikit-learn, so nothing is downloaded. Pixel values (0 to 16) are
    divided by 16, the rows are shuffled with ``numpy.random.default_rng(seed)`` and the first
    ``ceil(test_size * 1797)`` of them form the test set.

    Args:
        test_size: Fraction of examples in the test set, in ``(0, 1)``, or an int count in
            ``[1, 1796]``. Defaults to 0.2.
        seed: Seed of the shuffle; the same seed always gives the same split. ``None`` draws a
            fresh one. Defaults to 0.
        dtype: Floating-point dtype of the features. Defaults to float32.

    Returns:
        ``(x_train, y_train), (x_test, y_test)`` with features of shape ``(n, 64)`` in
        ``[0, 1]`` and int64 labels of shape ``(n,)``, as :func:`load_mnist` returns.

    Raises:
        ImportError: If scikit-learn is not installed (it is an optional dependency).
        TypeError: If `test_size`, `seed` or `dtype` has the wrong type.
        ValueError: If `test_size` is out of range.

    Example:
        >>> (x_train, y_train), (x_test, y_test) = load_digits()
        >>> x_train.shape, x_test.shape
        ((1437, 64), (360, 64))
    """
    if isinstance(test_size, bool) or not isinstance(test_size, numbers.Real):
        raise TypeError(f"`test_size` must be a float or an int, got {test_size!r}.")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
        raise TypeError(f"`seed` must be an int or None, got {seed!r}.")
    dtype = _check_float_dtype(dtype)
    try:
        from sklearn.datasets import load_digits as _sklearn_load_digits
    except ImportError as exc:
        raise ImportError(
            "load_digits needs scikit-learn, an optional dependency of optim; install it with "
            "`pip install scikit-learn` (or `pip install optim[examples]`)."
        ) from exc

    images, labels = _sklearn_load_digits(return_X_y=True)
    n = len(labels)
    if isinstance(test_size, numbers.Integral):
        if not 1 <= test_size <= n - 1:
            raise ValueError(f"`test_size` must be in [1, {n - 1}] as a count, got {test_size!r}.")
        n_test = int(test_size)
    else:
        if not 0 < test_size < 1:
            raise ValueError(f"`test_size` must be in (0, 1) as a fraction, got {test_size!r}.")
        n_test = min(max(math.ceil(test_size * n), 1), n - 1)

    order = np.random.default_rng(seed).permutation(n)
    x = images[order].astype(dtype) / 16
    y = labels[order].astype(np.int64)
    return (x[n_test:], y[n_test:]), (x[:n_test], y[:n_test])
