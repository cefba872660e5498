"""The GPU kernels' one way to start: a grid sized to the work, and a plain error where the CUDA
compiler and NumPy do not fit together. Fake kernels: no GPU needed."""
import numpy as np
import pytest

from minigrad.kernels.gpu import launch


class FakeKernel:
    """Records ``kernel[blocks, threads](*args)``, or raises ``error`` there, as a compile would."""
    __name__ = "_fake_thread"

    def __init__(self, error=None):
        self.error, self.calls = error, []

    def __getitem__(self, grid):
        def run(*args):
            if self.error is not None:
                raise self.error
            self.calls.append((grid, args))
        return run


@pytest.mark.parametrize("n, blocks", [(1, 1), (256, 1), (257, 2), (1000, 4)])
def test_launch_covers_every_cell_with_whole_blocks(n, blocks):
    kernel = FakeKernel()
    launch.launch(kernel, n, "a", 2)
    assert kernel.calls == [((blocks, launch.THREADS), ("a", 2))]


def test_no_cells_no_launch():
    kernel = FakeKernel(error=AssertionError("launched"))
    launch.launch(kernel, 0)


def test_a_compiler_older_than_numpy_is_named_with_the_way_out():
    # What numba-cuda 0.x raises at its first compile under NumPy 2.5 (seen on a GPU machine).
    kernel = FakeKernel(AttributeError("module 'numpy' has no attribute 'row_stack'"))
    major, minor = np.__version__.split(".")[:2]
    with pytest.raises(RuntimeError, match=rf"_fake_thread: Numba's CUDA target could not compile"
                                           rf".*'numpy<{major}\.{minor}'") as caught:
        launch.start(kernel, 1, 32, ())
    assert isinstance(caught.value.__cause__, AttributeError)


def test_other_attribute_errors_pass_through():
    kernel = FakeKernel(AttributeError("'NoneType' object has no attribute 'shape'"))
    with pytest.raises(AttributeError, match="NoneType"):
        launch.start(kernel, 1, 32, ())
