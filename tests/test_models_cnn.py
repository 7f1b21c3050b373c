"""The CNN zoo (scratchgrad.models.cnn): torchvision's parameter counts and state_dict keys, a forward
pass for every registered model, backward for a few, and ResNet parity with a torch twin.

torchvision is not installed: the expected numbers and key names below are torchvision's, written from
its source (models/resnet.py, vgg.py, alexnet.py, densenet.py, ...) and model cards.
"""
import numpy as np
import pytest

import scratchgrad as sg
import scratchgrad.nn as nn
from conftest import assert_close, to_torch
from scratchgrad.models import _LAZY, get_model
from scratchgrad.models.cnn.blocks import image_input, num_parameters


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    """Many small GEMMs: one thread is several times faster than two on a loaded machine."""
    from threadpoolctl import threadpool_limits
    with threadpool_limits(1):
        yield


@pytest.fixture
def no_init(monkeypatch):
    """Skip the random draws of initialisation: a parameter count needs shapes, not values."""
    for name in ("uniform_", "normal_", "trunc_normal_"):
        monkeypatch.setattr(nn.init, name, lambda tensor, *args, **kwargs: tensor)


# ---- parameter counts at ImageNet settings (1000 classes, 3x224x224) ---------------------------------
TORCHVISION_COUNTS = {
    "resnet18": 11_689_512, "resnet34": 21_797_672, "resnet50": 25_557_032, "resnet101": 44_549_160,
    "resnet152": 60_192_808, "resnext50_32x4d": 25_028_904,
    "vgg11": 132_863_336, "vgg13": 133_047_848, "vgg16": 138_357_544, "vgg19": 143_667_240,
    "vgg11_bn": 132_868_840, "vgg13_bn": 133_053_736, "vgg16_bn": 138_365_992, "vgg19_bn": 143_678_248,
    "alexnet": 61_100_840, "mobilenet_v2": 3_504_872, "densenet121": 7_978_856,
    "squeezenet1_0": 1_248_424, "squeezenet1_1": 1_235_496,
    "shufflenet_v2_x0_5": 1_366_792, "shufflenet_v2_x1_0": 2_278_604,
    "googlenet": 6_624_904, "inception_v3": 23_834_568,
}
OTHER_COUNTS = [  # (name, kwargs, count, source)
    ("googlenet", dict(aux_logits=True), 13_004_888, "torchvision googlenet() with its aux heads"),
    ("inception_v3", dict(aux_logits=True), 27_161_264, "torchvision inception_v3 model card"),
    ("se-resnet50", {}, 28_088_024, "Hu et al. SE-ResNet-50 (28.1M)"),
    ("mobilenet-v1", {}, 4_231_976, "Howard et al. 1.0 MobileNet-224 (4.2M)"),
    ("alexnet", dict(lrn=True, groups=2, widths=(96, 256, 384, 384, 256)), 60_965_224, "Caffe bvlc_alexnet"),
]


@pytest.mark.parametrize("name", sorted(TORCHVISION_COUNTS))
def test_parameter_count_equals_torchvision(no_init, name):
    assert num_parameters(get_model(name)) == TORCHVISION_COUNTS[name]


@pytest.mark.parametrize("name,kwargs,count,source", OTHER_COUNTS, ids=[c[0] for c in OTHER_COUNTS])
def test_parameter_count_published(no_init, name, kwargs, count, source):
    assert num_parameters(get_model(name, **kwargs)) == count, source


@pytest.mark.parametrize("name,millions", [("resnet20", 0.27), ("resnet56", 0.85), ("resnet110", 1.7)])
def test_cifar_resnet_sizes_match_the_paper(name, millions):
    """He et al. 2016, Table 6: 0.27M, 0.85M, 1.7M parameters (10 classes); plain twins are the same size."""
    n = num_parameters(get_model(name))
    assert round(n / 1e6, 2 if millions < 1 else 1) == millions, n      # the paper's rounding
    if name != "resnet110":
        assert num_parameters(get_model(name.replace("resnet", "plain"))) == n


def test_vgg16_real_build_and_init():
    """The one big model built with its real initialisation (torchvision's: He-normal fan_out convs,
    N(0, 0.01^2) Linear layers, zero biases)."""
    model = get_model("vgg16")
    assert num_parameters(model) == 138_357_544
    w = model.classifier[0].weight.data
    assert w.dtype == np.float32 and abs(float(w[:512].std()) - 0.01) < 5e-4
    assert not model.classifier[0].bias.data.any() and not model.features[0].bias.data.any()
    conv = model.features[28].weight.data                # 512 x 512 x 3 x 3: std sqrt(2 / (512 * 9))
    assert abs(float(conv.std()) - (2 / (512 * 9)) ** 0.5) < 1e-3


# ---- state_dict keys -----------------------------------------------------------------------------------
BN = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def torchvision_resnet_keys(layers, bottleneck):
    """torchvision.models.ResNet's state_dict keys, written from its naming rules."""
    def bn(p):
        return [f"{p}.{s}" for s in BN]
    keys = ["conv1.weight"] + bn("bn1")
    convs = 3 if bottleneck else 2
    for i, n in enumerate(layers):
        for b in range(n):
            p = f"layer{i + 1}.{b}"
            for c in range(1, convs + 1):
                keys += [f"{p}.conv{c}.weight"] + bn(f"{p}.bn{c}")
            if b == 0 and (i > 0 or bottleneck):
                keys += [f"{p}.downsample.0.weight"] + bn(f"{p}.downsample.1")
    return keys + ["fc.weight", "fc.bias"]


@pytest.mark.parametrize("name,layers,bottleneck,count", [("resnet18", [2, 2, 2, 2], False, 122),
                                                          ("resnet50", [3, 4, 6, 3], True, 320)])
def test_resnet_keys_are_torchvision(no_init, name, layers, bottleneck, count):
    keys = list(get_model(name).state_dict())
    assert keys == torchvision_resnet_keys(layers, bottleneck)
    assert len(keys) == count


def test_keys_of_the_sequential_nets(no_init):
    vgg16 = [f"features.{i}.{p}" for i in (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28) for p in ("weight", "bias")]
    vgg16 += [f"classifier.{i}.{p}" for i in (0, 3, 6) for p in ("weight", "bias")]
    assert list(get_model("vgg16").state_dict()) == vgg16
    assert list(get_model("vgg16_bn").state_dict())[:8] == [
        "features.0.weight", "features.0.bias", *(f"features.1.{s}" for s in BN), "features.3.weight"]
    alex = [f"{m}.{i}.{p}" for m, idx in (("features", (0, 3, 6, 8, 10)), ("classifier", (1, 4, 6)))
            for i in idx for p in ("weight", "bias")]
    assert list(get_model("alexnet").state_dict()) == alex
    fires = [f"features.{i}.{c}.{p}" for i in (3, 4, 6, 7, 9, 10, 11, 12)
             for c in ("squeeze", "expand1x1", "expand3x3") for p in ("weight", "bias")]
    assert list(get_model("squeezenet1_1").state_dict()) == [
        "features.0.weight", "features.0.bias", *fires, "classifier.1.weight", "classifier.1.bias"]


def test_keys_and_shapes_of_the_modern_nets(no_init):
    d = get_model("densenet121").state_dict()
    assert len(d) == 727 and list(d)[:7] == ["features.conv0.weight", *(f"features.norm0.{s}" for s in BN),
                                           "features.denseblock1.denselayer1.norm1.weight"]
    assert d["features.denseblock4.denselayer16.conv2.weight"].shape == (32, 128, 3, 3)
    assert d["features.transition3.conv.weight"].shape == (512, 1024, 1, 1)
    assert d["features.norm5.weight"].shape == (1024,) and d["classifier.weight"].shape == (1000, 1024)

    m = get_model("mobilenet_v2").state_dict()
    assert len(m) == 314
    assert m["features.1.conv.0.0.weight"].shape == (32, 1, 3, 3)          # depthwise, no expansion
    assert m["features.1.conv.1.weight"].shape == (16, 32, 1, 1)           # linear projection
    assert m["features.2.conv.0.0.weight"].shape == (96, 16, 1, 1)         # expansion t = 6
    assert m["features.2.conv.1.0.weight"].shape == (96, 1, 3, 3)
    assert m["features.18.0.weight"].shape == (1280, 320, 1, 1) and "classifier.1.weight" in m

    s = get_model("shufflenet_v2_x1_0").state_dict()
    assert s["conv1.0.weight"].shape == (24, 3, 3, 3)
    assert s["stage2.0.branch1.0.weight"].shape == (24, 1, 3, 3)
    assert s["stage2.0.branch1.2.weight"].shape == (58, 24, 1, 1)
    assert s["stage2.1.branch2.3.weight"].shape == (58, 1, 3, 3)
    assert not any(k.startswith("stage2.1.branch1") for k in s)
    assert s["conv5.0.weight"].shape == (1024, 464, 1, 1) and s["fc.weight"].shape == (1000, 1024)

    x = get_model("resnext50_32x4d").state_dict()
    assert x["layer1.0.conv2.weight"].shape == (128, 4, 3, 3)              # 32 groups of width 4
    assert x["layer4.2.conv2.weight"].shape == (1024, 32, 3, 3)

    g = get_model("googlenet", aux_logits=True).state_dict()
    for k in ("conv1.conv.weight", "conv1.bn.running_var", "inception3a.branch1.conv.weight",
              "inception3a.branch2.1.conv.weight", "inception3a.branch4.1.bn.weight",
              "inception5b.branch3.0.conv.weight",
              "aux1.conv.conv.weight", "aux1.fc1.weight", "aux2.fc2.bias", "fc.weight"):
        assert k in g, k
    assert g["inception3a.branch3.1.conv.weight"].shape == (32, 16, 3, 3)   # torchvision's "5x5" is 3x3

    v3 = get_model("inception_v3", aux_logits=True).state_dict()
    assert v3["Mixed_6b.branch7x7_2.conv.weight"].shape == (128, 128, 1, 7)
    assert v3["Mixed_7c.branch3x3dbl_3b.conv.weight"].shape == (384, 384, 3, 1)
    assert v3["AuxLogits.conv1.conv.weight"].shape == (768, 128, 5, 5) and "AuxLogits.fc.weight" in v3

    se = get_model("se-resnet50").state_dict()
    assert se["layer1.0.se.fc1.weight"].shape == (16, 256, 1, 1)
    assert se["layer4.2.se.fc2.bias"].shape == (2048,)


# ---- forward for every registered CNN, backward for a few -------------------------------------------------
MNIST, CIFAR = (1, 28, 28), (3, 32, 32)
FORWARD = {   # name -> (input (C, H, W), extra kwargs); the default is CIFAR with the ImageNet stem (cheap)
    "lenet": (MNIST, {}), "lenet5": (MNIST, {}), "simple-convnet": (MNIST, {}), "deep-convnet": (MNIST, {}),
    "inception_v3": ((3, 75, 75), {}),
    **{name: (CIFAR, {}) for name in ("alexnet", "inception-block", "hourglass")},   # need the small stem
    **{f"vgg{d}{bn}": (CIFAR, {}) for d in (11, 13, 16, 19) for bn in ("", "_bn")},
}
ZOO = sorted(name for name, path in _LAZY.items() if path.startswith(".cnn."))


def _input_kwargs(shape, num_classes=10):
    """What the CLI passes to an image model."""
    return dict(in_channels=shape[0], num_classes=num_classes, input_size=list(shape))


def _forward_case(name):
    if name in FORWARD:
        return FORWARD[name]
    if _LAZY[name].startswith(".cnn.cifar_resnet"):
        return CIFAR, {}
    return CIFAR, {"small_input": False}


#: deeper siblings of models tested above (same blocks, several seconds each to build): -m slow
DEEP_SIBLINGS = {"resnet101", "resnet152", "preact-resnet34", "vgg13", "vgg13_bn", "vgg19", "vgg19_bn"}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in DEEP_SIBLINGS else n for n in ZOO])
def test_forward_every_model(name):
    shape, extra = _forward_case(name)
    model = get_model(name, **_input_kwargs(shape), **extra)
    y = model(sg.randn(2, *shape))
    assert y.shape == (2, 10) and y.dtype == np.float32
    assert np.isfinite(y.data).all()
    model.eval()
    assert np.isfinite(model(sg.randn(1, *shape)).data).all()


@pytest.mark.parametrize("name,shape", [("resnet20", CIFAR), ("lenet5", MNIST), ("simple-convnet", MNIST),
                                        ("deep-convnet", MNIST), ("mobilenet_v2", CIFAR), ("squeezenet1_1", CIFAR),
                                        ("shufflenet_v2_x0_5", CIFAR), ("preact-resnet18", (1, 16, 16))])
def test_backward_reaches_every_parameter(name, shape):
    model = get_model(name, **_input_kwargs(shape))
    x = sg.randn(4, *shape, requires_grad=True)
    loss = nn.functional.cross_entropy(model(x), sg.tensor(np.arange(4) % 10))
    loss.backward()
    assert np.isfinite(x.grad.data).all()
    for k, p in model.named_parameters():
        assert p.grad is not None and p.grad.shape == p.shape and p.grad.dtype == np.float32, k
        assert np.isfinite(p.grad.data).all(), k


# ---- the small-input stem and other options --------------------------------------------------------------
def test_image_input_rule():
    assert image_input(None, (1, 28, 28)) == (1, True)
    assert image_input(3, [3, 32, 32]) == (3, True)
    assert image_input(None, (3, 64, 64)) == (3, False)
    assert image_input(None, None) == (3, False) and image_input(None, None, default_small=True) == (3, True)
    assert image_input(None, (3, 224, 224), small_input=True) == (3, True)


def test_small_input_stem_keeps_keys_and_fits_mnist(no_init):
    big, small = get_model("resnet18"), get_model("resnet18", **_input_kwargs(MNIST))
    assert list(big.state_dict()) == list(small.state_dict())
    assert small.conv1.weight.shape == (64, 1, 3, 3) and isinstance(small.maxpool, nn.Identity)
    assert big.conv1.weight.shape == (64, 3, 7, 7) and isinstance(big.maxpool, nn.MaxPool2d)


@pytest.mark.parametrize("name", ["resnet18", "vgg11", "alexnet", "densenet121", "googlenet", "mobilenet-v1"])
def test_small_stem_forward_on_mnist_shapes(name):
    """28x28 would vanish under the ImageNet stems (VGG: 28 -> 0 after five pools)."""
    model = get_model(name, **_input_kwargs(MNIST)).eval()
    assert model(sg.randn(1, *MNIST)).shape == (1, 10)


def test_alexnet_paper_options(no_init):
    m = get_model("alexnet", lrn=True, groups=2, widths=(96, 256, 384, 384, 256))
    kinds = [type(layer).__name__ for layer in m.features]
    assert kinds[:4] == ["Conv2d", "ReLU", "LocalResponseNorm", "MaxPool2d"] and kinds.count("LocalResponseNorm") == 2
    convs = [layer for layer in m.features if isinstance(layer, nn.Conv2d)]
    assert [c.groups for c in convs] == [1, 2, 1, 2, 2]
    assert convs[1].weight.shape == (256, 48, 5, 5)


def test_alexnet_lrn_forward():
    m = get_model("alexnet", lrn=True, groups=2, **_input_kwargs((3, 64, 64)))
    y = m(sg.randn(2, 3, 64, 64))
    assert y.shape == (2, 10) and np.isfinite(y.data).all()


def test_googlenet_aux_outputs_in_training_only():
    m = get_model("googlenet", aux_logits=True, **_input_kwargs((3, 64, 64)), small_input=False)
    out = m(sg.randn(2, 3, 64, 64))
    assert out._fields == ("logits", "aux_logits2", "aux_logits1") and all(o.shape == (2, 10) for o in out)
    assert m.eval()(sg.randn(2, 3, 64, 64)).shape == (2, 10)


def test_inception_v3_refuses_small_images():
    with pytest.raises(ValueError, match="75x75"):
        get_model("inception_v3", **_input_kwargs(CIFAR))


def test_zero_init_residual_starts_blocks_as_identity(no_init):
    m = get_model("resnet50", zero_init_residual=True)
    assert not m.layer1[0].bn3.weight.data.any() and m.layer1[0].bn1.weight.data.all()


def test_plain_net_has_no_shortcut():
    plain, res = get_model("plain20"), get_model("resnet20")
    plain.load_state_dict(res.state_dict())
    x = sg.randn(2, *CIFAR)
    assert not np.allclose(plain(x).data, res(x).data)
    assert res.layer2[0].downsample is not None and plain.layer2[0].downsample is None


def test_option_a_shortcut_pads_zero_channels():
    sc = get_model("resnet20").layer2[0].downsample
    x = sg.randn(2, 16, 8, 8)
    y = sc(x).data
    assert y.shape == (2, 32, 4, 4)
    assert not y[:, :8].any() and not y[:, 24:].any()
    assert_close(y[:, 8:24], x.data[:, :, ::2, ::2])


# ---- SqueezeExcitation (an nn layer) ----------------------------------------------------------------------
def test_squeeze_excitation_gradcheck():
    se = nn.SqueezeExcitation(6, 3).double()
    x = sg.randn(2, 6, 3, 3, dtype=np.float64, requires_grad=True)
    sg.autograd.gradcheck(lambda x, *ps: se(x), (x, *se.parameters()))


def test_squeeze_excitation_matches_torch(torch):
    se = nn.SqueezeExcitation(8, 2)
    t = torch.nn.Module()
    t.fc1, t.fc2 = torch.nn.Conv2d(8, 2, 1), torch.nn.Conv2d(2, 8, 1)
    t.load_state_dict({k: torch.tensor(v) for k, v in se.state_dict().items()})
    x = sg.randn(2, 8, 5, 5, requires_grad=True)
    xt = to_torch(torch, x)
    yt = torch.sigmoid(t.fc2(torch.relu(t.fc1(xt.mean((2, 3), keepdim=True))))) * xt
    y = se(x)
    assert_close(y, yt, what="SE forward")
    g = np.random.default_rng(1).standard_normal(y.shape).astype(np.float32)
    y.backward(sg.tensor(g))
    yt.backward(torch.tensor(g))
    assert_close(x.grad, xt.grad, what="SE input grad")
    assert_close(se.fc1.weight.grad, t.fc1.weight.grad, what="SE fc1 grad")


# ---- parity: ResNet-18 and CIFAR ResNet-20 against torch twins built from torch.nn layers ----------------
def torch_resnet(torch, layers, widths, imagenet_stem, option_a, in_channels=3, num_classes=10):
    """A BasicBlock ResNet written with torch.nn only (torchvision's layout; option A pads zeros)."""
    tnn, F = torch.nn, torch.nn.functional

    class Block(tnn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1, self.bn1 = tnn.Conv2d(cin, cout, 3, stride, 1, bias=False), tnn.BatchNorm2d(cout)
            self.conv2, self.bn2 = tnn.Conv2d(cout, cout, 3, 1, 1, bias=False), tnn.BatchNorm2d(cout)
            self.stride, self.extra = stride, cout - cin
            self.downsample = None
            if not option_a and (stride != 1 or cin != cout):
                self.downsample = tnn.Sequential(tnn.Conv2d(cin, cout, 1, stride, bias=False), tnn.BatchNorm2d(cout))

        def forward(self, x):
            out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
            if self.downsample is not None:
                sc = self.downsample(x)
            elif self.stride != 1 or self.extra:
                h = self.extra // 2
                sc = F.pad(x[:, :, ::self.stride, ::self.stride], (0, 0, 0, 0, h, self.extra - h))
            else:
                sc = x
            return F.relu(out + sc)

    class Net(tnn.Module):
        def __init__(self):
            super().__init__()
            w0 = widths[0]
            self.conv1 = tnn.Conv2d(in_channels, w0, 7, 2, 3, bias=False) if imagenet_stem else \
                tnn.Conv2d(in_channels, w0, 3, 1, 1, bias=False)
            self.bn1 = tnn.BatchNorm2d(w0)
            self.pool = tnn.MaxPool2d(3, 2, 1) if imagenet_stem else tnn.Identity()
            cin = w0
            self.layers = []
            for i, (w, n) in enumerate(zip(widths, layers)):
                stage = tnn.Sequential(*[Block(cin if b == 0 else w, w, 2 if b == 0 and i > 0 else 1)
                                         for b in range(n)])
                setattr(self, f"layer{i + 1}", stage)
                self.layers.append(stage)
                cin = w
            self.fc = tnn.Linear(cin, num_classes)

        def forward(self, x):
            x = self.pool(F.relu(self.bn1(self.conv1(x))))
            for stage in self.layers:
                x = stage(x)
            return self.fc(x.mean((2, 3)))

    return Net()


@pytest.mark.parametrize("name,layers,widths,imagenet,option_a,shape", [
    ("resnet18", [2, 2, 2, 2], (64, 128, 256, 512), True, False, (3, 48, 48)),
    ("resnet20", [3, 3, 3], (16, 32, 64), False, True, (3, 16, 16)),
])
def test_resnet_matches_torch_twin(torch, name, layers, widths, imagenet, option_a, shape):
    ours = get_model(name, **_input_kwargs(shape), **({"small_input": False} if imagenet else {}))
    theirs = torch_resnet(torch, layers, widths, imagenet, option_a)
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict())
    theirs.load_state_dict({k: torch.tensor(np.array(v)) for k, v in ours.state_dict().items()})
    x = sg.randn(4, *shape, requires_grad=True)
    xt = to_torch(torch, x)
    labels = np.array([1, 3, 5, 7])
    loss = nn.functional.cross_entropy(ours(x), sg.tensor(labels))
    loss_t = torch.nn.functional.cross_entropy(theirs(xt), torch.tensor(labels))
    assert_close(loss, loss_t, atol=1e-5, what="loss")
    loss.backward()
    loss_t.backward()
    assert_close(x.grad, xt.grad, atol=1e-4, rtol=1e-3, what="input grad")
    named_t = dict(theirs.named_parameters())
    for k, p in ours.named_parameters():
        assert_close(p.grad, named_t[k].grad, atol=1e-4, rtol=1e-3, what=f"{k} grad")
    buffers_t = dict(theirs.named_buffers())
    assert_close(ours.state_dict()["layer1.0.bn1.running_var"], buffers_t["layer1.0.bn1.running_var"],
                 what="running_var")
    ours.eval(), theirs.eval()
    assert_close(ours(x), theirs(xt), atol=1e-4, rtol=1e-4, what="eval forward")
