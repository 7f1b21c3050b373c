"""Analysis figures: filters, feature maps, activation histograms and the per-layer time of a step."""
import numpy as np
import pytest

import scratchgrad as sg
from scratchgrad import nn
from scratchgrad.analysis import figures


def simple_convnet():
    """The book's SimpleConvNet shape (conv 30x5x5, pool, affine 100, affine 10), small for tests."""
    return nn.Sequential(nn.Conv2d(1, 8, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8 * 12 * 12, 20),
                         nn.ReLU(), nn.Linear(20, 10))


def no_hooks_left(model):
    return all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


def test_filter_images_grey_and_rgb():
    grey = figures.filter_images(sg.randn(6, 2, 5, 5))
    assert grey.shape == (6, 5, 5) and grey.min() == 0.0 and grey.max() == 1.0
    rgb = figures.filter_images(sg.randn(4, 3, 3, 3))
    assert rgb.shape == (4, 3, 3, 3)
    assert np.allclose(rgb.reshape(4, -1).min(axis=1), 0) and np.allclose(rgb.reshape(4, -1).max(axis=1), 1)
    grid = figures.mosaic(grey, ncols=3)
    assert grid.shape == (2 * 6 + 1, 3 * 6 + 1) and np.array_equal(grid[1:6, 1:6], grey[0])


def test_plot_filters_and_feature_maps(tmp_path):
    net = simple_convnet()
    x = sg.rand(2, 1, 28, 28)
    assert figures.first_conv(net)[0] == "0"
    p = figures.plot_filters(net, tmp_path / "filters.png")
    assert p.exists() and p.stat().st_size > 3000
    maps = figures.feature_maps(net, x[0], "1")
    with sg.no_grad():
        expected = net[1](net[0](x[:1])).data[0]
    np.testing.assert_allclose(maps, expected, rtol=1e-6)
    p = figures.plot_feature_maps(net, x[0], "1", tmp_path / "maps.png", max_maps=6)
    assert p.exists() and p.stat().st_size > 3000
    assert no_hooks_left(net) and net.training


def test_activation_histograms(tmp_path):
    net = simple_convnet()
    x = sg.rand(4, 1, 28, 28)
    acts = figures.activations(net, x)
    assert list(acts) == ["1", "5"]                      # the activation layers by default
    assert acts["5"].shape == (4, 20) and (acts["1"] >= 0).all()
    assert list(figures.activations(net, x, layers=["0", "4"])) == ["0", "4"]
    p = figures.plot_activation_histograms(net, x, tmp_path / "hist.png")
    assert p.exists() and p.stat().st_size > 3000


def test_layer_times_attribute_the_backward_to_layers(tmp_path):
    net = simple_convnet()
    x, y = sg.rand(16, 1, 28, 28), sg.tensor(np.arange(16) % 10)
    loss = nn.CrossEntropyLoss()(net(x), y)
    loss.backward()
    reference = [p.grad.data.copy() for p in net.parameters()]
    t = figures.layer_times(net, x, y, repeats=2)
    assert [layer["name"] for layer in t["layers"]] == [str(i) for i in range(7)]
    assert all(layer["forward_s"] > 0 for layer in t["layers"])
    by_name = {layer["name"]: layer for layer in t["layers"]}
    for name in ("0", "2", "4", "6"):              # conv, pool and linear layers have a backward
        assert by_name[name]["backward_s"] > 0
    layers_total = sum(layer["forward_s"] + layer["backward_s"] for layer in t["layers"])
    assert layers_total <= 1.5 * (t["forward_total_s"] + t["backward_total_s"])
    # timing changes nothing: the last step's gradients are those of a plain step
    for p, g in zip(net.parameters(), reference):
        np.testing.assert_allclose(p.grad.data, g, rtol=1e-5, atol=1e-6)
    assert no_hooks_left(net)
    p = figures.plot_layer_times(t, tmp_path / "time.png")
    assert p.exists() and p.stat().st_size > 3000


def test_layer_times_without_target_and_with_branches():
    class Res(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Conv2d(2, 2, 3, padding=1), nn.Conv2d(2, 2, 3, padding=1)

        def forward(self, x):
            h = self.a(x)
            return self.b(h) + h       # the add is between layers: it counts as "other"

    t = figures.layer_times(Res(), sg.rand(2, 2, 8, 8), repeats=1, warmup=0)
    assert [layer["name"] for layer in t["layers"]] == ["a", "b"]
    assert all(layer["backward_s"] > 0 for layer in t["layers"]) and t["other_s"] >= 0


def test_unknown_layer_name_raises():
    with pytest.raises(AttributeError):
        figures.feature_maps(simple_convnet(), sg.rand(1, 28, 28), "nope")
