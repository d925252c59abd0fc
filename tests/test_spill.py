"""Spill files and the seeded block shuffle of the bigger-than-memory path."""
import os

import numpy as np
import pytest

from neuralcli.spill import BlockOrder, SpillArrays, default_limit, parse_size

from helpers import run_python


def test_parse_size():
    assert parse_size("256M") == 256 * 2**20
    assert parse_size("8G") == 8 * 2**30
    assert parse_size("1.5g") == 3 * 2**29
    assert parse_size("512k") == 512 * 1024
    assert parse_size("64MiB") == 64 * 2**20
    assert parse_size("1000") == 1000
    for bad in ("", "M", "-5M", "0", "12X", "1e9", "ten"):
        with pytest.raises(ValueError):
            parse_size(bad)
    assert default_limit() > 0


def test_spill_round_trip_and_removal():
    spec = {"x": (np.float32, (3,)), "codes": (np.int32, (2,)), "y": (np.float64, ())}
    rng = np.random.default_rng(1)
    with SpillArrays(spec) as s:
        where = s.dir
        xs, cs, ys = [], [], []
        for n in (5, 0, 17, 1):
            x = rng.normal(size=(n, 3)).astype(np.float32)
            c = rng.integers(-1, 9, size=(n, 2)).astype(np.int32)
            y = rng.normal(size=n)
            s.append(x=x, codes=c, y=y)
            xs.append(x), cs.append(c), ys.append(y)
        s.flush()
        x, c, y = np.concatenate(xs), np.concatenate(cs), np.concatenate(ys)
        assert s.n_rows == 23 and s.row_bytes() == 3 * 4 + 2 * 4 + 8
        np.testing.assert_array_equal(s.read("x", 0, 23), x)
        np.testing.assert_array_equal(s.read("codes", 4, 9), c[4:9])
        np.testing.assert_array_equal(s.read("y", 20, 99), y[20:])
        assert s.read("x", 30, 40).shape == (0, 3)
        with pytest.raises(ValueError):
            s.append(x=x[:2], codes=c[:3], y=y[:2])
        with pytest.raises(ValueError):
            s.append(x=x[:2, :2], codes=c[:2], y=y[:2])
        assert os.path.isdir(where)
    assert not os.path.exists(where) and s.closed


def test_spill_removed_on_error_and_at_exit(tmp_path):
    with pytest.raises(RuntimeError):
        with SpillArrays({"a": (np.float64, ())}) as s:
            where = s.dir
            raise RuntimeError("boom")
    assert not os.path.exists(where)
    # a process that never closes its spill file still removes it when it exits
    code = ("import sys; import numpy as np; from neuralcli.spill import SpillArrays\n"
            f"s = SpillArrays({{'a': (np.float64, ())}}, directory={str(tmp_path)!r})\n"
            "s.append(a=np.ones(10)); print(s.dir)\n")
    out = run_python(code, check=True)
    assert out.stdout.strip().startswith(str(tmp_path))
    assert not os.path.exists(out.stdout.strip())


@pytest.mark.parametrize("n,block,window", [(1, 1, 1), (10, 3, 2), (1000, 64, 4),
                                            (1001, 64, 100)])
def test_block_order_visits_every_row_once(n, block, window):
    order = BlockOrder(n, block, window)
    for epoch_seed in range(3):
        rng = np.random.default_rng(epoch_seed)
        seen = []
        for ranges, perm in order.epoch(rng):
            rows = np.concatenate([np.arange(lo, hi) for lo, hi in ranges])
            assert len(ranges) <= window and sorted(perm.tolist()) == list(range(len(rows)))
            seen.append(rows[perm])
        seen = np.concatenate(seen)
        assert sorted(seen.tolist()) == list(range(n))
    plain = np.concatenate([np.concatenate([np.arange(lo, hi) for lo, hi in r])
                            for r, p in order.epoch(np.random.default_rng(0), shuffle=False)])
    np.testing.assert_array_equal(plain, np.arange(n))


def test_block_order_is_seeded_and_mixes():
    order = BlockOrder(4096, 64, 8)

    def rows(seed):
        rng = np.random.default_rng(seed)
        return np.concatenate([np.concatenate([np.arange(lo, hi) for lo, hi in r])[p]
                               for r, p in order.epoch(rng)])

    a, b, c = rows(7), rows(7), rows(8)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    # rows from different blocks are interleaved within a window, not left in runs
    first = a[:64] // 64
    assert len(set(first.tolist())) > 4
