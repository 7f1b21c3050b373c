"""TextCNN (Kim 2014): torch parity, gradcheck, max-norm, the exact sparse Adadelta, batching, the MR loader,
k-fold splits and the CLI task module on a small subset."""
import argparse
import copy
import json

import numpy as np
import pytest

import scratchgrad as sg
from conftest import assert_close
from scratchgrad import optim
from scratchgrad.data.datasets import mr
from scratchgrad.nn import functional as F
from scratchgrad.text.textcnn import (SparseRows, TextCNN, bucketed_batches, encode, kfold_assignments,
                                      pad_batch)
from scratchgrad.text.vocab import Vocab

SMALL = dict(embed_dim=6, kernel_sizes=(2, 3), num_filters=4)


def _ids(rng, n=5, T=9, V=30):
    ids = rng.integers(1, V, (n, T))
    ids[0, -3:] = 0                                  # some padding
    return ids


def test_textcnn_matches_torch(torch):
    model = TextCNN(30, dropout=0.0, **SMALL)
    keys = ["embedding.weight", "convs.0.weight", "convs.0.bias", "convs.1.weight", "convs.1.bias",
            "fc.weight", "fc.bias"]
    assert list(model.state_dict()) == keys
    tm = torch.nn.ModuleDict({"embedding": torch.nn.Embedding(30, 6, padding_idx=0),
                              "convs": torch.nn.ModuleList([torch.nn.Conv1d(6, 4, k) for k in (2, 3)]),
                              "fc": torch.nn.Linear(8, 2)})
    tm.load_state_dict({k: torch.tensor(v) for k, v in model.state_dict().items()})
    ids = _ids(np.random.default_rng(0))
    x = tm["embedding"](torch.tensor(ids)).transpose(1, 2)
    ref = tm["fc"](torch.cat([torch.relu(c(x)).amax(-1) for c in tm["convs"]], 1))
    out = model(ids)
    assert out.dtype == np.float32
    assert_close(out, ref, what="logits")
    y = np.array([0, 1, 1, 0, 1])
    F.cross_entropy(out, sg.tensor(y)).backward()
    torch.nn.functional.cross_entropy(ref, torch.tensor(y)).backward()
    named = dict(tm.named_parameters())
    for name, p in model.named_parameters():
        assert_close(p.grad, named[name].grad, what=f"grad {name}")
    assert np.all(model.embedding.weight.grad.data[0] == 0)      # the pad row learns nothing


def test_textcnn_gradcheck():
    model = TextCNN(12, dropout=0.0, **SMALL).double()
    ids = np.random.default_rng(1).integers(1, 12, (3, 6))    # no pad token: its row has no gradient by design
    fn = lambda emb, w: model(ids)  # noqa: E731
    assert sg.autograd.gradcheck(fn, (model.embedding.weight, model.convs[1].weight))


def test_textcnn_rejects_too_short_input_and_pads():
    model = TextCNN(12, **SMALL)
    with pytest.raises(ValueError, match="pad"):
        model(np.ones((2, 2), np.int64))
    ids, lengths = np.array([[5, 6, 0], [7, 0, 0]]), np.array([2, 1])
    batch = pad_batch(ids, lengths, np.array([1, 0]), border=2)
    assert batch.tolist() == [[0, 0, 7, 0, 0, 0], [0, 0, 5, 6, 0, 0]]


def test_max_norm_caps_output_rows():
    model = TextCNN(12, **SMALL)
    W = model.fc.weight.data
    W[0] *= 100.0 / np.linalg.norm(W[0])
    W[1] *= 0.5 / np.linalg.norm(W[1])
    model.max_norm_(3.0)
    assert_close(np.linalg.norm(W, axis=1), [3.0, 0.5], atol=1e-5)


def test_sparse_adadelta_equals_dense():
    """Rows left out for several steps must end where dense Adadelta puts them."""
    rng = np.random.default_rng(0)
    dense = TextCNN(40, dropout=0.0, **SMALL)
    sparse_model = copy.deepcopy(dense)
    opt_dense = optim.Adadelta(dense.parameters(), lr=1.0, rho=0.95, eps=1e-6)
    sparse = SparseRows(sparse_model.embedding, optim.Adadelta([sparse_model.embedding.weight], rho=0.95))
    rest = [p for n, p in sparse_model.named_parameters() if n != "embedding.weight"]
    opt_rest = optim.Adadelta(rest, lr=1.0, rho=0.95, eps=1e-6)
    for step in range(8):
        ids = _ids(rng, n=4, T=7, V=40 if step % 4 == 0 else 12)     # rows 12..39 skip 3 steps in 4
        y = sg.tensor(rng.integers(0, 2, 4))
        for model, opt, embed in ((dense, opt_dense, None), (sparse_model, opt_rest, sparse.lookup)):
            loss = F.cross_entropy(model(ids, embed=embed), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        sparse.step()
    assert sparse_model.embedding.weight.grad is None
    for (name, a), b in zip(dense.state_dict().items(), sparse_model.state_dict().values()):
        assert_close(a, b, atol=1e-6, what=name)
    assert np.all(sparse_model.embedding.weight.data[0] == 0)


def test_sparse_adam_matches_torch_sparse_adam(torch):
    """Adam on the used rows only is torch.optim.SparseAdam with nn.Embedding(sparse=True)."""
    rng = np.random.default_rng(0)
    emb = sg.nn.Embedding(20, 4, padding_idx=0)
    temb = torch.nn.Embedding(20, 4, padding_idx=0, sparse=True)
    temb.weight.data = torch.tensor(emb.weight.data.copy())
    sparse = SparseRows(emb, optim.Adam([emb.weight], lr=0.01))
    topt = torch.optim.SparseAdam(list(temb.parameters()), lr=0.01)
    for step in range(5):
        ids = rng.integers(0, 20 if step % 2 else 8, (3, 5))
        w = rng.standard_normal((3, 5, 4)).astype(np.float32)
        (sparse.lookup(ids) * sg.tensor(w)).sum().backward()
        sparse.step()
        topt.zero_grad()
        (temb(torch.tensor(ids)) * torch.tensor(w)).sum().backward()
        topt.step()
        assert_close(emb.weight, temb.weight, atol=1e-6, what=f"step {step}")
    with pytest.raises(ValueError):
        SparseRows(emb, optim.Adam([emb.weight], weight_decay=0.1))


def test_bucketed_batches_cover_every_sentence_once():
    lengths = np.random.default_rng(0).integers(1, 50, 1003)
    batches = bucketed_batches(lengths, 50, np.random.default_rng(1), bucket=4)
    assert sorted(np.concatenate(batches).tolist()) == list(range(1003))
    assert max(len(b) for b in batches) == 50
    spread = np.mean([np.ptp(lengths[b]) for b in batches])
    assert spread < 15                                   # similar lengths in a batch


def test_encode_and_kfold():
    vocab = Vocab.from_tokens([["a", "b", "a"]], level="word", unk=True)
    ids, lengths = encode([["a", "zzz"], ["b"]], vocab)
    assert ids.tolist() == [[vocab["a"], vocab.unk_index], [vocab["b"], 0]] and lengths.tolist() == [2, 1]
    fold = kfold_assignments(1066, 10, seed=3)
    counts = np.bincount(fold)
    assert len(counts) == 10 and counts.max() - counts.min() <= 1
    assert np.array_equal(fold, kfold_assignments(1066, 10, seed=3))
    assert not np.array_equal(fold, kfold_assignments(1066, 10, seed=4))


# ---- MR loader ----------------------------------------------------------------------------------
def test_clean_str_is_kims_tokenisation():
    assert mr.clean_str("It's not a great film, isn't it?") == "it 's not a great film , is n't it ?"
    assert mr.clean_str("We'll see (maybe)!  caf\xe9 -- ok") == "we 'll see ( maybe ) ! caf ok"


def test_load_mr_from_shared_data(data_root):
    if not (data_root / "mr-polarity").is_dir():
        pytest.skip("mr-polarity not staged")
    sentences, labels = mr.load_mr(data_root)
    assert len(sentences) == 10662 and labels.sum() == 5331 and labels.dtype == np.int64
    assert labels[0] == 1 and labels[-1] == 0
    tokens = [mr.clean_str(s).split() for s in sentences]
    assert max(map(len, tokens)) == 56                       # Kim's max_l
    assert len({w for t in tokens for w in t}) == 18765      # Kim's |V| for MR


def test_mr_missing_offline_gives_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="--data-root"):
        mr.load_mr(tmp_path)


def test_mr_download_checks_sha256(tmp_path, monkeypatch):
    src = tmp_path / "mirror"
    src.mkdir()
    pos, neg = b"a fine film .\n", b"a dull film .\n"
    (src / "rt-polarity.pos").write_bytes(pos)
    (src / "rt-polarity.neg").write_bytes(neg)
    import hashlib
    monkeypatch.setattr(mr, "MIRROR", src.as_uri() + "/")
    monkeypatch.setattr(mr, "TARBALL", (src / "missing.tar.gz").as_uri())
    monkeypatch.setattr(mr, "FILES", {"rt-polarity.pos": hashlib.sha256(pos).hexdigest(),
                                      "rt-polarity.neg": "0" * 64})        # neg fails its checksum
    with pytest.raises(mr.DownloadError, match="checksum"):
        mr.load_mr(tmp_path / "root", download=True)
    assert not (tmp_path / "root" / "mr-polarity" / "rt-polarity.neg").exists()
    monkeypatch.setattr(mr, "FILES", {"rt-polarity.pos": hashlib.sha256(pos).hexdigest(),
                                      "rt-polarity.neg": hashlib.sha256(neg).hexdigest()})
    sentences, labels = mr.load_mr(tmp_path / "root", download=True)
    assert sentences == ["a fine film .", "a dull film ."] and labels.tolist() == [1, 0]


# ---- the CLI task module ----------------------------------------------------------------------------
def test_task_train_and_evaluate_on_a_subset(data_root, tmp_path):
    if not (data_root / "mr-polarity").is_dir():
        pytest.skip("mr-polarity not staged")
    from scratchgrad.text import textcnn_task
    parser = argparse.ArgumentParser()
    textcnn_task.add_arguments(parser.add_argument_group("textcnn"))
    args = parser.parse_args(["--folds", "5", "--run-folds", "0,1", "--kernel-sizes", "2,3", "--num-filters", "16",
                              "--embed-dim", "32", "--max-norm", "3"])
    for key, value in dict(model="textcnn", dataset="mr", epochs=2, n_train=800, seed=1, data_root=data_root,
                           out=tmp_path / "run", no_progress=True).items():
        setattr(args, key, value)
    metrics = textcnn_task.train(args)
    assert len(metrics["fold_acc"]) == 2 and metrics["saved_fold"] == 1
    assert 0.0 <= metrics["mean_acc"] <= 1.0
    for name in ("config.json", "metrics.json", "model.safetensors", "vocab.json", "folds.png"):
        assert (tmp_path / "run" / name).is_file(), name
    stored = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert stored["folds"][0]["n_test"] == 160 and len(stored["folds"][0]["history"]) == 2
    again = textcnn_task.evaluate(argparse.Namespace(run_dir=tmp_path / "run"))
    assert again["test_acc"] == pytest.approx(metrics["saved_fold_acc"], abs=1e-12)


@pytest.mark.slow
def test_textcnn_first_fold_reaches_kim_level(data_root, tmp_path):
    """One full fold of MR with the default settings: >= 74% (Kim's 10-fold mean is 76.1%)."""
    if not (data_root / "mr-polarity").is_dir():
        pytest.skip("mr-polarity not staged")
    from scratchgrad.text import textcnn_task
    args = argparse.Namespace(model="textcnn", dataset="mr", run_folds=(0,), data_root=data_root,
                              out=tmp_path / "run", no_progress=True)
    assert textcnn_task.train(args)["mean_acc"] >= 0.74
