"""rnnlab layers, importable as in Keras: ``from rnnlab.layers import SimpleRNN, Dense``."""
from rnnlab.layers.attention import AdditiveAttention, Attention, MultiHeadAttention
from rnnlab.layers.base import LAYERS, Layer
from rnnlab.layers.conv import Conv1D, Convolution1D
from rnnlab.layers.core import Activation, Dense, Dropout, Flatten, Lambda
from rnnlab.layers.embedding import Embedding
from rnnlab.layers.merge import Add, Average, Concatenate, Dot, Maximum, Minimum, Multiply, Subtract
from rnnlab.layers.normalization import BatchNormalization, LayerNormalization
from rnnlab.layers.pooling import (
                                 AveragePooling1D,
                                 AvgPool1D,
                                 GlobalAveragePooling1D,
                                 GlobalAvgPool1D,
                                 GlobalMaxPool1D,
                                 GlobalMaxPooling1D,
                                 MaxPool1D,
                                 MaxPooling1D,
)
from rnnlab.layers.recurrent import (
                                 GRU,
                                 LSTM,
                                 RNN,
                                 Cell,
                                 GRUCell,
                                 LSTMCell,
                                 SimpleRNN,
                                 SimpleRNNCell,
                                 StackedRNNCells,
)
from rnnlab.layers.regularization import (
                                 ActivityRegularization,
                                 GaussianDropout,
                                 GaussianNoise,
                                 SpatialDropout1D,
)
from rnnlab.layers.reshaping import (
                                 Cropping1D,
                                 Masking,
                                 Permute,
                                 RepeatVector,
                                 Reshape,
                                 ZeroPadding1D,
)
from rnnlab.layers.wrappers import Bidirectional, TimeDistributed

__all__ = ["LAYERS", "Layer", "Dense", "Activation", "Dropout", "Flatten", "SimpleRNN", "LSTM",
           "GRU", "RNN", "Cell", "SimpleRNNCell", "LSTMCell", "GRUCell", "StackedRNNCells",
           "Embedding", "Conv1D", "Convolution1D", "MaxPooling1D", "MaxPool1D", "AveragePooling1D",
           "AvgPool1D", "GlobalMaxPooling1D", "GlobalMaxPool1D", "GlobalAveragePooling1D",
           "GlobalAvgPool1D",
           "Add", "Average", "Concatenate", "Dot", "Maximum", "Minimum", "Multiply", "Subtract",
           "Cropping1D", "Masking", "Permute", "RepeatVector", "Reshape", "ZeroPadding1D",
           "Bidirectional", "TimeDistributed", "Lambda", "LayerNormalization",
           "BatchNormalization", "SpatialDropout1D", "GaussianNoise", "GaussianDropout",
           "ActivityRegularization", "Attention", "AdditiveAttention", "MultiHeadAttention"]
