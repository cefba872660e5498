"""IDX reading and writing, and MNIST / Fashion-MNIST loading from small files made here."""
import gzip
import os

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from minigrad.data import (FASHION_MNIST_DIR, load_fashion_mnist, load_mnist, read_idx,
                           write_idx)

IDX_DTYPES = [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]


def _write_dataset(folder, N_train=12, N_test=5, H=28, W=28, gz=False, dotted=False, seed=0):
    """Write the four MNIST files for random images; return the uint8 arrays written."""
    rng = np.random.default_rng(seed)
    written = {}
    for prefix, N in (("train", N_train), ("t10k", N_test)):
        images = rng.integers(0, 256, size=(N, H, W), dtype=np.uint8)
        labels = rng.integers(0, 10, size=N, dtype=np.uint8)
        for kind, array, dims in (("images", images, 3), ("labels", labels, 1)):
            sep = "." if dotted else "-"
            name = f"{prefix}-{kind}{sep}idx{dims}-ubyte" + (".gz" if gz else "")
            write_idx(os.path.join(folder, name), array)
        written[prefix] = (images, labels)
    return written


def test_header_bytes_written_match_the_format(tmp_path):
    path = tmp_path / "a"
    write_idx(path, np.array([[1, 2, 3], [4, 5, 6]], dtype=np.uint8))
    expected = bytes([0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6])
    assert path.read_bytes() == expected


def test_reads_big_endian_elements(tmp_path):
    path = tmp_path / "b"
    # int16 0x0102 = 258 and 0xFFFE = -2, int32 dims, big-endian throughout.
    path.write_bytes(bytes([0, 0, 0x0B, 1, 0, 0, 0, 2, 0x01, 0x02, 0xFF, 0xFE]))
    array = read_idx(path)
    assert array.dtype == np.int16 and array.dtype.isnative
    assert array.tolist() == [258, -2]


@pytest.mark.parametrize("dtype", IDX_DTYPES)
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_round_trip_each_dtype(tmp_path, dtype, suffix):
    rng = np.random.default_rng(1)
    array = (rng.standard_normal((3, 4, 5)) * 60).astype(dtype)
    path = tmp_path / f"x{suffix}"
    write_idx(path, array)
    back = read_idx(path)
    assert back.dtype == array.dtype and back.shape == array.shape
    assert back.tobytes() == array.tobytes()
    assert back.flags.writeable
    if suffix:
        assert path.read_bytes()[:2] == b"\x1f\x8b"


@given(hnp.arrays(st.sampled_from(IDX_DTYPES),
                  hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=5)))
def test_round_trip_any_shape(tmp_path_factory, array):
    path = tmp_path_factory.mktemp("idx") / "x"
    write_idx(path, array)
    back = read_idx(path)
    assert back.shape == array.shape and back.tobytes() == array.tobytes()


def test_gzip_recognised_by_content_not_name(tmp_path):
    array = np.arange(10, dtype=np.int32)
    write_idx(tmp_path / "x.gz", array)
    os.rename(tmp_path / "x.gz", tmp_path / "plain-name")
    assert read_idx(tmp_path / "plain-name").tolist() == list(range(10))


def test_write_rejects_what_idx_cannot_hold(tmp_path):
    with pytest.raises(TypeError, match="float16"):
        write_idx(tmp_path / "x", np.zeros(3, np.float16))
    with pytest.raises(ValueError, match="dimensions"):
        write_idx(tmp_path / "x", np.array(3, np.uint8))


@pytest.mark.parametrize("content, message", [
    (b"", "magic"),
    (b"PK\x03\x04 not idx", "magic"),
    (bytes([0, 0, 0x07, 1, 0, 0, 0, 1, 5]), "unknown element type 0x07"),
    (bytes([0, 0, 0x08, 3, 0, 0, 0, 2]), "truncated inside its header"),
    (bytes([0, 0, 0x08, 1, 0, 0, 0, 4, 1, 2, 3]), "truncated.*needs 4 data bytes, found 3"),
    (bytes([0, 0, 0x08, 1, 0, 0, 0, 2, 1, 2, 3]), "longer than its header says"),
])
def test_malformed_files_name_path_and_problem(tmp_path, content, message):
    path = tmp_path / "bad-idx"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message) as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_truncated_gzip(tmp_path):
    path = tmp_path / "x.gz"
    write_idx(path, np.arange(1000, dtype=np.int32))
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(ValueError, match="truncated or corrupt gzip") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing-here"):
        read_idx(tmp_path / "nothing-here")


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("dotted", [False, True])
def test_load_mnist_reads_both_parts(tmp_path, gz, dotted):
    written = _write_dataset(tmp_path, gz=gz, dotted=dotted)
    for train, prefix in ((True, "train"), (False, "t10k")):
        images, labels = load_mnist(tmp_path, train=train)
        raw_images, raw_labels = written[prefix]
        N = len(raw_labels)
        assert images.shape == (N, 1, 28, 28) and images.dtype == np.float32
        assert labels.dtype == np.int64 and labels.tolist() == raw_labels.tolist()
        np.testing.assert_allclose(images[:, 0], raw_images / 255.0, rtol=1e-6)
        assert images.min() >= 0.0 and images.max() <= 1.0


def test_load_fashion_mnist_with_a_path(tmp_path):
    written = _write_dataset(tmp_path, N_train=3, N_test=2, H=4, W=5, gz=True)
    images, labels = load_fashion_mnist(tmp_path, train=False)
    assert images.shape == (2, 1, 4, 5)
    assert labels.tolist() == written["t10k"][1].tolist()


def test_load_mnist_missing_folder_and_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a directory"):
        load_mnist(tmp_path / "absent")
    _write_dataset(tmp_path)
    os.remove(tmp_path / "t10k-labels-idx1-ubyte")
    with pytest.raises(FileNotFoundError) as info:
        load_mnist(tmp_path, train=False)
    message = str(info.value)
    assert "t10k-labels-idx1-ubyte" in message and str(tmp_path) in message
    assert "train-images-idx3-ubyte" in message


def test_load_mnist_rejects_inconsistent_files(tmp_path):
    _write_dataset(tmp_path, N_train=6)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(5, np.uint8))
    with pytest.raises(ValueError, match="6 images but .* 5 labels"):
        load_mnist(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.full(6, 10, np.uint8))
    with pytest.raises(ValueError, match="label 10"):
        load_mnist(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(6, np.int32))
    with pytest.raises(ValueError, match="int32.*expected uint8 labels"):
        load_mnist(tmp_path)
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((6, 28 * 28), np.uint8))
    with pytest.raises(ValueError, match=r"expected uint8 images of shape \(N, H, W\)"):
        load_mnist(tmp_path)


def test_load_mnist_truncated_image_file(tmp_path):
    _write_dataset(tmp_path, gz=False)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(ValueError, match="truncated") as info:
        load_mnist(tmp_path)
    assert "train-images-idx3-ubyte" in str(info.value)


@pytest.mark.skipif(not os.path.isdir(FASHION_MNIST_DIR),
                    reason=f"Fashion-MNIST is not installed at {FASHION_MNIST_DIR} "
                           "(apt-get install dataset-fashion-mnist)")
def test_real_fashion_mnist():
    for train, N in ((True, 60_000), (False, 10_000)):
        images, labels = load_fashion_mnist(train=train)
        assert images.shape == (N, 1, 28, 28) and images.dtype == np.float32
        assert labels.dtype == np.int64
        assert np.bincount(labels, minlength=10).tolist() == [N // 10] * 10
        assert images.min() == 0.0 and images.max() == 1.0
        # Every image is a real picture: some ink, some background.
        per_image_max = images.reshape(N, -1).max(axis=1)
        assert (per_image_max > 0.5).all()


def test_gzip_stream_written_is_standard(tmp_path):
    path = tmp_path / "x.gz"
    write_idx(path, np.arange(4, dtype=np.uint8))
    assert gzip.decompress(path.read_bytes()) == bytes([0, 0, 8, 1, 0, 0, 0, 4, 0, 1, 2, 3])


def test_gzip_longer_than_its_header_stops_at_the_declared_size(tmp_path, monkeypatch):
    """A 1-byte header with 64 MiB of zeros behind it: refused after one byte past the header's
    size, so only about a chunk of the stream is ever decompressed."""
    path = tmp_path / "bomb-idx1-ubyte.gz"
    header = bytes([0, 0, 0x08, 1]) + np.asarray([1], dtype=">u4").tobytes()
    with gzip.open(path, "wb") as f:
        f.write(header + b"\x07")
        for _ in range(64):
            f.write(bytes(1 << 20))
    decompressed = []
    real_read = gzip.GzipFile.read

    def counting_read(self, size=-1):
        chunk = real_read(self, size)
        decompressed.append(len(chunk))
        return chunk

    monkeypatch.setattr(gzip.GzipFile, "read", counting_read)
    with pytest.raises(ValueError, match=r"longer than its header says: shape \(1,\) of uint8 "
                                         r"needs 1 data bytes, found more than 1") as info:
        read_idx(path)
    assert str(path) in str(info.value)
    assert sum(decompressed) <= 16


@given(sizes=st.lists(st.integers(1, 2 ** 31), min_size=1, max_size=3), held=st.integers(0, 40))
def test_a_header_claiming_more_than_the_file_holds_is_truncated(tmp_path_factory, sizes, held):
    path = tmp_path_factory.mktemp("idx") / "x-idx-ubyte"
    declared = int(np.prod(sizes))
    if declared == held:
        held += 1
    header = bytes([0, 0, 0x08, len(sizes)]) + np.asarray(sizes, dtype=">u4").tobytes()
    path.write_bytes(header + bytes(held))
    problem = "truncated" if held < declared else "longer than its header says"
    with pytest.raises(ValueError, match=problem):
        read_idx(path)
