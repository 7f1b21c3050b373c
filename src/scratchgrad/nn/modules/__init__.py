"""Layers, grouped as in torch.nn.modules (one line per file; `nn` re-exports them all)."""
from .activation import (ELU, GELU, Hardtanh, LeakyReLU, LogSoftmax, PReLU, ReLU, ReLU6, Sigmoid, SiLU, Softmax,
                         Softplus, Tanh)
from .attention import AdditiveAttention, BahdanauAttention, DotAttention, GeneralAttention, LuongAttention
from .container import ModuleDict, ModuleList, Sequential
from .conv import Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d
from .dropout import Dropout
from .linear import Flatten, Identity, Linear, Maxout
from .loss import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, KLDivLoss, L1Loss, MSELoss, NLLLoss,
                   SmoothL1Loss)
from .multihead import MultiheadAttention
from .normalization import (BatchNorm1d, BatchNorm2d, GroupNorm, InstanceNorm1d, InstanceNorm2d, InstanceNorm3d,
                            LayerNorm, LocalResponseNorm, SwitchableNorm2d)
from .deform_conv import DeformableConv2d, DeformConv2d
from .pooling_variants import (AdaptiveAvgMaxPool2d, AvgMaxPool2d, BilinearPooling, MedianPool2d, NetVLAD,
                               SpatialPyramidPooling, StochasticPool2d)
from .pooling import (AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveMaxPool1d, AdaptiveMaxPool2d, AvgPool1d,
                      AvgPool2d, MaxPool1d, MaxPool2d, MaxUnpool2d)
from .rnn import GRU, LSTM, RNN, PackedSequence, pack_padded_sequence, pad_packed_sequence
from .rnn_cells import GRUCell, LSTMCell, RNNCell
from .sparse import Embedding
from .squeeze_excitation import SqueezeExcitation
from .transformer import (PositionalEncoding, TransformerEncoder, TransformerEncoderLayer,
                          generate_square_subsequent_mask)
from .upsampling import (ChannelShuffle, PixelShuffle, PixelUnshuffle, Upsample, UpsamplingBilinear2d,
                         UpsamplingNearest2d)

__all__ = [n for n in dir() if not n.startswith("_")]
