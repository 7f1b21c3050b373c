"""`scratchgrad.text`: sequence models on text (the notes' RNN / LSTM / seq2seq / attention / TextCNN sections).

    from scratchgrad.text import Vocab, CharLSTM
    v = Vocab.from_text(text)                           # character vocabulary, <pad> = 0
    model = CharLSTM(len(v), embed_dim=64, hidden_size=512, num_layers=2)
    logits, state = model(x, state)                     # stateful: carry `state` across chunks

What lives where:
    vocab.py         Vocab: tokens <-> ids (char or word level, pad/unk/bos/eos), JSON state
    char_lm.py       character LSTM language model, truncated BPTT over contiguous streams, sampling
    seq2seq*.py      encoder-decoder (plain, peeky, attention), beam search (addition / date tasks)
    textcnn*.py      TextCNN (Kim 2014) on MR with 10-fold cross-validation
    labs.py          vanishing-gradient, long-dependency, bptt;  cli.py: the "sequence" CLI family
Submodules other than vocab are imported on demand (``scratchgrad.text.char_lm`` etc.).
"""
from __future__ import annotations

from .vocab import Vocab

__all__ = ["Vocab", "CharLSTM"]


def __getattr__(name):
    if name == "CharLSTM":
        from .char_lm import CharLSTM
        return CharLSTM
    raise AttributeError(f"module 'scratchgrad.text' has no attribute {name!r}")
