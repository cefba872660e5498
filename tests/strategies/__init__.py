"""Every hypothesis strategy the tests use, in one place (tested in test_strategies.py).

``import strategies as S`` gives them all; the modules read best in this order:

    values     arrays, shapes, broadcasting, axes, index keys, kinks and ties
    geometry   convolution and pooling set-ups over NCHW images, and their images
    ops        the ``*_inputs`` strategies the op registry (op_specs.py) draws from
    losses     the same for the losses and distances
    fuzz       the JSON cases of the kernel fuzzer, valid and invalid on purpose

Notation
--------
S                  this package, as the tests import it
(arrays, params)   what an ``*_inputs`` strategy gives: the differentiated arrays, the keywords
"""
from .values import (axes_for, broadcastable_pair, index_keys, matmul_shapes, positive,
                     probabilities, shapes, split, tied_values, values)
from .geometry import (conv_geometry, conv_keywords, conv_problems, im2col_cases, pool_geometry,
                       pool_images, pool_keywords)
from .ops import (adaptive_max_pool_inputs, adaptive_pool_inputs, affine_grid_inputs,
                  arrays_inputs, attention_inputs, avg_pool_inputs, axis_inputs, binary_inputs,
                  broadcast_inputs, cat_inputs, conv1d_inputs, conv_inputs, dim_inputs,
                  embedding_inputs, fold_inputs, gather_inputs, getitem_inputs, grid_sample_inputs,
                  interpolate_inputs, linear_inputs, matmul_inputs, max_pool_inputs, norm_inputs,
                  one_axis_inputs, pad_inputs, permute_inputs, phase_conv_inputs, pool1d_inputs,
                  repeat_inputs,
                  reshape_inputs, scatter_inputs, shuffle_inputs, torch_pad_inputs, unary_inputs,
                  unpool_inputs, winograd_conv_inputs, with_options)
from .losses import (bce_inputs, class_target_inputs, kl_div_inputs, logits_target_inputs,
                     margin_inputs, REDUCTIONS, soft_target_inputs, target_inputs, vectors_inputs)
from .losses_more import multilabel_margin_inputs, multilabel_soft_margin_inputs, poisson_nll_inputs, soft_margin_inputs  # noqa: F401,E501
from .fuzz import kernel_cases
