"""sg.summary: shapes (torch as the oracle), parameters, MACs and receptive fields (against a plain
reference and a brute-force gradient footprint), the published totals of the zoo, and the CLI."""
import json

import numpy as np
import pytest

import scratchgrad as sg
from scratchgrad import nn
from scratchgrad.analysis import INPUT, conv_step, receptive_field, transposed_step
from scratchgrad.cli import main


# ---- a plain reference: the formulas written out, layer by layer ---------------------------------
def reference(layers, hw):
    """[(out (C, H), macs, rf, jump, start)] of a chain of ("conv", c_in, c_out, k, s, p, d, g) and
    ("pool", k, s, p) layers on a square input of size hw (notes: l_o = (l + 2p - d(k-1) - 1) // s + 1)."""
    out, r, j, start = [], 1, 1, 0.5
    for layer in layers:
        if layer[0] == "conv":
            _, c_in, c_out, k, s, p, d, g = layer
        else:
            (_, k, s, p), d, c_out, c_in, g = layer, 1, None, None, None
        hw = (hw + 2 * p - d * (k - 1) - 1) // s + 1
        macs = c_out * hw * hw * c_in // g * k * k if c_out else 0
        r, start, j = r + (k - 1) * d * j, start + ((k - 1) / 2 * d - p) * j, j * s
        out.append((hw, macs, r, j, start))
    return out


def build(layers, c0):
    mods = []
    for layer in layers:
        if layer[0] == "conv":
            _, c_in, c_out, k, s, p, d, g = layer
            mods.append(nn.Conv2d(c_in, c_out, k, s, p, d, groups=g))
        else:
            mods.append(nn.AvgPool2d(*layer[1:]))
    return nn.Sequential(*mods)


CHAINS = [
    [("conv", 3, 8, 3, 1, 1, 1, 1), ("pool", 2, 2, 0), ("conv", 8, 16, 3, 2, 1, 2, 2), ("conv", 16, 16, 1, 1, 0, 1, 1)],
    [("conv", 1, 4, 5, 2, 2, 1, 1), ("conv", 4, 4, 3, 1, 2, 2, 4), ("pool", 3, 2, 1), ("conv", 4, 6, 2, 1, 0, 1, 2)],
    [("conv", 2, 2, 7, 3, 3, 1, 1), ("conv", 2, 4, 3, 1, 0, 3, 2)],
]


@pytest.mark.parametrize("chain", CHAINS)
def test_chain_matches_reference(chain):
    s = sg.summary(build(chain, chain[0][1]), (chain[0][1], 40, 40))
    ref = reference(chain, 40)
    assert [layer.output_shape[2] for layer in s.layers] == [r[0] for r in ref]
    assert [layer.macs for layer in s.layers] == [r[1] for r in ref]
    assert [(layer.rf, layer.jump, layer.start) for layer in s.layers] == [r[2:] for r in ref]
    assert s.total_macs == sum(r[1] for r in ref) and s.total_flops == 2 * s.total_macs


def footprint(net, H, unit):
    """Brute force: the rows of the input reached by the gradient of output unit (unit, centre)."""
    x = sg.ones(1, 1, H, H, requires_grad=True)
    y = net(x)
    y[0, 0, unit, y.shape[3] // 2].backward()
    rows = np.flatnonzero(np.abs(x.grad.data[0, 0]).sum(axis=1))
    return rows[0], rows[-1]


@pytest.mark.parametrize("chain", CHAINS)
def test_receptive_field_is_the_gradient_footprint(chain):
    layers = [("conv", 1, 1) + c[3:7] + (1,) if c[0] == "conv" else c for c in chain]
    net = build(layers, 1)
    for m in net:
        if isinstance(m, nn.Conv2d):  # positive weights: no path cancels, every reached pixel shows
            m.weight.data[...] = 1.0
            m.bias.data[...] = 0.0
    last = sg.summary(net, (1, 96, 96)).layers[-1]
    n = net(sg.zeros(1, 1, 96, 96)).shape[2] // 2
    (lo0, hi0), (lo1, hi1) = footprint(net, 96, n), footprint(net, 96, n + 1)
    assert hi0 - lo0 + 1 == last.rf
    assert (lo1 + hi1 + 1) / 2 - (lo0 + hi0 + 1) / 2 == last.jump
    assert (lo0 + hi0 + 1) / 2 == last.start + n * last.jump


def test_receptive_field_functions():
    assert [r.size for r in receptive_field([(3,)] * 3)] == [3, 5, 7]   # VGG: three 3x3 = one 7x7
    rf = conv_step(conv_step(INPUT, 7, 2, 3), 3, 2, 1)                   # ResNet's stem
    assert (rf.size, rf.jump, rf.start) == (11, 4, 0.5)
    # a transposed conv undoes a conv's jump: k=4, s=2, p=1 (the DCGAN upsampler)
    up = transposed_step(conv_step(INPUT, 4, 2, 1), 4, 2, 1)
    assert up.jump == 1 and up.start == 0.5


def test_parameters_shapes_and_macs_against_torch(torch):
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(8, 8, 3, groups=8, bias=False), nn.ConvTranspose2d(8, 4, 4, 2, 1),
                        nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(16, 5))
    tnet = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
                               torch.nn.MaxPool2d(2), torch.nn.Conv2d(8, 8, 3, groups=8, bias=False),
                               torch.nn.ConvTranspose2d(8, 4, 4, 2, 1), torch.nn.AdaptiveAvgPool2d(2),
                               torch.nn.Flatten(), torch.nn.Linear(16, 5))
    shapes = []
    for m in tnet:
        m.register_forward_hook(lambda m, i, o: shapes.append(tuple(o.shape)))
    tnet(torch.zeros(2, 3, 20, 20))
    s = sg.summary(net, (3, 20, 20), batch_size=2)
    assert [layer.output_shape for layer in s.layers] == shapes
    assert [layer.params for layer in s.layers] == [sum(p.numel() for p in m.parameters()) for m in tnet]
    assert s.total_params == sum(p.numel() for p in tnet.parameters()) == s.trainable_params
    # MACs of batch 2: conv 8*20*20*3*9, depthwise 8*8*8*1*9, transposed in.size * (C_out/g)*k*k, linear 16*5
    macs = [layer.macs for layer in s.layers]
    assert macs == [2 * 8 * 400 * 27, 0, 0, 0, 2 * 8 * 64 * 9, 2 * 8 * 64 * 4 * 16, 0, 0, 2 * 16 * 5]
    assert [layer.rf for layer in s.layers][:5] == [3, 3, 3, 4, 8]


class Block(nn.Module):
    """A ResNet basic block with a strided 1x1 projection shortcut, and an SE-style global gate."""

    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.down = nn.Conv2d(c_in, c_out, 1, stride, bias=False)
        self.gate = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c_out, c_out), nn.Sigmoid())

    def forward(self, x):
        out = self.conv2(self.relu(self.conv1(x)))
        out = out * self.gate(out).reshape(out.shape[0], -1, 1, 1)
        return self.relu(out + self.down(x))


def test_branches_take_the_main_path():
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), Block(4, 8, 2), nn.Conv2d(8, 8, 3, padding=1))
    s = sg.summary(net, (3, 32, 32))
    rows = {layer.name: layer for layer in s.layers if not layer.name.startswith("1.gate")}
    # stem r=3 j=1; conv1 3x3 s2: 5, j 2; conv2: 9; shortcut 1x1 s2 from the block input: r 3, j 2
    assert [(rows[n].rf, rows[n].jump) for n in ("0", "1.conv1", "1.conv2", "1.down")] == \
        [(3, 1), (5, 2), (9, 2), (3, 2)]
    # the add takes the larger field (the main path), the gate (global, via Linear) is ignored
    relu_rows = [layer for layer in s.layers if layer.name == "1.relu"]
    assert len(relu_rows) == 2 and relu_rows[1].rf == 9
    assert s.layers[-1].rf == 9 + 2 * 2 and s.layers[-1].jump == 2


def test_functional_resizes_between_layers_are_seen():
    class Functional(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b, self.c = nn.Conv2d(1, 2, 3, padding=1), nn.Conv2d(2, 2, 3, padding=1), nn.Conv2d(2, 2, 1)

        def forward(self, x):
            h = self.b(nn.functional.max_pool2d(self.a(x), 2))   # pooled in forward(), not by a module
            return self.c(nn.functional.interpolate(h, scale_factor=2, mode="nearest"))

    s = sg.summary(Functional(), (1, 16, 16))
    # a: r 3, j 1;  pool 2/2 seen as a 2x2 window: r 4, j 2;  b: r 4 + 2*2 = 8;  upsampling halves the jump
    assert [(layer.rf, layer.jump) for layer in s.layers] == [(3, 1), (8, 2), (8, 1)]


def test_shared_module_counts_parameters_once():
    lin = nn.Linear(4, 4)
    net = nn.Sequential(lin, nn.ReLU(), lin)
    s = sg.summary(net, (4,))
    assert [layer.name for layer in s.layers] == ["0", "1", "0"]
    assert [layer.params for layer in s.layers] == [20, 0, 0] and s.total_params == 20
    assert s.total_macs == 2 * 16


def test_model_is_left_as_it_was():
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.Dropout(0.5), nn.ReLU())
    net[1].eval()                                   # mixed modes survive
    net[0].weight.requires_grad_(False)
    before = {k: v.copy() for k, v in net.state_dict().items()}
    s = sg.summary(net, (1, 8, 8), batch_size=3)
    assert net.training and not net[1].training and net[2].training
    assert all(np.array_equal(v, before[k]) for k, v in net.state_dict().items())
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in net.modules())
    assert sg.is_grad_enabled() and all(p.grad is None for p in net.parameters())
    assert s.trainable_params == 4 + 4 * 2 and s.non_trainable_params == 36
    assert s.layers[0].output_shape == (3, 4, 6, 6)
    with sg.no_grad():
        sg.summary(net, (1, 8, 8))
        assert not sg.is_grad_enabled()


def test_inplace_forward_falls_back_to_execution_order():
    class InPlace(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Conv2d(1, 2, 3), nn.Conv2d(2, 2, 3, stride=2)

        def forward(self, x):
            y = self.a(x)
            y.add_(1.0)      # in place: fine without a graph, refused with one
            return self.b(y)

    s = sg.summary(InPlace(), (1, 16, 16))
    assert [(layer.rf, layer.jump) for layer in s.layers] == [(3, 1), (5, 2)]
    assert "order" in s.rf_note


def test_several_inputs_and_dtypes():
    class Two(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb, self.lin = nn.Embedding(10, 4), nn.Linear(4, 3)

        def forward(self, idx, x):
            return self.lin(self.emb(idx) + x)

    s = sg.summary(Two(), [(5,), (5, 4)], batch_size=2, dtypes=[np.int64, np.float32])
    assert s.layers[-1].output_shape == (2, 5, 3) and s.total_macs == 2 * 5 * 4 * 3
    assert s.total_params == 40 + 15


def test_table_and_dict():
    s = sg.summary(nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(2 * 26 * 26, 10)), (1, 28, 28))
    text = str(s)
    assert "Total params: 13,550" in text and "Conv2d" in text and "RF" in text and "all" in text
    d = json.loads(json.dumps(s.to_dict()))
    assert d["total_macs"] == 2 * 26 * 26 * 9 + 1352 * 10 and len(d["layers"]) == 3
    assert d["layers"][0]["rf"] == 3 and d["layers"][2]["rf"] is None


# ---- the zoo at ImageNet size: totals within 2% of the published figures -----------------------
PUBLISHED = {  # name: (GMACs published, parameters = torchvision's, receptive field of the last conv/pool)
    "resnet50": (4.1, 25_557_032, 427),    # torchvision ResNet-50 v1.5; RF 427 (stride on the 3x3 conv)
    "vgg16": (15.5, 138_357_544, 212),     # pool5 sees 212 pixels (Araujo et al., Distill 2019)
    "mobilenet_v2": (0.30, 3_504_872, 491),  # Araujo et al.: 491
}


@pytest.fixture
def no_random_init(monkeypatch):
    """Zeros instead of random weights (counting does not need them): drawing VGG-16's 138M took 20 s here."""
    def zero(tensor, *args, **kwargs):
        tensor.data.fill(0)
        return tensor
    for name in ("uniform_", "normal_", "trunc_normal_"):
        monkeypatch.setattr(sg.nn.init, name, zero)


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_published_totals(name, no_random_init):
    from scratchgrad.models import get_model
    gmacs, params, rf = PUBLISHED[name]
    s = sg.summary(get_model(name), (3, 224, 224))
    assert abs(s.total_macs / 1e9 - gmacs) <= 0.02 * gmacs, s.total_macs
    assert s.total_params == params
    assert max(layer.rf for layer in s.layers if layer.type in ("Conv2d", "MaxPool2d")) == rf


# ---- the command line -------------------------------------------------------------------------
def test_cli_summary(capsys, tmp_path):
    assert main(["summary", "mlp", "--input", "64", "--num-classes", "3", "--json", str(tmp_path / "s.json")]) == 0
    out = capsys.readouterr().out
    assert "mlp: input (64,)" in out and "Total params" in out and "Linear" in out
    d = json.loads((tmp_path / "s.json").read_text())
    assert d["layers"][-1]["output_shape"] == [1, 3]


def test_cli_summary_of_a_zoo_model(capsys):
    assert main(["summary", "lenet", "--input", "1,28,28", "--num-classes", "10"]) == 0
    out = capsys.readouterr().out
    assert "Total params: 61,706" in out and "features.0 (Conv2d)" in out


def test_cli_unknown_model_lists_the_models(capsys):
    assert main(["summary", "no-such-net", "--input", "3,32,32"]) == 1
    err = capsys.readouterr().err
    assert "unknown model 'no-such-net'" in err and "mlp" in err


def test_cli_bad_input_shape(capsys):
    with pytest.raises(SystemExit):
        main(["summary", "mlp", "--input", "3,x"])
    assert "expected a sample shape" in capsys.readouterr().err
