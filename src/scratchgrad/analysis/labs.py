"""CNN analysis labs: the notes' conv arithmetic, bottleneck/group/depthwise costs, time per layer.

    from scratchgrad.labs import run_lab
    run_lab("conv-arithmetic", out="runs/lab-conv-arithmetic")   # results.json + figure
    run_lab("bottleneck", quick=True)
    run_lab("layer-time")

Each lab has `CLAIM` and `run(out, quick=False, seed=0) -> dict` (numbers, `figures`, named `checks`),
the conventions of `scratchgrad.labs`.
"""
from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

import scratchgrad as sg

from ..labs._common import figure, save_figure
from .receptive_field import _num, receptive_field
from .summary import conv_macs, conv_output_size, conv_params, is_conv, summary


# ---- conv-arithmetic ----------------------------------------------------------------------------
CONV_ARITHMETIC_CLAIM = (
    "the notes' formulas are exact: output size l_o = floor((l_i + 2p - k) / s) + 1 (with dilation "
    "k -> d(k-1)+1), parameters c_i * c_o * k_w * k_h (/ groups, + biases), computation = parameters x "
    "number of window positions, and receptive field R_i = R_{i-1} + (k_i - 1) * prod(s_j) match actual "
    "conv outputs, counted parameters, the im2col GEMM size and the input region reached by a unit's gradient")


def _check_output_sizes(rng, quick: bool) -> dict:
    """Actual F.conv2d / max_pool2d / avg_pool2d output sizes vs the formula over a grid of settings."""
    F = sg.nn.functional
    sizes = (7, 28) if quick else (5, 7, 8, 13, 28, 32)
    cases = mismatches = 0
    for H in sizes:
        for k in (1, 2, 3, 5):
            for s in (1, 2, 3):
                for p in (0, 1, 2):
                    for d in (1, 2):
                        if d * (k - 1) + 1 > H + 2 * p:
                            continue
                        W = H + 3
                        want = (conv_output_size(H, k, s, p, d), conv_output_size(W, k, s, p, d))
                        x = sg.zeros(1, 1, H, W)
                        got = [F.conv2d(x, sg.zeros(1, 1, k, k), stride=s, padding=p, dilation=d).shape[2:]]
                        if 2 * p <= k:  # pooling pads at most half a window
                            got.append(F.max_pool2d(x, k, s, p, d).shape[2:])
                            if d == 1:
                                got.append(F.avg_pool2d(x, k, s, p).shape[2:])
                        cases += len(got)
                        mismatches += sum(tuple(g) != want for g in got)
    return {"cases": cases, "mismatches": mismatches}


def _check_params_and_macs(rng, quick: bool) -> dict:
    """Counted parameters of nn.Conv2d and the MACs of the im2col GEMM vs the formulas (and summary)."""
    from ..ops.im2col import im2col
    n = 40 if quick else 300
    param_bad = mac_bad = notes_exact = notes_cases = 0
    for _ in range(n):
        g = int(rng.choice([1, 2, 4]))
        c_in, c_out = g * int(rng.integers(1, 5)), g * int(rng.integers(1, 5))
        k, s, d = int(rng.choice([1, 3, 5])), int(rng.integers(1, 4)), int(rng.choice([1, 1, 2]))
        p, H, bias = int(rng.integers(0, k)), int(rng.integers(d * (k - 1) + 1, 20)), bool(rng.integers(2))
        conv = sg.nn.Conv2d(c_in, c_out, k, s, p, d, groups=g, bias=bias)
        param_bad += sum(q.numel() for q in conv.parameters()) != conv_params(c_in, c_out, k, g, bias)
        cols = im2col(np.zeros((1, c_in, H, H), np.float32), k, k, s, p, d)   # (OH*OW, C_in*K*K)
        gemm = cols.shape[0] * (cols.shape[1] // g) * c_out                   # each group: (C_in/g)*K*K
        out = conv_output_size(H, k, s, p, d)
        formula = conv_macs(c_in, c_out, (out, out), k, g)
        mac_bad += not (gemm == formula == summary(conv, (c_in, H, H)).total_macs)
        if d == 1 and p * 2 == k - 1 and H % s == 0:  # 'same' padding and s | l_i: l_o = l_i / s exactly
            notes_cases += 1
            notes_exact += c_in // g * c_out * H * H * k * k // (s * s) == formula
    return {"cases": n, "param_mismatches": param_bad, "mac_mismatches": mac_bad,
            "notes_formula_cases": notes_cases, "notes_formula_exact": notes_exact}


def _random_stack(rng) -> list:
    """1-4 layers ("conv"|"pool", k, s, p, d); pooling is AvgPool2d (see `_stack_net`)."""
    layers = []
    for _ in range(int(rng.integers(1, 5))):
        if rng.random() < 0.7:
            k = int(rng.choice([1, 2, 3, 5, 7]))
            layers.append(("conv", k, int(rng.integers(1, 4)), int(rng.integers(0, k // 2 + 1)),
                           int(rng.choice([1, 1, 2, 3]))))
        else:
            k = int(rng.choice([2, 3]))
            layers.append(("pool", k, int(rng.integers(1, 3)), int(rng.integers(0, k // 2 + 1)), 1))
    return layers


def _stack_net(layers):
    """All-ones convolutions (no bias) and average pools: every path adds a positive amount, so a
    unit's gradient is non-zero on exactly its receptive field. (A max pool's gradient reaches only
    its arg-max, while its receptive field is its whole window: the brute force uses average pools.)"""
    mods = []
    for kind, k, s, p, d in layers:
        if kind == "conv":
            conv = sg.nn.Conv2d(1, 1, k, s, p, d, bias=False)
            conv.weight.data[...] = 1.0
            mods.append(conv)
        else:
            mods.append(sg.nn.AvgPool2d(k, s, p))
    return sg.nn.Sequential(*mods)


def _footprint(net, H: int, units) -> list:
    """(first row, last row) of the input reached by the gradient of output units (u, centre column)."""
    x = sg.ones(1, 1, H, H, requires_grad=True)
    y = net(x)
    spans = []
    for u in units:
        (gx,) = sg.autograd.grad(y[0, 0, u, y.shape[3] // 2], [x], retain_graph=True)
        rows = np.flatnonzero(np.abs(gx.data[0, 0]).sum(axis=1))
        spans.append((int(rows[0]), int(rows[-1])))
    return spans


def _check_receptive_fields(rng, quick: bool) -> dict:
    """Formula (summary's rf/jump/start, and `receptive_field`) vs the gradient footprint of two units."""
    rows, bad = [], 0
    for _ in range(30 if quick else 200):
        layers = _random_stack(rng)
        net = _stack_net(layers)
        rf = receptive_field([layer[1:] for layer in layers])[-1]
        H = int(2 * rf.size + 4 * rf.jump + 8)
        while True:  # an input large enough for two whole fields around the middle
            out = H
            for _, k, s, p, d in layers:
                out = conv_output_size(out, k, s, p, d)
            n = (out - 1) // 2
            if out >= 3 and rf.start + n * rf.jump - rf.size / 2 >= 0 \
                    and rf.start + (n + 1) * rf.jump + rf.size / 2 <= H:
                break
            H += int(rf.size) + 4
        last = summary(net, (1, H, H)).layers[-1]
        (lo0, hi0), (lo1, hi1) = _footprint(net, H, (n, n + 1))
        size, centre0, centre1 = hi0 - lo0 + 1, (lo0 + hi0 + 1) / 2, (lo1 + hi1 + 1) / 2
        measured = (size, centre1 - centre0, centre0 - n * (centre1 - centre0))
        formula = (last.rf, last.jump, last.start)
        ok = np.allclose(measured, formula) and np.allclose(formula, (rf.size, rf.jump, rf.start))
        bad += not ok
        rows.append({"layers": layers, "input": H, "formula": formula, "measured": measured, "ok": bool(ok)})
    return {"cases": len(rows), "mismatches": bad, "stacks": rows}


def _plot_conv_arithmetic(out, rf_rows) -> str:
    from matplotlib.patches import Rectangle
    fig, axes = figure(1, 2, size=(4.6, 4.0))
    ax = axes[0, 0]
    f = np.array([r["formula"] for r in rf_rows], dtype=float)
    m = np.array([r["measured"] for r in rf_rows], dtype=float)
    ax.plot(f[:, 0], m[:, 0], "o", ms=4, label="size r")
    ax.plot(f[:, 1], m[:, 1], "s", ms=4, label="jump j")
    top = max(f.max(), m.max()) * 1.05
    ax.plot([0, top], [0, top], "k--", lw=0.8)
    ax.set_xscale("symlog")
    ax.set_yscale("symlog")
    ax.set_xlabel("formula: r += (k-1) d j,  j *= s")
    ax.set_ylabel("brute force (gradient footprint)")
    ax.set_title(f"receptive fields of {len(rf_rows)} random stacks", fontsize=9)
    ax.legend(fontsize=8)
    # one example: the gradient of a unit over the input, with the formula's field drawn on it
    layers = [("conv", 3, 1, 1, 1), ("conv", 3, 2, 1, 1), ("pool", 2, 2, 0, 1), ("conv", 3, 1, 2, 2)]
    H = 40
    x = sg.ones(1, 1, H, H, requires_grad=True)
    y = _stack_net(layers)(x)
    n = (y.shape[2] - 1) // 2
    y[0, 0, n, n].backward()
    rf = receptive_field([layer[1:] for layer in layers])[-1]
    lo = rf.start + n * rf.jump - rf.size / 2 - 0.5  # pixel i is drawn from i - 0.5 to i + 0.5
    ax = axes[0, 1]
    ax.imshow(x.grad.data[0, 0], cmap="magma")
    ax.add_patch(Rectangle((lo, lo), rf.size, rf.size, fill=False, ec="c", lw=1.2, ls="--"))
    ax.set_title(f"d unit ({n},{n}) / d input; dashed: formula r={_num(rf.size)}, centre "
                 f"{_num(rf.start)} + {n} x {_num(rf.jump)}\n"
                 + " > ".join(f"{kind}{k} s{s} p{p}" + (f" d{d}" if d > 1 else "") for kind, k, s, p, d in layers),
                 fontsize=8)
    return save_figure(fig, out, "conv_arithmetic.png")


def conv_arithmetic(out, quick: bool = False, seed: int = 0) -> dict:
    Path(out).mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    sizes = _check_output_sizes(rng, quick)
    costs = _check_params_and_macs(rng, quick)
    rfs = _check_receptive_fields(rng, quick)
    # the notes on VGG: small kernels stacked see as far with fewer parameters
    vgg = receptive_field([(3, 1, 1)] * 3)[-1].size, conv_params(64, 64, 3, bias=False) * 3, \
        conv_params(64, 64, 7, bias=False)
    return {
        "output_size": sizes, "params_and_macs": costs,
        "receptive_field": {k: v for k, v in rfs.items() if k != "stacks"},
        "receptive_field_examples": rfs["stacks"][:10],
        "three_3x3_convs": {"receptive_field": vgg[0], "params_64ch": vgg[1], "one_7x7_params_64ch": vgg[2]},
        "figures": [_plot_conv_arithmetic(out, rfs["stacks"])],
        "checks": {
            f"output size: formula = actual shape in all {sizes['cases']} conv/pool settings": sizes["mismatches"] == 0,
            f"parameters: c_in/g * c_out * k_h * k_w + c_out = counted, {costs['cases']} random convs":
                costs["param_mismatches"] == 0,
            "MACs: formula = im2col GEMM size = summary": costs["mac_mismatches"] == 0,
            "the notes' c_i c_o l_i^2 k^2 / s^2 is exact with 'same' padding and s | l_i":
                costs["notes_formula_cases"] > 0 and costs["notes_formula_exact"] == costs["notes_formula_cases"],
            f"receptive field size, jump and start: formula = gradient footprint, {rfs['cases']} random stacks":
                rfs["mismatches"] == 0,
            "three 3x3 convs see 7x7 with 27/49 of one 7x7 conv's parameters": vgg[0] == 7 and vgg[1] * 49 == vgg[2] * 27,
        },
    }


# ---- bottleneck ---------------------------------------------------------------------------------
BOTTLENECK_CLAIM = (
    "the notes: a bottleneck (1x1 conv shrinks the channels, 3x3, 1x1 restores them) cuts the computation; "
    "a grouped conv with g groups has 1/g of the parameters and FLOPs (notes 002; notes 000 say the parameter "
    "count stays the same: it does not); a depthwise separable conv costs 1/C_out + 1/k^2 of a standard conv. "
    "Measured with summary, with forward times")


def _cost(net, shape, batch: int, repeats: int) -> dict:
    """Parameters and MACs per image (summary) and the fastest of `repeats` forward passes of a batch
    (no graph; the minimum is the least disturbed by other processes)."""
    s = summary(net, shape)
    # channels-last memory, as every activation inside a network (the layout conv2d writes)
    x = sg.Tensor(np.random.default_rng(0).standard_normal((batch, *shape[1:], shape[0]), dtype=np.float32)
                  .transpose(0, 3, 1, 2))
    times = []
    with sg.no_grad():
        for i in range(repeats + 1):
            t0 = time.perf_counter()
            net(x)
            if i:  # the first call warms up
                times.append(time.perf_counter() - t0)
    return {"params": s.total_params, "macs": s.total_macs, "forward_ms": 1e3 * min(times)}


def _conv(c_in, c_out, k, groups=1):
    return sg.nn.Conv2d(c_in, c_out, k, padding=k // 2, groups=groups, bias=False)


def bottleneck(out, quick: bool = False, seed: int = 0) -> dict:
    Path(out).mkdir(parents=True, exist_ok=True)
    C, mid = 256, 64                       # ResNet-50's first stage: 256-d, bottleneck width 64
    hw, batch, repeats = (8, 2, 3) if quick else (28, 8, 5)
    shape = (C, hw, hw)
    plain = _cost(_conv(C, C, 3), shape, batch, repeats)
    neck = _cost(sg.nn.Sequential(_conv(C, mid, 1), _conv(mid, mid, 3), _conv(mid, C, 1)), shape, batch, repeats)
    groups = {g: _cost(_conv(C, C, 3, g), shape, batch, repeats) for g in (1, 2, 4, 8, 16, 32, 64, C)}
    separable = {}
    for c_out, k in ((C, 3), (C, 5), (16, 3), (64, 3)) + (() if quick else ((C, 7),)):
        std = _cost(_conv(C, c_out, k), shape, batch, repeats)
        sep = _cost(sg.nn.Sequential(_conv(C, C, k, groups=C), _conv(C, c_out, 1)), shape, batch, repeats)
        separable[f"c_out={c_out}, k={k}"] = {
            "standard": std, "separable": sep, "macs_ratio": sep["macs"] / std["macs"],
            "params_ratio": sep["params"] / std["params"], "formula_1/c_out+1/k^2": 1 / c_out + 1 / k ** 2,
            "time_ratio": sep["forward_ms"] / std["forward_ms"]}
    neck_formula = (C * mid + 9 * mid * mid + mid * C) / (9 * C * C)
    g1 = groups[1]
    fig, axes = figure(1, 2, size=(4.8, 3.8))
    ax = axes[0, 0]
    gs = np.array(list(groups))
    ax.loglog(gs, [groups[g]["params"] / g1["params"] for g in gs], "o", label="parameters (summary)")
    ax.loglog(gs, [groups[g]["macs"] / g1["macs"] for g in gs], "x", ms=8, label="MACs (summary)")
    ax.loglog(gs, 1 / gs, "k--", lw=0.8, label="1/g")
    ax.loglog(gs, [groups[g]["forward_ms"] / g1["forward_ms"] for g in gs], "s-", label="forward time")
    ax.set_xlabel("groups g (3x3 conv, 256 -> 256 channels)")
    ax.set_ylabel("relative to g = 1")
    ax.set_title("grouped convolution", fontsize=9)
    ax.legend(fontsize=7)
    ax = axes[0, 1]
    names = ["3x3 conv", "bottleneck\n1x1-3x3-1x1", "depthwise\nseparable 3x3"]
    sep3 = separable[f"c_out={C}, k=3"]["separable"]
    rows = [plain, neck, sep3]
    xs = np.arange(3)
    for off, key, label in ((-0.27, "params", "parameters"), (0, "macs", "MACs"), (0.27, "forward_ms", "time")):
        ax.bar(xs + off, [r[key] / plain[key] for r in rows], 0.27, label=label)
    ax.set_xticks(xs)
    ax.set_xticklabels(names, fontsize=8)
    ax.set_ylabel("relative to the 3x3 conv (256 -> 256)")
    ax.set_title(f"cost per {hw}x{hw} map, forward of batch {batch}", fontsize=9)
    ax.legend(fontsize=7)
    fig_name = save_figure(fig, out, "bottleneck.png")
    exact = lambda a, b: abs(a - b) < 1e-12
    return {
        "channels": C, "bottleneck_width": mid, "spatial": hw, "batch": batch,
        "plain_3x3": plain, "bottleneck": neck,
        "bottleneck_ratio": {"params": neck["params"] / plain["params"], "macs": neck["macs"] / plain["macs"],
                             "formula": neck_formula, "time": neck["forward_ms"] / plain["forward_ms"]},
        "grouped": {str(g): {**v, "params_ratio": v["params"] / g1["params"], "macs_ratio": v["macs"] / g1["macs"],
                             "time_ratio": v["forward_ms"] / g1["forward_ms"]} for g, v in groups.items()},
        "depthwise_separable": separable,
        "figures": [fig_name],
        "checks": {
            "bottleneck: params and MACs are (C m + 9 m^2 + m C) / (9 C^2) = 11.8% of the 3x3 conv":
                exact(neck["params"] / plain["params"], neck_formula) and exact(neck["macs"] / plain["macs"],
                                                                                 neck_formula),
            "grouped conv: parameters AND MACs are exactly 1/g for every g":
                all(exact(groups[g]["params"] * g, g1["params"]) and exact(groups[g]["macs"] * g, g1["macs"])
                    for g in groups),
            "depthwise separable: params and MACs ratio = 1/C_out + 1/k^2 exactly":
                all(exact(v["macs_ratio"], v["formula_1/c_out+1/k^2"])
                    and exact(v["params_ratio"], v["formula_1/c_out+1/k^2"]) for v in separable.values()),
            "measured: the bottleneck's forward is faster than the 3x3 conv's": neck["forward_ms"] < plain["forward_ms"],
        },
    }


# ---- layer-time ---------------------------------------------------------------------------------
LAYER_TIME_CLAIM = (
    "the book (ch. 8, which layers take the time): the convolution layers take most of a CNN's time "
    "(95% of AlexNet's GPU time); measured per layer for the book's DeepConvNet and SimpleConvNet, one "
    "training step (forward + backward) on MNIST-sized inputs")


def _conv_share(times: dict) -> dict:
    layers = times["layers"]
    total = sum(layer["forward_s"] + layer["backward_s"] for layer in layers) + times["other_s"]
    conv = sum(layer["forward_s"] + layer["backward_s"] for layer in layers if layer["is_conv"])
    top = max(layers, key=lambda layer: layer["forward_s"] + layer["backward_s"])
    return {"conv_share": conv / total, "step_ms": 1e3 * total, "slowest_layer": f"{top['name']} ({top['type']})"}


def layer_time(out, quick: bool = False, seed: int = 0) -> dict:
    Path(out).mkdir(parents=True, exist_ok=True)
    from ..models import get_model
    from .figures import layer_times, plot_layer_times
    batch, repeats = (16, 2) if quick else (100, 5)
    rng = np.random.default_rng(seed)
    x = sg.tensor(rng.random((batch, 1, 28, 28), dtype=np.float32))
    y = sg.tensor(rng.integers(0, 10, batch))
    results, figures = {}, []
    for key, name in (("deep_convnet", "deep-convnet"), ("simple_convnet", "simple-convnet")):
        net = get_model(name)
        s = summary(net, (1, 28, 28))
        times = layer_times(net, x, y, repeats=repeats)
        convs = {n for n, m in net.named_modules() if is_conv(m)}
        for layer in times["layers"]:
            layer["is_conv"] = layer["name"] in convs
        conv_macs_share = sum(layer.macs for layer in s.layers if layer.name in convs) / s.total_macs
        path = plot_layer_times(times, Path(out) / f"layer_time_{key}.png",
                                title=f"{name}, batch {batch}: one training step per layer")
        figures.append(path.name)
        results[key] = {"model": name, **_conv_share(times), "conv_macs_share": conv_macs_share,
                        "macs_per_image": s.total_macs, "layers": times["layers"], "other_s": times["other_s"]}
    deep = results["deep_convnet"]
    return {
        "batch": batch, "repeats": repeats, "input": "uniform random 1x28x28 (time does not depend on values)",
        **results, "figures": figures,
        "checks": {
            "DeepConvNet: convolutions take most (> 50%) of a training step": deep["conv_share"] > 0.5,
            "DeepConvNet: the slowest layer is a convolution": "Conv" in deep["slowest_layer"],
        },
    }


LABS = {
    "conv-arithmetic": SimpleNamespace(CLAIM=CONV_ARITHMETIC_CLAIM, run=conv_arithmetic),
    "bottleneck": SimpleNamespace(CLAIM=BOTTLENECK_CLAIM, run=bottleneck),
    "layer-time": SimpleNamespace(CLAIM=LAYER_TIME_CLAIM, run=layer_time),
}
