"""``layers``: Module, Parameter, initialisation and the standard layers, PyTorch-compatible.

Parameter names, shapes and default initialisations are PyTorch's, so a PyTorch state dict
converted to NumPy (``{k: v.numpy() for k, v in sd.items()}``) loads with
``load_state_dict`` and the layers give the same outputs.

    from layers import Conv2d, Flatten, Linear, ReLU, Sequential
    model = Sequential(Conv2d(1, 8, 3, padding=1), ReLU(), Flatten(), Linear(8 * 28 * 28, 10))

``print(model)`` shows the module tree; ``print(model.summary())`` adds the parameter counts.
"""
from . import init
from .parameter import Parameter
from .module import Module, RemovableHandle, IncompatibleKeys
from .container import Sequential, ModuleList, ModuleDict, Identity, Flatten, Unflatten
from .linear import Linear, Bilinear
from .conv import Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d
from .pooling import (MaxPool1d, MaxPool2d, MaxUnpool2d, AvgPool1d, AvgPool2d, AdaptiveAvgPool1d,
                      AdaptiveAvgPool2d, AdaptiveMaxPool1d, AdaptiveMaxPool2d, Upsample)
from .normalization import (BatchNorm1d, BatchNorm2d, InstanceNorm1d, InstanceNorm2d,
                            LayerNorm, GroupNorm, RMSNorm, LocalResponseNorm)
from .dropout import (AlphaDropout, Dropout, Dropout1d, Dropout2d, Dropout3d,
                      FeatureAlphaDropout)
from .padding import (ConstantPad1d, ConstantPad2d, ConstantPad3d, ZeroPad1d, ZeroPad2d,
                      ZeroPad3d, ReflectionPad1d, ReflectionPad2d, ReflectionPad3d,
                      ReplicationPad1d, ReplicationPad2d, ReplicationPad3d, CircularPad1d,
                      CircularPad2d, CircularPad3d)
from .pixelshuffle import ChannelShuffle, PixelShuffle, PixelUnshuffle
from .fold import Fold, Unfold
from .parameter_containers import ParameterList, ParameterDict
from .activation import (ReLU, LeakyReLU, ELU, SELU, GELU, Sigmoid, Tanh, SiLU, Softplus,
                         Softmax, LogSoftmax, ReLU6, Hardtanh, Hardsigmoid, Hardswish, Mish, CELU,
                         Softsign, Softmin, Tanhshrink, Softshrink, Hardshrink, Threshold, GLU,
                         LogSigmoid, PReLU)
from .embedding import Embedding
from .parallel import DistributedDataParallel, SyncBatchNorm
from .attention import MultiheadAttention
from .transformer import (TransformerEncoderLayer, TransformerDecoderLayer, TransformerEncoder,
                          TransformerDecoder, Transformer, PositionalEncoding,
                          LearnedPositionalEncoding)
from .rnn import RNNCell, LSTMCell, GRUCell, RNN, LSTM, GRU
from .loss import (CrossEntropyLoss, NLLLoss, MSELoss, L1Loss, SmoothL1Loss, HuberLoss, BCELoss,
                   BCEWithLogitsLoss, KLDivLoss, MarginRankingLoss, HingeEmbeddingLoss,
                   MultiMarginLoss, CosineEmbeddingLoss, TripletMarginLoss, GaussianNLLLoss,
                   CosineSimilarity, PairwiseDistance, SoftMarginLoss, MultiLabelSoftMarginLoss,
                   PoissonNLLLoss, MultiLabelMarginLoss)

from .graph import (EdgeModel, NodeModel, MessagePassing, GCNConv, GATConv, GINConv,  # noqa: E501
                    global_add_pool, global_mean_pool, global_max_pool)

__all__ = ["init", "Parameter", "Module", "RemovableHandle", "IncompatibleKeys", "Sequential",
           "ModuleList", "ModuleDict", "Identity", "Flatten", "Unflatten", "Linear", "Bilinear",
           "Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d", "MaxPool1d", "MaxPool2d",
           "MaxUnpool2d", "AvgPool1d", "AvgPool2d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d",
           "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "Upsample", "BatchNorm1d", "BatchNorm2d",
           "InstanceNorm1d", "InstanceNorm2d", "LayerNorm", "GroupNorm", "RMSNorm",
           "LocalResponseNorm", "Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout",
           "FeatureAlphaDropout", "ConstantPad1d", "ConstantPad2d", "ConstantPad3d", "ZeroPad1d",
           "ZeroPad2d", "ZeroPad3d", "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d",
           "ReplicationPad1d", "ReplicationPad2d", "ReplicationPad3d", "CircularPad1d",
           "CircularPad2d", "CircularPad3d", "ChannelShuffle", "PixelShuffle", "PixelUnshuffle",
           "Fold", "Unfold", "ParameterList", "ParameterDict", "ReLU", "LeakyReLU", "ELU", "SELU",
           "GELU", "Sigmoid", "Tanh", "SiLU", "Softplus", "Softmax", "LogSoftmax", "ReLU6",
           "Hardtanh", "Hardsigmoid", "Hardswish", "Mish", "CELU", "Softsign", "Softmin",
           "Tanhshrink", "Softshrink", "Hardshrink", "Threshold", "GLU", "LogSigmoid", "PReLU",
           "Embedding", "RNNCell", "LSTMCell", "GRUCell", "RNN", "LSTM", "GRU", "CrossEntropyLoss",
           "NLLLoss", "MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss", "BCELoss",
           "BCEWithLogitsLoss", "KLDivLoss", "MarginRankingLoss", "HingeEmbeddingLoss",
           "MultiMarginLoss", "CosineEmbeddingLoss", "TripletMarginLoss", "GaussianNLLLoss",
           "SoftMarginLoss", "MultiLabelSoftMarginLoss", "PoissonNLLLoss", "MultiLabelMarginLoss",
           "CosineSimilarity", "PairwiseDistance", "MultiheadAttention", "TransformerEncoderLayer",
           "TransformerDecoderLayer", "TransformerEncoder", "TransformerDecoder", "Transformer",
           "PositionalEncoding", "LearnedPositionalEncoding"]
__all__ += ["EdgeModel", "NodeModel", "MessagePassing", "GCNConv", "GATConv", "GINConv",
            "global_add_pool", "global_mean_pool", "global_max_pool"]
__all__ += ["DistributedDataParallel", "SyncBatchNorm"]
