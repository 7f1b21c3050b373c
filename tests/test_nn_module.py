"""Module: registration, traversal, train/eval, zero_grad, state_dict (PyTorch key names, round trip,
errors), to(dtype), apply, hooks, repr, containers and Parameter."""
import copy
from collections import OrderedDict

import numpy as np
import pytest
from conftest import assert_close

import scratchgrad as sg
import scratchgrad.nn as nn


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.bn = nn.BatchNorm1d(3)
        self.scale = nn.Parameter(sg.ones(3))
        self.register_buffer("step", sg.zeros(1))
        self.register_buffer("cache", sg.zeros(2), persistent=False)
        self.plain = sg.zeros(2)  # a plain Tensor attribute: neither parameter nor buffer

    def forward(self, x):
        return self.bn(self.fc(x)) * self.scale


def make_net():
    return nn.Sequential(Block(), nn.ReLU(), nn.Linear(3, 2))


def make_torch_net(torch):
    class TBlock(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(4, 3)
            self.bn = torch.nn.BatchNorm1d(3)
            self.scale = torch.nn.Parameter(torch.ones(3))
            self.register_buffer("step", torch.zeros(1))
            self.register_buffer("cache", torch.zeros(2), persistent=False)

        def forward(self, x):
            return self.bn(self.fc(x)) * self.scale
    return torch.nn.Sequential(TBlock(), torch.nn.ReLU(), torch.nn.Linear(3, 2))


def test_registration_and_names():
    net = make_net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["0.scale", "0.fc.weight", "0.fc.bias", "0.bn.weight", "0.bn.bias", "2.weight", "2.bias"]
    assert [n for n, _ in net.named_buffers()] == ["0.step", "0.cache", "0.bn.running_mean", "0.bn.running_var",
                                                   "0.bn.num_batches_tracked"]
    assert [n for n, _ in net.named_modules()] == ["", "0", "0.fc", "0.bn", "1", "2"]
    assert [n for n, _ in net.named_children()] == ["0", "1", "2"]
    assert len(list(net.children())) == 3 and len(list(net.modules())) == 6
    assert [n for n, _ in net[0].named_parameters(recurse=False)] == ["scale"]
    assert len(list(net.parameters())) == 7
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in net.parameters())
    b = net[0]
    assert "plain" not in b._buffers and b.plain.shape == (2,)
    assert b.fc is b._modules["fc"] and b.step is b._buffers["step"]
    assert "fc" in dir(b)


def test_state_dict_keys_match_torch(torch):
    net, tnet = make_net(), make_torch_net(torch)
    sd, tsd = net.state_dict(), tnet.state_dict()
    assert list(sd) == list(tsd)
    assert "0.cache" not in sd and "0.bn.num_batches_tracked" in sd
    for k in sd:
        assert isinstance(sd[k], np.ndarray) and sd[k].shape == tuple(tsd[k].shape), k
    assert sd["0.bn.num_batches_tracked"].dtype == np.int64


def test_state_dict_round_trip_and_torch_exchange(torch):
    net = make_net()
    x = sg.randn(5, 4)
    net(x)  # move the running statistics
    net.eval()
    ref = net(x).data.copy()
    other = make_net().eval()
    assert not np.allclose(other(x).data, ref)
    params_before = list(other.parameters())
    result = other.load_state_dict(copy.deepcopy(net.state_dict()))
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert np.array_equal(other(x).data, ref)
    assert all(a is b for a, b in zip(params_before, other.parameters()))  # copied in place
    # torch can load it, and we can load torch's
    tnet = make_torch_net(torch)
    tnet.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in net.state_dict().items()})
    tnet.eval()
    assert_close(tnet(torch.from_numpy(x.data)), ref, atol=1e-6)
    fresh = make_net().eval()
    fresh.load_state_dict(tnet.state_dict())
    assert_close(fresh(x), ref, atol=1e-6)


def test_state_dict_shares_storage_like_torch():
    lin = nn.Linear(2, 2)
    sd = lin.state_dict()
    assert sd["weight"] is lin.weight.data
    keep = lin.state_dict(keep_vars=True)
    assert keep["weight"] is lin.weight


def test_load_state_dict_errors():
    net = make_net()
    sd = OrderedDict((k, v.copy()) for k, v in net.state_dict().items())
    before = net[2].weight.data.copy()
    bad = OrderedDict(sd)
    del bad["2.bias"]
    bad["extra.weight"] = np.zeros(3)
    bad["2.weight"] = np.zeros((5, 3), np.float32)
    with pytest.raises(RuntimeError) as e:
        net.load_state_dict(bad)
    msg = str(e.value)
    assert "Error(s) in loading state_dict for Sequential" in msg
    assert 'Missing key(s) in state_dict: "2.bias".' in msg
    assert 'Unexpected key(s) in state_dict: "extra.weight".' in msg
    assert "size mismatch for 2.weight: copying a param with shape (5, 3) from checkpoint, the shape in " \
           "current model is (2, 3)." in msg
    assert np.array_equal(net[2].weight.data, before)  # nothing copied on error
    partial = OrderedDict(sd)
    del partial["2.bias"]
    partial["extra"] = np.zeros(1)
    partial["2.weight"] = np.ones((2, 3))  # float64 -> cast into the float32 parameter
    res = net.load_state_dict(partial, strict=False)
    assert res.missing_keys == ["2.bias"] and res.unexpected_keys == ["extra"]
    assert net[2].weight.dtype == np.float32 and np.all(net[2].weight.data == 1)
    bad = OrderedDict(sd)
    bad["2.weight"] = np.zeros((5, 3))
    with pytest.raises(RuntimeError, match="size mismatch"):
        net.load_state_dict(bad, strict=False)  # shape errors are errors even when not strict


def test_train_eval_and_zero_grad():
    net = make_net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net and not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    net(sg.randn(5, 4)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.data.any() for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())


def test_to_dtype_double_float():
    net = make_net()
    x = sg.randn(5, 4)
    net(x).sum().backward()
    ids = [id(p) for p in net.parameters()]
    assert net.double() is net
    assert all(p.dtype == np.float64 and p.grad.dtype == np.float64 for p in net.parameters())
    assert net[0].bn.running_var.dtype == np.float64
    assert net[0].bn.num_batches_tracked.dtype == np.int64  # integer buffers untouched
    assert net(x.double()).dtype == np.float64
    net.to(np.float32)
    assert all(p.dtype == np.float32 for p in net.parameters())
    net.to("cpu").to(dtype="float64")
    assert net[2].weight.dtype == np.float64
    net.float()
    assert [id(p) for p in net.parameters()] == ids  # the same Parameter objects throughout
    y = net(x)
    assert y.dtype == np.float32
    with pytest.raises(TypeError):
        net.to(np.int32)


def test_apply_and_hooks():
    net = make_net()
    seen = []
    net.apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Linear", "BatchNorm1d", "Block", "ReLU", "Linear", "Sequential"]

    def zero_linear(m):
        if isinstance(m, nn.Linear):
            nn.init.zeros_(m.weight)
    net.apply(zero_linear)
    assert not net[2].weight.data.any()

    calls = []
    h1 = net[1].register_forward_pre_hook(lambda m, args: calls.append("pre"))
    h2 = net[1].register_forward_hook(lambda m, args, out: out * 0 + 7)
    y = net(sg.randn(5, 4))
    assert calls == ["pre"] and np.allclose(y.data, 7 * net[2].weight.data.sum(1) + net[2].bias.data)
    h1.remove()
    h2.remove()
    net(sg.randn(5, 4))
    assert calls == ["pre"]


def test_repr_matches_torch(torch):
    tnet = torch.nn.Sequential(torch.nn.Linear(784, 512), torch.nn.ReLU(), torch.nn.Dropout(0.2),
                               torch.nn.Sequential(torch.nn.Linear(512, 512), torch.nn.BatchNorm1d(512)),
                               torch.nn.Linear(512, 10))
    net = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Dropout(0.2),
                        nn.Sequential(nn.Linear(512, 512), nn.BatchNorm1d(512)), nn.Linear(512, 10))
    assert repr(net) == repr(tnet)
    assert repr(net).startswith("Sequential(\n  (0): Linear(in_features=784, out_features=512, bias=True)\n")
    named = nn.Sequential(OrderedDict(fc=nn.Linear(2, 3), act=nn.Tanh()))
    tnamed = torch.nn.Sequential(OrderedDict(fc=torch.nn.Linear(2, 3), act=torch.nn.Tanh()))
    assert repr(named) == repr(tnamed)
    assert repr(nn.ModuleDict({"a": nn.ReLU()})) == repr(torch.nn.ModuleDict({"a": torch.nn.ReLU()}))
    assert repr(nn.ModuleList([nn.ReLU(), nn.Identity()])) == \
        repr(torch.nn.ModuleList([torch.nn.ReLU(), torch.nn.Identity()]))


def test_sequential_container():
    a, b, c = nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)
    s = nn.Sequential(a, b)
    assert len(s) == 2 and s[0] is a and s[-1] is b
    s.append(c)
    assert len(s) == 3 and s[2] is c and list(s) == [a, b, c]
    sub = s[1:]
    assert isinstance(sub, nn.Sequential) and list(sub) == [b, c]
    assert s(sg.randn(4, 2)).shape == (4, 1)
    with pytest.raises(IndexError):
        s[3]
    s[1] = nn.Tanh()
    assert isinstance(s[1], nn.Tanh)
    named = nn.Sequential(OrderedDict(fc=a, act=b))
    assert named.fc is a and named[1] is b and list(named.state_dict()) == ["fc.weight", "fc.bias"]


def test_module_list_and_dict():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(layers) == 3 and [n for n, _ in layers.named_parameters()][:2] == ["0.weight", "0.bias"]
    layers.append(nn.ReLU())
    layers.insert(0, nn.Tanh())
    assert isinstance(layers[0], nn.Tanh) and isinstance(layers[-1], nn.ReLU) and len(layers) == 5
    del layers[0]
    assert isinstance(layers[0], nn.Linear) and list(layers._modules) == ["0", "1", "2", "3"]
    assert isinstance(layers[1:3], nn.ModuleList) and len(layers[1:3]) == 2

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = layers
            self.heads = nn.ModuleDict({"cls": nn.Linear(2, 5), "reg": nn.Linear(2, 1)})
    net = Net()
    assert len(list(net.parameters())) == 6 + 4
    assert list(net.heads) == ["cls", "reg"] and "cls" in net.heads and net.heads["reg"].out_features == 1
    net.heads["aux"] = nn.Identity()
    assert list(net.heads.keys()) == ["cls", "reg", "aux"]
    assert net.heads.pop("aux").__class__ is nn.Identity


def test_shared_parameters_counted_once():
    lin = nn.Linear(3, 3)
    net = nn.Sequential(lin, nn.ReLU(), lin)
    assert len(list(net.parameters())) == 2
    assert list(net.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]  # as torch: both keys
    assert len(list(net.modules())) == 3


def test_setattr_rules():
    class Bad(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(sg.ones(1))  # before super().__init__()
    with pytest.raises(AttributeError, match="before Module.__init__"):
        Bad()
    lin = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="nn.Parameter or None"):
        lin.weight = sg.ones(2, 2)
    lin.bias = None
    assert [n for n, _ in lin.named_parameters()] == ["weight"]
    assert "bias=False" in repr(lin)
    lin.extra = nn.Parameter(sg.zeros(1))
    assert [n for n, _ in lin.named_parameters()] == ["weight", "extra"]
    del lin.extra
    assert [n for n, _ in lin.named_parameters()] == ["weight"]
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        lin.nope
    with pytest.raises(NotImplementedError):
        nn.Module()(1)


def test_parameter():
    p = nn.Parameter(sg.tensor([1.0, 2.0]))
    assert isinstance(p, sg.Tensor) and p.requires_grad and p.is_leaf and p.dtype == np.float32
    assert repr(p) == "Parameter containing:\ntensor([1., 2.], requires_grad=True)"
    t = sg.zeros(3)
    assert nn.Parameter(t).data is t.data  # shares storage
    assert not nn.Parameter(t, requires_grad=False).requires_grad
    q = copy.deepcopy(p)
    assert isinstance(q, nn.Parameter) and q.data is not p.data and np.array_equal(q.data, p.data)


def test_deepcopy_module():
    net = make_net()
    clone = copy.deepcopy(net)
    x = sg.randn(3, 4)
    assert np.array_equal(clone.eval()(x).data, net.eval()(x).data)
    assert clone[2].weight is not net[2].weight


def test_get_submodule_and_utils():
    net = make_net()
    assert net.get_submodule("0.bn") is net[0].bn
    with pytest.raises(AttributeError):
        net.get_submodule("0.nope")
    with pytest.raises(AttributeError):
        nn.does_not_exist
    assert callable(nn.utils.clip_grad_norm_)
