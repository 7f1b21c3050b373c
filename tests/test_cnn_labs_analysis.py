"""The CNN analysis labs (conv-arithmetic, bottleneck, layer-time): quick runs, files, claims, numbers."""
import json

import pytest

from scratchgrad.cli import main
from scratchgrad.labs import list_labs, run_lab

NAMES = ["conv-arithmetic", "bottleneck", "layer-time"]


def run_quick(name, out):
    results = run_lab(name, out=out, quick=True, seed=0)
    assert json.loads((out / "results.json").read_text()) == results
    assert results["lab"] == name and results["claim"] and results["figures"]
    for fig in results["figures"]:
        assert (out / fig).stat().st_size > 5000
    assert results["claim_holds"] is True, results["checks"]
    return results


def test_listed():
    claims = dict(list_labs())
    assert all(name in claims for name in NAMES)
    assert "prod(s_j)" in claims["conv-arithmetic"] and "1/g" in claims["bottleneck"]


def test_conv_arithmetic(tmp_path):
    r = run_quick("conv-arithmetic", tmp_path)
    assert r["output_size"]["cases"] > 100 and r["output_size"]["mismatches"] == 0
    assert r["receptive_field"]["cases"] >= 30 and r["receptive_field"]["mismatches"] == 0
    assert r["three_3x3_convs"]["receptive_field"] == 7


def test_bottleneck(tmp_path):
    r = run_quick("bottleneck", tmp_path)
    assert r["bottleneck_ratio"]["macs"] == pytest.approx(69632 / 589824)
    assert r["grouped"]["4"]["params_ratio"] == 0.25 and r["grouped"]["256"]["macs_ratio"] == 1 / 256
    sep = r["depthwise_separable"]["c_out=256, k=3"]
    assert sep["macs_ratio"] == pytest.approx(1 / 256 + 1 / 9)


def test_layer_time(tmp_path):
    r = run_quick("layer-time", tmp_path)
    assert r["deep_convnet"]["conv_macs_share"] > 0.95
    assert 0 < r["deep_convnet"]["conv_share"] <= 1 and r["simple_convnet"]["step_ms"] > 0


def test_cli_lab_list(capsys):
    assert main(["lab", "list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in NAMES)
