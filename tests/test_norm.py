"""Sum of squares and the global gradient norm: oracle, thread-count independence."""
import numpy as np
import pytest

import reference as ref
from helpers import assert_bitwise_equal, assert_close, tolerance
from neuralcli import _kernels, kernels

DTYPES = [np.float32, np.float64]
# straddle the 2048-element minimum chunk and the switch to 256 longer chunks
SIZES = [0, 1, 7, 2047, 2048, 2049, 4096, 4097, 256 * 2048, 256 * 2048 + 1, 600_003]


def data(n, dtype):
    return np.random.default_rng(n).standard_normal(n).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", SIZES)
def test_sum_squares_matches_oracle(n, dtype):
    x = data(n, dtype)
    # accumulated in double from exact squares, so float32 inputs meet float64 bounds
    assert_close(kernels.sum_squares(x), ref.sum_squares(x), *tolerance(np.float64, 10),
                 "sum of squares")


@pytest.mark.parametrize("dtype", DTYPES)
def test_global_grad_norm(dtype):
    x = data(10001, dtype)
    want = np.sqrt(ref.sum_squares(x))
    assert_close(kernels.global_grad_norm(x), want, *tolerance(np.float64, 10), "norm")
    assert_close(kernels.global_grad_norm(x.reshape(73, 137)), want,
                 *tolerance(np.float64, 10), "norm of a 2-D array")
    parts = [x[:5000], x[5000:]]
    assert_close(kernels.global_grad_norm(parts), want, *tolerance(np.float64, 10),
                 "norm of several arrays")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [4097, 600_003])
def test_threads_bitwise_equal(n, dtype, threads):
    x = data(n, dtype)
    threads(1)
    one = _kernels.sum_squares(x)
    threads(2)
    two = _kernels.sum_squares(x)
    assert_bitwise_equal(np.array([one]), np.array([two]), "sum of squares")


def test_bad_input():
    with pytest.raises(TypeError, match="float32 or float64"):
        kernels.sum_squares(np.ones(4, int))
    with pytest.raises(TypeError, match="float32 or float64"):
        _kernels.sum_squares(np.ones(4, int))
    with pytest.raises(ValueError):
        _kernels.sum_squares(np.ones(8)[::2])
