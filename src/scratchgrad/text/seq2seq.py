"""Encoder-decoder (seq2seq) models of "Deep Learning from Scratch 2" ch. 7-8, with greedy and beam decoding.

    model = build_seq2seq("seq2seq-peeky", vocab_size=13, embed_dim=16, hidden_size=128, reverse_input=True)
    loss = model.loss(x, t)                        # teacher forcing: predict t[:, 1:] from t[:, :-1]
    tokens, weights = model.greedy(x, start=6, max_len=4)
    tokens, scores = model.beam_search(x, start=6, max_len=4, beam_width=3)   # (N, 3, 4), best first

The encoder reads the source (embedding -> LSTM) and hands the decoder its final state: a fixed-size
vector h however long the input is (the bottleneck of the notes). Three decoders read it:

    Decoder           embedding -> LSTM started from (h, 0) -> Linear                     (the book's Seq2seq)
    PeekyDecoder      h is also concatenated to every LSTM input and to the Linear's input  (PeekySeq2seq)
    AttentionDecoder  embedding -> LSTM -> attention over *all* encoder states (query: the LSTM output)
                      -> Linear([context, output])                        (AttentionSeq2seq, Luong-style)

As in the book, the decoder's LSTM starts from the encoder's last h with a zero cell state, and
`reverse_input=True` feeds the source backwards (Sutskever et al. 2014: the first answer characters
then sit next to the question characters they depend on). With `src_lengths` the source is a padded
batch: the LSTM stops at each sequence's end, reversal happens within each sequence, and attention
masks the padding. Decoding loops over time steps only; greedy and beam search are vectorised over
the batch and the beam (N*B rows per step).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .. import nn
from ..autograd.function import no_grad
from ..nn import functional as F
from ..ops import cat
from ..tensor import Tensor

__all__ = ["EncoderOutput", "Encoder", "Decoder", "PeekyDecoder", "AttentionDecoder", "Seq2seq", "build_seq2seq",
           "book_init_", "reversal_index", "MODELS"]


def _ids(x) -> np.ndarray:
    return np.asarray(x.data if isinstance(x, Tensor) else x, dtype=np.int64)


def reversal_index(lengths, N: int, T: int) -> np.ndarray:
    """(N, T) source positions read backwards: idx[n, t] = L_n - 1 - t for t < L_n, else t (padding stays)."""
    t = np.arange(T)[None, :]
    L = np.full((N, 1), T) if lengths is None else _ids(lengths).reshape(N, 1)
    return np.where(t < L, L - 1 - t, t)


class EncoderOutput(NamedTuple):
    """What the decoder reads: outputs (N, Ts, H) every encoder step's h (in the order it read the source);
    state (h_n, c_n), each (num_layers, N, H); key_padding_mask (N, Ts) bool or None;
    order (N, Ts) the source position read at each step (input reversal) or None."""
    outputs: Tensor
    state: tuple
    key_padding_mask: np.ndarray | None = None
    order: np.ndarray | None = None

    def take(self, rows: np.ndarray) -> "EncoderOutput":
        """The batch rows `rows` (beam search repeats each sample beam_width times)."""
        pick = lambda a: None if a is None else a[rows]   # noqa: E731
        return EncoderOutput(self.outputs[rows], tuple(s[:, rows] for s in self.state),
                             pick(self.key_padding_mask), pick(self.order))

    def to_source_order(self, weights: np.ndarray) -> np.ndarray:
        """Attention weights (N, Tq, Ts) over encoder steps -> over the source positions."""
        if self.order is None:
            return weights
        out = np.empty_like(weights)
        np.put_along_axis(out, np.broadcast_to(self.order[:, None, :], weights.shape), weights, axis=2)
        return out


class Encoder(nn.Module):
    """Embedding -> LSTM. src (N, Ts) int ids [+ lengths (N,)] -> EncoderOutput."""

    def __init__(self, vocab_size: int, embed_dim: int, hidden_size: int, num_layers: int = 1, dropout: float = 0.0,
                 reverse_input: bool = False, padding_idx: int | None = None):
        super().__init__()
        self.reverse_input = reverse_input
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=padding_idx)
        self.lstm = nn.LSTM(embed_dim, hidden_size, num_layers, batch_first=True, dropout=dropout)

    def forward(self, src, lengths=None) -> EncoderOutput:
        src = _ids(src)
        N, T = src.shape
        order = reversal_index(lengths, N, T) if self.reverse_input else None
        if order is not None:
            src = np.take_along_axis(src, order, axis=1)
        outputs, state = self.lstm(self.embedding(src), lengths=lengths)
        mask = None if lengths is None else np.arange(T)[None, :] >= _ids(lengths)[:, None]
        return EncoderOutput(outputs, state, mask, order)

    def extra_repr(self):
        return "reverse_input=True" if self.reverse_input else ""


class Decoder(nn.Module):
    """Embedding -> LSTM -> Linear, the LSTM started from (encoder h_n, 0).

    forward(tokens (N, T), memory, state=None) -> (logits (N, T, V), state, attention weights or None).
    Training runs all T steps at once (teacher forcing); decoding calls it with T = 1 and the state."""

    def __init__(self, vocab_size: int, embed_dim: int, hidden_size: int, num_layers: int = 1, dropout: float = 0.0,
                 **kw):
        super().__init__()
        self.hidden_size = hidden_size
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.lstm = nn.LSTM(embed_dim + self.peek_size(), hidden_size, num_layers, batch_first=True,
                            dropout=dropout)
        self._build(**kw)
        self.fc = nn.Linear(hidden_size + self.extra_features(), vocab_size)

    # hooks for the variants ---------------------------------------------------------------
    def peek_size(self) -> int:
        """Features added to every LSTM input (PeekyDecoder: the encoder's h)."""
        return 0

    def extra_features(self) -> int:
        """Features added to the Linear's input (peek: h; attention: the context)."""
        return 0

    def _build(self, **kw):
        if kw:
            raise TypeError(f"{type(self).__name__}: unexpected arguments {sorted(kw)}")

    def lstm_input(self, x, memory):
        return x

    def readout(self, out, memory):
        """(features for the Linear (N, T, *), attention weights or None)."""
        return out, None

    # -----------------------------------------------------------------------------------------
    def init_state(self, memory: EncoderOutput) -> tuple:
        """(h_0, c_0) = (encoder h_n, zeros), as the book's `lstm.set_state(h)`."""
        h = memory.state[0]
        return h, Tensor(np.zeros(h.shape, h.dtype))

    def forward(self, tokens, memory: EncoderOutput, state=None):
        state = self.init_state(memory) if state is None else state
        x = self.lstm_input(self.embedding(_ids(tokens)), memory)
        out, state = self.lstm(x, state)
        features, weights = self.readout(out, memory)
        return self.fc(features), state, weights


def _peek(x, memory):
    """cat([h repeated over the T steps of x, x], -1) with h the encoder's last-layer h_n (N, H)."""
    h = memory.state[0][-1]
    N, T = x.shape[:2]
    return cat([h.unsqueeze(1).expand((N, T, h.shape[-1])), x], -1)


class PeekyDecoder(Decoder):
    """The book's peeky decoder: the encoder's h joins every LSTM input and the Linear's input."""

    def peek_size(self):
        return self.hidden_size

    def extra_features(self):
        return self.hidden_size

    def lstm_input(self, x, memory):
        return _peek(x, memory)

    def readout(self, out, memory):
        return _peek(out, memory), None


class AttentionDecoder(Decoder):
    """The book's attention decoder: LSTM output h_t queries all encoder states; Linear([c_t, h_t]).

    attention: "dot" (the book's), "general" or "additive" (Bahdanau's score)."""

    def _build(self, attention: str = "dot"):
        self.attention = nn.LuongAttention(self.hidden_size, self.hidden_size, attention)

    def extra_features(self):
        return self.hidden_size

    def readout(self, out, memory):
        context, weights = self.attention(out, memory.outputs, key_padding_mask=memory.key_padding_mask)
        return cat([context, out], -1), weights


class _EvalMode:
    """Switch a module to eval() inside the block and back to its previous mode after."""

    def __init__(self, module):
        self.module, self.was_training = module, module.training

    def __enter__(self):
        self.module.eval()

    def __exit__(self, *exc):
        self.module.train(self.was_training)


class Seq2seq(nn.Module):
    """Encoder + decoder: teacher-forced training, greedy and beam-search decoding."""

    def __init__(self, encoder: Encoder, decoder: Decoder):
        super().__init__()
        self.encoder, self.decoder = encoder, decoder

    def forward(self, src, tgt_in, src_lengths=None):
        """Teacher forcing: logits (N, T, V) for the next token after each of tgt_in (N, T), and weights."""
        logits, _, weights = self.decoder(tgt_in, self.encoder(src, src_lengths))
        return logits, weights

    def loss(self, src, tgt, src_lengths=None, ignore_index: int = -100) -> Tensor:
        """Mean cross-entropy of predicting tgt[:, 1:] from tgt[:, :-1] (tgt[:, 0] is the start symbol)."""
        tgt = _ids(tgt)
        logits, _ = self(src, tgt[:, :-1], src_lengths)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt[:, 1:].reshape(-1),
                               ignore_index=ignore_index)

    def greedy(self, src, start, max_len: int, src_lengths=None):
        """Argmax decoding: (tokens (N, max_len) int64, attention weights (N, max_len, Ts) over the source
        positions, or None without attention). start: the start id, scalar or (N,)."""
        with no_grad(), _EvalMode(self):
            memory = self.encoder(src, src_lengths)
            N = memory.outputs.shape[0]
            token = np.broadcast_to(_ids(start), (N,)).reshape(N, 1)
            state, tokens, weights = None, [], []
            for _ in range(max_len):
                logits, state, w = self.decoder(token, memory, state)
                token = logits.data[:, -1].argmax(-1).reshape(N, 1)
                tokens.append(token)
                weights.append(w)
        attention = None if weights[0] is None else memory.to_source_order(np.concatenate(
            [w.data for w in weights], 1))
        return np.concatenate(tokens, 1), attention

    def beam_search(self, src, start, max_len: int, beam_width: int = 3, src_lengths=None, eos: int | None = None):
        """Keep the beam_width most probable prefixes per sample: (tokens (N, B, max_len), log-probs (N, B)),
        best first. A beam that emitted `eos` keeps emitting it at no cost (the scores are sums of log-probs,
        without length normalisation). beam_width=1 is greedy decoding."""
        B = int(beam_width)
        with no_grad(), _EvalMode(self):
            memory = self.encoder(src, src_lengths)
            N = memory.outputs.shape[0]
            memory = memory.take(np.repeat(np.arange(N), B))          # row n*B + b: sample n, beam b
            token = np.repeat(np.broadcast_to(_ids(start), (N,)), B).reshape(N * B, 1)
            scores = np.zeros((N, B), np.float32)
            scores[:, 1:] = -np.inf                                   # at first every beam is the same prefix
            history = np.zeros((N, B, 0), np.int64)
            finished = np.zeros((N, B), bool)
            state = None
            for _ in range(max_len):
                logits, state, _ = self.decoder(token, memory, state)
                logp = F.log_softmax(logits[:, -1], -1).data.reshape(N, B, -1)
                V = logp.shape[-1]
                if eos is not None and finished.any():
                    logp[finished] = -np.inf
                    logp[finished, eos] = 0.0
                total = (scores[:, :, None] + logp).reshape(N, B * V)
                best = np.argsort(-total, axis=1, kind="stable")[:, :B]    # (N, B) among B*V candidates
                scores = np.take_along_axis(total, best, 1)
                parent, new = np.divmod(best, V)
                history = np.concatenate([np.take_along_axis(history, parent[:, :, None], 1), new[:, :, None]], 2)
                finished = np.take_along_axis(finished, parent, 1) | (new == eos)
                rows = (np.arange(N)[:, None] * B + parent).reshape(-1)
                state = tuple(s[:, rows] for s in state)
                token = new.reshape(N * B, 1)
        return history, scores


def book_init_(model: nn.Module) -> nn.Module:
    """The book's initialisation: embeddings N(0, 0.01^2); LSTM and Linear weights N(0, 1/fan_in)
    (`randn(D, H) / sqrt(D)`); biases zero. Returns the model."""
    from ..nn import init
    for m in model.modules():
        if isinstance(m, nn.Embedding):
            init.normal_(m.weight, 0.0, 0.01)
            if m.padding_idx is not None:
                m.weight.data[m.padding_idx] = 0
        elif isinstance(m, (nn.LSTM, nn.Linear)):
            for name, p in m.named_parameters(recurse=False):
                if name.startswith("bias"):
                    init.zeros_(p)
                else:
                    init.normal_(p, 0.0, float(p.shape[1]) ** -0.5)
    return model


DECODERS = {"seq2seq": Decoder, "seq2seq-peeky": PeekyDecoder, "seq2seq-attn": AttentionDecoder}
MODELS = tuple(DECODERS)


def build_seq2seq(kind: str, vocab_size: int, embed_dim: int = 16, hidden_size: int = 128, num_layers: int = 1,
                  dropout: float = 0.0, reverse_input: bool = False, attention: str = "dot", init: str = "book",
                  padding_idx: int | None = None) -> Seq2seq:
    """A Seq2seq of kind "seq2seq", "seq2seq-peeky" or "seq2seq-attn" (init "book" or "torch": PyTorch's
    layer defaults). Uses scratchgrad's global generator: seed it first."""
    if kind not in DECODERS:
        raise ValueError(f"unknown seq2seq model {kind!r}; choose from {', '.join(DECODERS)}")
    extra = {"attention": attention} if kind == "seq2seq-attn" else {}
    model = Seq2seq(Encoder(vocab_size, embed_dim, hidden_size, num_layers, dropout, reverse_input, padding_idx),
                    DECODERS[kind](vocab_size, embed_dim, hidden_size, num_layers, dropout, **extra))
    if init == "book":
        book_init_(model)
    elif init != "torch":
        raise ValueError(f"init must be 'book' or 'torch', got {init!r}")
    return model
