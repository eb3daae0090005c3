"""Tests for optim.datasets: IDX reading and writing, load_mnist on a fake directory, and
load_digits."""

import gzip
import struct

import numpy as np
import pytest

from optim import datasets

# The test's own IDX writer, independent of optim.write_idx: type code -> struct format letter.
STRUCT_CODES = {0x08: "B", 0x09: "b", 0x0B: "h", 0x0C: "i", 0x0D: "f", 0x0E: "d"}
NUMPY_CODES = {
    np.uint8: 0x08,
    np.int8: 0x09,
    np.int16: 0x0B,
    np.int32: 0x0C,
    np.float32: 0x0D,
    np.float64: 0x0E,
}


def idx_bytes(code, shape, values):
    header = struct.pack(">BBBB", 0, 0, code, len(shape)) + struct.pack(f">{len(shape)}I", *shape)
    return header + struct.pack(f">{len(values)}{STRUCT_CODES[code]}", *values)


def write_file(path, content, compress=False):
    path.write_bytes(gzip.compress(content) if compress else content)
    return path


SAMPLES = {
    0x08: [0, 1, 127, 128, 255, 7],
    0x09: [-128, -1, 0, 1, 127, 5],
    0x0B: [-32768, -2, 0, 300, 32767, 9],
    0x0C: [-(2**31), -70000, 0, 70000, 2**31 - 1, 3],
    0x0D: [-1.5, 0.0, 0.25, 3.0e10, -(2.0**-20), 1.0],
    0x0E: [-1.5, 0.1, 1e-300, 1e300, -0.0, 2.0],
}
DTYPE_OF = {code: dtype for dtype, code in NUMPY_CODES.items()}


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("code", SAMPLES, ids=lambda c: f"0x{c:02X}")
def test_read_idx_hand_written_file(tmp_path, code, compress):
    values = SAMPLES[code]
    path = write_file(tmp_path / "data.idx", idx_bytes(code, (2, 3), values), compress)
    array = datasets.read_idx(path)
    assert array.shape == (2, 3)
    assert array.dtype == np.dtype(DTYPE_OF[code])
    assert array.dtype.isnative
    assert array.flags.writeable
    np.testing.assert_array_equal(array.ravel(), np.array(values, dtype=DTYPE_OF[code]))


def test_read_idx_detects_gzip_by_content_not_name(tmp_path):
    gz_named_plain = write_file(tmp_path / "a.gz", idx_bytes(0x08, (3,), [1, 2, 3]))
    plain_named_gz = write_file(tmp_path / "b", idx_bytes(0x08, (3,), [4, 5, 6]), compress=True)
    np.testing.assert_array_equal(datasets.read_idx(gz_named_plain), [1, 2, 3])
    np.testing.assert_array_equal(datasets.read_idx(str(plain_named_gz)), [4, 5, 6])


def test_read_idx_mnist_like_shapes(tmp_path):
    pixels = list(range(256)) * 2 + list(range(16))  # 3 * 16 * 11 = 528 values
    path = write_file(tmp_path / "imgs", idx_bytes(0x08, (3, 16, 11), pixels), compress=True)
    array = datasets.read_idx(path)
    assert array.shape == (3, 16, 11)
    np.testing.assert_array_equal(array.ravel(), pixels)


def test_read_idx_empty_dimension(tmp_path):
    path = write_file(tmp_path / "empty", idx_bytes(0x0C, (0, 4), []))
    array = datasets.read_idx(path)
    assert array.shape == (0, 4) and array.dtype == np.int32


@pytest.mark.parametrize("suffix", ["", ".gz"], ids=["plain", "gzip"])
@pytest.mark.parametrize("dtype", list(NUMPY_CODES), ids=lambda d: np.dtype(d).name)
def test_write_read_round_trip(tmp_path, dtype, suffix):
    rng = np.random.default_rng(0)
    info = np.iinfo(dtype) if np.issubdtype(dtype, np.integer) else np.finfo(dtype)
    array = rng.uniform(float(info.min) / 2, float(info.max) / 2, size=(3, 4, 5)).astype(dtype)
    path = tmp_path / f"array{suffix}"
    datasets.write_idx(path, array)
    back = datasets.read_idx(path)
    assert back.dtype == np.dtype(dtype) and back.shape == array.shape
    np.testing.assert_array_equal(back, array)
    with open(path, "rb") as f:
        assert (f.read(2) == b"\x1f\x8b") == (suffix == ".gz")


def test_write_idx_matches_hand_written_bytes(tmp_path):
    array = np.array([[1, -2], [3, 40000]], dtype=">i4")  # non-native input byte order
    datasets.write_idx(tmp_path / "x", array)
    assert (tmp_path / "x").read_bytes() == idx_bytes(0x0C, (2, 2), [1, -2, 3, 40000])


def test_write_idx_gzip_is_reproducible(tmp_path):
    array = np.arange(10, dtype=np.uint8)
    datasets.write_idx(tmp_path / "a.gz", array)
    datasets.write_idx(tmp_path / "b.gz", array)
    assert (tmp_path / "a.gz").read_bytes() == (tmp_path / "b.gz").read_bytes()


@pytest.mark.parametrize(
    "array",
    [np.arange(3), np.ones(2, bool), np.ones(2, np.complex64)],
    ids=["int64", "bool", "complex64"],
)
def test_write_idx_rejects_unsupported_dtype(tmp_path, array):
    with pytest.raises(TypeError, match="`array` must have one of the dtypes"):
        datasets.write_idx(tmp_path / "x", array)
    assert not (tmp_path / "x").exists()


def test_read_idx_missing_file(tmp_path):
    path = tmp_path / "nowhere-idx1-ubyte"
    with pytest.raises(FileNotFoundError, match="nowhere-idx1-ubyte"):
        datasets.read_idx(path)


GOOD = idx_bytes(0x08, (2, 3), [1, 2, 3, 4, 5, 6])
MALFORMED = {
    "empty": (b"", "header must be at least 4 bytes"),
    "bad-magic": (b"\x01\x00" + GOOD[2:], "magic number must start with two zero bytes"),
    "unknown-type": (GOOD[:2] + b"\x0a" + GOOD[3:], "type code must be one of .*got 0x0A"),
    "truncated-header": (GOOD[:9], "declares 2 dimensions"),
    "truncated-data": (GOOD[:-1], "truncated.*needs 6 bytes.*only 5"),
    "trailing-bytes": (GOOD + b"\x00\x00", "2 trailing bytes"),
}


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("case", MALFORMED)
def test_read_idx_malformed(tmp_path, case, compress):
    content, match = MALFORMED[case]
    path = write_file(tmp_path / f"broken-{case}.idx", content, compress)
    with pytest.raises(ValueError, match=match) as info:
        datasets.read_idx(path)
    assert f"broken-{case}.idx" in str(info.value)


@pytest.mark.parametrize(
    "content",
    [gzip.compress(GOOD)[:-6], gzip.compress(GOOD)[:12], b"\x1f\x8b" + GOOD],
    ids=["cut-trailer", "cut-stream", "not-deflate"],
)
def test_read_idx_corrupt_gzip(tmp_path, content):
    path = write_file(tmp_path / "broken.gz", content)
    with pytest.raises(ValueError, match="broken.gz.*gzip data is corrupt"):
        datasets.read_idx(path)


# ----------------------------------------------------------------------------------------------
# load_mnist on a tiny fake directory.


def make_fake_mnist(directory, n_train=5, n_test=3, gz=("train-images-idx3-ubyte",)):
    rng = np.random.default_rng(0)
    data = {
        "train-images-idx3-ubyte": rng.integers(0, 256, size=(n_train, 28, 28)),
        "train-labels-idx1-ubyte": rng.integers(0, 10, size=n_train),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, size=(n_test, 28, 28)),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, size=n_test),
    }
    for name, array in data.items():
        content = idx_bytes(0x08, array.shape, array.ravel().tolist())
        compress = name in gz
        write_file(directory / (name + (".gz" if compress else "")), content, compress)
    return data


def test_load_mnist(tmp_path):
    data = make_fake_mnist(tmp_path, gz=("train-images-idx3-ubyte", "t10k-labels-idx1-ubyte"))
    (x_train, y_train), (x_test, y_test) = datasets.load_mnist(tmp_path)
    assert x_train.shape == (5, 784) and x_test.shape == (3, 784)
    assert x_train.dtype == np.float32 and x_test.dtype == np.float32
    assert y_train.dtype == np.int64 and y_test.dtype == np.int64
    assert 0.0 <= x_train.min() and x_train.max() <= 1.0
    np.testing.assert_allclose(
        x_train, data["train-images-idx3-ubyte"].reshape(5, -1) / 255.0, rtol=1e-6
    )
    np.testing.assert_array_equal(y_train, data["train-labels-idx1-ubyte"])
    np.testing.assert_array_equal(y_test, data["t10k-labels-idx1-ubyte"])


def test_load_mnist_dtype(tmp_path):
    make_fake_mnist(tmp_path)
    (x_train, _), _ = datasets.load_mnist(str(tmp_path), dtype=np.float64)
    assert x_train.dtype == np.float64
    with pytest.raises(TypeError, match="`dtype` must be a floating-point dtype"):
        datasets.load_mnist(tmp_path, dtype=np.int32)


def test_load_mnist_missing_files_are_listed(tmp_path):
    make_fake_mnist(tmp_path, gz=("t10k-images-idx3-ubyte",))
    (tmp_path / "t10k-images-idx3-ubyte.gz").unlink()
    (tmp_path / "train-labels-idx1-ubyte").unlink()
    with pytest.raises(FileNotFoundError) as info:
        datasets.load_mnist(tmp_path)
    message = str(info.value)
    for name in [
        "t10k-images-idx3-ubyte",
        "t10k-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte",
        "train-labels-idx1-ubyte.gz",
    ]:
        assert repr(name) in message
    assert "train-images" not in message


def test_load_mnist_missing_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="does-not-exist"):
        datasets.load_mnist(tmp_path / "does-not-exist")


def test_load_mnist_count_mismatch(tmp_path):
    make_fake_mnist(tmp_path)
    write_file(tmp_path / "t10k-labels-idx1-ubyte", idx_bytes(0x08, (2,), [1, 2]))
    with pytest.raises(ValueError, match="3 images .* 2 labels"):
        datasets.load_mnist(tmp_path)


def test_load_mnist_rejects_non_image_file(tmp_path):
    make_fake_mnist(tmp_path)
    write_file(tmp_path / "train-images-idx3-ubyte", idx_bytes(0x08, (5, 4), [0] * 20))
    with pytest.raises(ValueError, match="train-images-idx3-ubyte.*3-D uint8"):
        datasets.load_mnist(tmp_path)


# ----------------------------------------------------------------------------------------------
# load_digits.


def test_load_digits_shapes_dtypes_range():
    pytest.importorskip("sklearn")
    (x_train, y_train), (x_test, y_test) = datasets.load_digits()
    assert x_train.shape == (1437, 64) and x_test.shape == (360, 64)
    assert y_train.shape == (1437,) and y_test.shape == (360,)
    assert x_train.dtype == np.float32 and y_train.dtype == np.int64
    assert x_train.min() == 0.0 and x_train.max() == 1.0
    assert set(np.unique(np.concatenate([y_train, y_test]))) == set(range(10))


def test_load_digits_is_a_deterministic_partition():
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    first = datasets.load_digits(test_size=0.25, seed=3, dtype=np.float64)
    second = datasets.load_digits(test_size=0.25, seed=3, dtype=np.float64)
    other = datasets.load_digits(test_size=0.25, seed=4, dtype=np.float64)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(first[1][1], other[1][1])

    images, labels = sklearn_datasets.load_digits(return_X_y=True)
    (x_train, y_train), (x_test, y_test) = first
    assert x_train.dtype == np.float64
    assert len(x_test) == 450  # ceil(0.25 * 1797)
    rows = np.concatenate([x_train, x_test]) * 16
    order = np.lexsort(rows.T)
    expected = np.lexsort(images.T)
    np.testing.assert_array_equal(rows[order], images[expected])
    np.testing.assert_array_equal(
        np.bincount(np.concatenate([y_train, y_test])), np.bincount(labels)
    )


def test_load_digits_integer_test_size():
    pytest.importorskip("sklearn")
    (x_train, _), (x_test, _) = datasets.load_digits(test_size=100)
    assert len(x_test) == 100 and len(x_train) == 1697


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"test_size": 0.0}, ValueError, r"`test_size` must be in \(0, 1\)"),
        ({"test_size": 1.5}, ValueError, r"`test_size` must be in \(0, 1\)"),
        ({"test_size": 0}, ValueError, r"`test_size` must be in \[1, 1796\]"),
        ({"test_size": "0.2"}, TypeError, "`test_size` must be a float or an int"),
        ({"seed": 1.5}, TypeError, "`seed` must be an int or None"),
        ({"dtype": np.int64}, TypeError, "`dtype` must be a floating-point dtype"),
    ],
)
def test_load_digits_bad_arguments(kwargs, error, match):
    pytest.importorskip("sklearn")
    with pytest.raises(error, match=match):
        datasets.load_digits(**kwargs)


def test_load_digits_without_sklearn(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "sklearn" or name.startswith("sklearn."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ImportError, match="pip install scikit-learn"):
        datasets.load_digits()
