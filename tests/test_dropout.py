"""Dropout: the mask's statistics and reproducibility, its independence from threads,
chunking and dtype, forward/backward against the oracle, and input checks."""
import numpy as np
import pytest

import reference as ref
from helpers import assert_bitwise_equal, assert_close, tolerance
from neuralcli import _kernels, kernels

DTYPES = [np.float32, np.float64]
# straddle the 4-element RNG blocks and the 16384-element parallel blocks
SIZES = [1, 3, 4, 5, 7, 16383, 16384, 16385, 100003]
BIG = 1_000_000


def mask_of(n, p, seed, step, dtype=np.float64):
    _, mask = kernels.dropout_forward(np.ones(n, dtype), p, seed=seed, step=step,
                                      return_mask=True)
    return mask


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", SIZES)
def test_forward_backward_match_oracle(n, dtype):
    rng = np.random.default_rng(n)
    x = rng.standard_normal(n).astype(dtype)
    dy = rng.standard_normal(n).astype(dtype)
    p = 0.3
    y, mask = kernels.dropout_forward(x, p, seed=42, step=7, return_mask=True)
    assert y.dtype == dtype and mask.dtype == np.bool_
    assert_close(y, ref.dropout_forward(x, mask, p), *tolerance(dtype), "dropout forward")
    dx = kernels.dropout_backward(dy, p, seed=42, step=7)
    assert_close(dx, ref.dropout_backward(dy, mask, p), *tolerance(dtype), "dropout backward")
    # without return_mask the output is the same
    assert_bitwise_equal(kernels.dropout_forward(x, p, seed=42, step=7), y, "forward")


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_mask_fraction(p):
    mask = mask_of(BIG, p, seed=1, step=1)
    sigma = np.sqrt(p * (1 - p) / BIG)
    assert abs(mask.mean() - (1 - p)) < 6 * sigma
    # each of the four lanes of a Philox block is unbiased on its own
    for lane in range(4):
        assert abs(mask[lane::4].mean() - (1 - p)) < 6 * 2 * sigma
    # neighbours are uncorrelated
    a, b = mask[:-1].astype(float), mask[1:].astype(float)
    assert abs(np.corrcoef(a, b)[0, 1]) < 6 / np.sqrt(BIG)


def test_mask_reproducible_and_keyed():
    m = mask_of(BIG, 0.5, seed=3, step=10)
    assert_bitwise_equal(m, mask_of(BIG, 0.5, seed=3, step=10), "same key")
    for other in (mask_of(BIG, 0.5, seed=3, step=11), mask_of(BIG, 0.5, seed=4, step=10),
                  mask_of(BIG, 0.5, seed=3 + 2 ** 32, step=10)):
        # independent masks disagree on about half the elements
        assert abs((m != other).mean() - 0.5) < 0.005


# Random123's published known answers for Philox4x32-10: (counter, key, output)
PHILOX_KAT = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]


@pytest.mark.parametrize("ctr,key,want", PHILOX_KAT)
def test_reference_philox_known_answers(ctr, key, want):
    assert tuple(int(w) for w in ref.philox4x32_10(ctr, key)) == want


@pytest.mark.parametrize("seed,step", [(0, 0), (42, 7), (2 ** 64 - 1, 2 ** 40 + 3),
                                       (0x243F6A8885A308D3, 1)])
@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_mask_is_the_reference_philox_mask(p, seed, step):
    """Every element's keep bit is its own Philox lane against ceil(p 2^32), bit for bit."""
    n = 40003
    want, _ = ref.dropout_mask(n, p, seed, step)
    assert_bitwise_equal(mask_of(n, p, seed=seed, step=step), want, "mask")


def test_element_at_the_threshold_is_kept():
    """p = u/2^32 exactly: the element whose bits are u is kept (u >= ceil(p 2^32)) and
    one whose bits are a little lower is dropped."""
    n, seed, step = 4096, 11, 5
    _, u = ref.dropout_mask(n, 0.5, seed, step)
    order = np.argsort(u)
    i, j = int(order[n // 2]), int(order[n // 2 - 1])
    assert u[i] > u[j]
    p = int(u[i]) / 2.0 ** 32  # exact in float64
    mask = mask_of(n, p, seed=seed, step=step)
    assert mask[i] and not mask[j]
    assert_bitwise_equal(mask, u >= u[i], "mask")


def test_mask_depends_on_index_only():
    """A prefix of the array gets the prefix of the mask, whatever the chunking, and
    float32 and float64 draw the same mask."""
    full = mask_of(100003, 0.25, seed=9, step=2)
    for n in (1, 5, 16385, 50000):
        assert_bitwise_equal(mask_of(n, 0.25, seed=9, step=2), full[:n], f"prefix {n}")
    assert_bitwise_equal(mask_of(100003, 0.25, seed=9, step=2, dtype=np.float32), full,
                         "float32 mask")


@pytest.mark.parametrize("dtype", DTYPES)
def test_threads_bitwise_equal(dtype, threads):
    x = np.random.default_rng(0).standard_normal(BIG).astype(dtype)
    out = []
    for nt in (1, 2):
        threads(nt)
        y, mask = kernels.dropout_forward(x, 0.4, seed=5, step=3, return_mask=True)
        dx = kernels.dropout_backward(x, 0.4, seed=5, step=3)
        out.append((y, mask, dx))
    for a, b, name in zip(out[0], out[1], ("y", "mask", "dx")):
        assert_bitwise_equal(a, b, name)


@pytest.mark.parametrize("dtype", DTYPES)
def test_p_zero_is_identity(dtype):
    x = np.random.default_rng(1).standard_normal(1000).astype(dtype)
    y, mask = kernels.dropout_forward(x, 0.0, seed=1, step=1, return_mask=True)
    assert_bitwise_equal(y, x, "p=0 forward")
    assert mask.all()
    assert_bitwise_equal(kernels.dropout_backward(x, 0.0, seed=1, step=1), x, "p=0 backward")


@pytest.mark.parametrize("dtype", DTYPES)
def test_in_place_and_shapes(dtype):
    x = np.random.default_rng(2).standard_normal((30, 7)).astype(dtype)
    y = kernels.dropout_forward(x, 0.5, seed=8, step=1)
    assert y.shape == x.shape
    buf = x.reshape(-1).copy()
    _kernels.dropout_forward(buf, None, buf, 0.5, 8, 1)
    assert_bitwise_equal(buf, y.reshape(-1), "in place")
    _kernels.dropout_backward(buf, buf, 0.5, 8, 1)
    assert_bitwise_equal(buf, kernels.dropout_backward(y, 0.5, seed=8, step=1).reshape(-1),
                         "backward in place")


def test_bad_input():
    x = np.ones(10)
    for p in (-0.1, 1.0, 1.5, float("nan")):
        with pytest.raises(ValueError, match=r"must be in \[0, 1\)"):
            kernels.dropout_forward(x, p, seed=1, step=1)
        with pytest.raises(ValueError, match=r"must be in \[0, 1\)"):
            kernels.dropout_backward(x, p, seed=1, step=1)
    with pytest.raises(ValueError, match="seed must be in"):
        kernels.dropout_forward(x, 0.5, seed=-1, step=1)
    with pytest.raises(ValueError, match="step must be in"):
        kernels.dropout_forward(x, 0.5, seed=1, step=2 ** 64)
    with pytest.raises(TypeError, match="seed must be an integer"):
        kernels.dropout_forward(x, 0.5, seed=1.5, step=1)
    with pytest.raises(TypeError, match="float32 or float64"):
        kernels.dropout_forward(x.astype(int), 0.5, seed=1, step=1)
    with pytest.raises(TypeError, match="share one dtype"):
        _kernels.dropout_forward(np.empty(10, np.float32), None, x, 0.5, 1, 1)
    with pytest.raises(ValueError, match="mask has length 9"):
        _kernels.dropout_forward(np.empty(10), np.empty(9, np.uint8), x, 0.5, 1, 1)
    with pytest.raises(ValueError, match="dx has length 9"):
        _kernels.dropout_backward(np.empty(9), x, 0.5, 1, 1)
