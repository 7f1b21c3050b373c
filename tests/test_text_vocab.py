"""Vocab: char/word level, specials, encode/decode round trips, JSON state."""
import json

import numpy as np
import pytest

from scratchgrad.text.vocab import Vocab


def test_char_vocab_sorted_with_pad_first():
    v = Vocab.from_text("hello world")
    assert v.itos[0] == "<pad>" and v.pad_index == 0
    assert v.itos[1:] == sorted(set("hello world"))
    assert len(v) == 1 + len(set("hello world"))
    assert v.decode(v.encode("hello world")) == "hello world"
    assert v.unk_index is None
    with pytest.raises(KeyError):
        v.encode("z")


def test_encode_array_matches_encode():
    text = "To be, or not to be: that is the question.\n" * 3
    v = Vocab.from_text(text)
    arr = v.encode_array(text)
    assert arr.dtype == np.int64
    assert arr.tolist() == v.encode(text)


def test_word_vocab_specials_freq_order_and_unk():
    sents = [["the", "cat", "sat"], ["the", "dog"], ["a", "cat"]]
    v = Vocab.from_tokens(sents, unk=True, bos=True, eos=True)
    assert v.itos[:4] == ["<pad>", "<unk>", "<bos>", "<eos>"]
    assert v.itos[4:6] == ["cat", "the"]                 # count 2, ties alphabetical
    assert v.encode(["the", "cow"]) == [v["the"], v.unk_index]
    ids = v.encode("the cat", add_bos=True, add_eos=True)
    assert ids[0] == v.bos_index and ids[-1] == v.eos_index
    assert v.decode(ids) == "the cat"
    assert v.decode(ids, skip_specials=False) == "<bos> the cat <eos>"


def test_min_freq_max_size_no_pad():
    v = Vocab.from_tokens([list("aaabbc")], level="char", min_freq=2, pad=False)
    assert v.itos == ["a", "b"]
    v = Vocab.from_tokens([list("aaabbc")], level="char", max_size=1, unk=True)
    assert v.itos == ["<pad>", "<unk>", "a"]


def test_state_dict_json_round_trip(tmp_path):
    v = Vocab.from_tokens([["x", "y", "y"]], unk=True, eos=True)
    state = json.loads(json.dumps(v.state_dict()))
    w = Vocab.from_state_dict(state)
    assert w.itos == v.itos and w.level == v.level and w.specials == v.specials
    v.save(tmp_path / "vocab.json")
    assert Vocab.load(tmp_path / "vocab.json").itos == v.itos


def test_doctest():
    import doctest
    import scratchgrad.text.vocab as mod
    assert doctest.testmod(mod).failed == 0
