"""Sample blocks dealt to worker threads (ops/blocks.py): the same numbers as one thread, and as torch.

Blocks are made tiny (one sample each) so that every op below runs many blocks on 2 workers.
"""
import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import scratchgrad as sg
from scratchgrad.ops import blocks
from scratchgrad.ops.conv import conv2d, conv_transpose2d
from scratchgrad.ops.pooling import max_pool2d

from conftest import assert_close, to_torch


@pytest.fixture
def one_sample_blocks(monkeypatch):
    monkeypatch.setattr(blocks, "BLOCK_BYTES", 1)


def test_deal_runs_every_block_once_and_keeps_worker_state():
    assert blocks.sample_blocks(10, 1, workers=1) == [slice(0, 10)]     # all samples fit one block
    assert blocks.sample_blocks(10, 1, workers=2) == [slice(0, 5), slice(5, 10)]    # one per worker
    assert blocks.sample_blocks(3, 1 << 30) == [slice(0, 1), slice(1, 2), slice(2, 3)]
    # 15 blocks of 7 would give the workers 56 and 44 samples: 16 blocks, the larger ones first
    sizes = [b.stop - b.start for b in blocks.sample_blocks(100, blocks.BLOCK_BYTES // 7, workers=2)]
    assert sizes == [7] * 4 + [6] * 12 and sum(sizes[0::2]) == sum(sizes[1::2]) == 50
    blks = [slice(i, i + 1) for i in range(7)]
    with threadpool_limits(2, user_api="blas"):
        assert blocks.num_workers() == 2
        states = blocks.deal(blks, lambda blk, acc: acc + [blk.start], setup=list)
    assert len(states) == 2 and sorted(sum(states, [])) == list(range(7))
    assert states[0] == [0, 2, 4, 6]                    # round-robin, in order


def test_workers_use_one_blas_thread_and_restore_the_limit():
    seen = []
    with threadpool_limits(2, user_api="blas"):
        blocks.deal([slice(0, 1), slice(1, 2)], lambda blk, _: seen.append(blocks.num_workers()))
        assert blocks.num_workers() == 2
    assert seen == [1, 1]


def test_an_error_in_a_worker_reaches_the_caller():
    def work(blk, _):
        if blk.start == 1:
            raise ValueError("block 1")
    with threadpool_limits(2, user_api="blas"), pytest.raises(ValueError, match="block 1"):
        blocks.deal([slice(0, 1), slice(1, 2)], work)


@pytest.mark.parametrize("stride,padding,groups", [(1, 1, 1), (2, 1, 1), (1, 0, 2), (2, 2, 1)])
def test_conv_on_two_workers_matches_one_and_torch(torch, one_sample_blocks, stride, padding, groups):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 4, 9, 8)).astype(np.float32)
    w = rng.standard_normal((6, 4 // groups, 3, 3)).astype(np.float32)
    gy = None
    results = []
    for threads in (1, 2):
        with threadpool_limits(threads, user_api="blas"):
            xs, ws = sg.tensor(x, requires_grad=True), sg.tensor(w, requires_grad=True)
            y = conv2d(xs, ws, stride=stride, padding=padding, groups=groups)
            gy = rng.standard_normal(y.shape).astype(np.float32) if gy is None else gy
            y.backward(sg.tensor(gy))
            yt = conv_transpose2d(sg.tensor(gy), ws.detach(), stride=stride, padding=padding, groups=groups,
                                  output_padding=0)
            results.append((y.numpy(), xs.grad.numpy(), ws.grad.numpy(), yt.numpy()))
    for a, b in zip(*results):
        assert_close(a, b, atol=1e-5)
    xt, wt = to_torch(torch, x, True), to_torch(torch, w, True)
    y_t = torch.nn.functional.conv2d(xt, wt, stride=stride, padding=padding, groups=groups)
    y_t.backward(torch.tensor(gy))
    for ours, theirs in zip(results[1][:3], (y_t, xt.grad, wt.grad)):
        assert_close(ours, theirs.detach().numpy(), atol=1e-4)


@pytest.mark.parametrize("kernel,stride,padding", [(2, 2, 0), (3, 2, 1), (3, 1, 1)])
@pytest.mark.parametrize("layouts", ["NCHW", "NHWC x, NCHW gy"])
def test_max_pool_on_two_workers_matches_torch_with_ties(torch, one_sample_blocks, kernel, stride, padding, layouts):
    """Also with x channels-last (a conv's output) and gy NCHW (from a Linear after a flatten)."""
    rng = np.random.default_rng(1)
    x = np.maximum(rng.standard_normal((6, 3, 8, 8)), 0).astype(np.float32)   # ReLU zeros: many ties
    gy = None
    with threadpool_limits(2, user_api="blas"):
        x_in = x if layouts == "NCHW" else np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
        xs = sg.Tensor(x_in, requires_grad=True)
        y = max_pool2d(xs, kernel, stride, padding)
        gy = rng.standard_normal(y.shape).astype(np.float32)
        y.backward(sg.tensor(gy))
    xt = to_torch(torch, x, True)
    y_t = torch.nn.functional.max_pool2d(xt, kernel, stride, padding)
    y_t.backward(torch.tensor(gy))
    assert_close(y.numpy(), y_t.detach().numpy())
    assert_close(xs.grad.numpy(), xt.grad.numpy())


def test_an_empty_batch_has_no_blocks_and_still_works():
    with threadpool_limits(2, user_api="blas"):
        assert blocks.deal([], lambda blk, acc: acc + 1, setup=lambda: 0) == [0]
        assert conv2d(sg.zeros(0, 3, 8, 8), sg.randn(4, 3, 3, 3), padding=1).shape == (0, 4, 8, 8)
        assert max_pool2d(sg.zeros(0, 3, 8, 8), 2).shape == (0, 3, 4, 4)
