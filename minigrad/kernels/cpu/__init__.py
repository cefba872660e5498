"""CPU kernels compiled with ``numba.njit``; the same names and signatures as ``minigrad.kernels.gpu``.

The parallel kernels run on Numba's OpenMP thread pool, while NumPy's matrix products run on
BLAS's own threads (or minigrad's, kernels/gemm.py). The pool waits passively between kernels:
``minigrad/threads.py`` sets ``OMP_WAIT_POLICY=PASSIVE`` when minigrad is imported, before
the OpenMP runtime can start.
"""

from .pool import (max_pool2d, scatter_to_indices, gather_at_indices,  # noqa: F401
                   avg_pool2d, avg_pool2d_adjoint, adaptive_avg_pool2d,
                   adaptive_avg_pool2d_adjoint)
from .resample import upsample_bilinear2d, upsample_bilinear2d_adjoint  # noqa: F401
from .special import erf  # noqa: F401
from .conv import im2col, col2im, CONV_CHUNK_BYTES  # noqa: F401
from .conv_rows import im2col_rows, col2im_rows  # noqa: F401
from .roi import roi_align, roi_align_adjoint, roi_pool, roi_pool_adjoint, roi_pool_gather, nms  # noqa: F401,E501
from .scatter import gather, scatter_add, scatter_mean, scatter_max, scatter_min, segment_softmax  # noqa: F401,E501
from .softmax import softmax, log_softmax, cross_entropy, cross_entropy_backward  # noqa: F401
from .norm import batch_norm_forward, batch_norm_backward, layer_norm_forward, layer_norm_backward  # noqa: F401,E501
from .optim import sgd_update_, adam_update_  # noqa: F401
from .activation import relu, relu_backward, select, select_takes  # noqa: F401
from .winograd import (winograd_tiles, winograd_weight, winograd_input, winograd_output,  # noqa: F401
                       winograd_output_adjoint, winograd_weight_adjoint, WINOGRAD_CHUNK_BYTES,
                       WINOGRAD_KERNEL_SIZES)
from .winograd_phases import (phase_tiles, phase_weight, phase_weight_adjoint,  # noqa: F401
                              phase_input, phase_output)
