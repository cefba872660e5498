"""minigrad: a reverse-mode autograd engine on NumPy (CPU) and CuPy (GPU).

    import minigrad as mg
    x = mg.randn(3, requires_grad=True)
    (x * x).sum().backward()      # x.grad == 2 * x
"""
import numpy as np

from .tensor import Tensor
from .autograd import Function
from .grad_mode import no_grad, enable_grad, set_grad_enabled, is_grad_enabled, detect_anomaly
from .graph import grad
from .factories import (tensor, zeros, ones, empty, full, arange, eye, rand, randn, randint,
                        zeros_like, ones_like, full_like, rand_like, randn_like, from_numpy,
                        randperm, linspace)
from .gradcheck import gradcheck, gradgradcheck, GradcheckError
from .backend import manual_seed, device
from .threads import set_num_threads, get_num_threads
from .allocator import keep_freed_memory
from .ops.elementwise import (exp, log, sqrt, sin, cos, tanh, sigmoid, relu, abs, clip,
                              maximum, minimum, where)
from .ops.reduce import (sum, mean, max, min, amax, amin, prod, var, std, logsumexp, argmax,
                         argmin, all, any)
from .ops.cumulative import cumsum, cumprod
from .ops.shape import (reshape, permute, transpose, broadcast_to, squeeze, unsqueeze, flatten,
                        cat, stack, pad)
from .ops.linalg import matmul, einsum, mm, bmm, outer, diag, tril, triu, norm
from .ops.compare import eq, ne, lt, le, gt, ge, allclose, sign, floor, ceil, round, nonzero
from .ops.along import gather, scatter, scatter_add, index_select
from .ops.sort import sort, argsort, topk
from .ops.split import split, chunk, unbind, narrow
from .ops.shape import clone
from .ops.fills import masked_fill
from .ops.elementwise import pow, clamp
from . import cuda, functional
from . import viz
from .trace import trace_backward
from .serialization_safetensors import save_safetensors, load_safetensors
from . import cuda as accelerator  # noqa: F401  (PyTorch's device-generic name; see cuda.py)

keep_freed_memory()  # a training loop's arrays reuse freed memory (see allocator.py)

# dtypes are NumPy's; PyTorch's names for them are aliases. The names float, int, bool shadow
# the builtins only as attributes of this package (mg.float), never inside the engine.
float16, float32, float64 = np.float16, np.float32, np.float64
int8, int16, int32, int64, uint8 = np.int8, np.int16, np.int32, np.int64, np.uint8
bool_ = bool = np.bool_
half, float, double = np.float16, np.float32, np.float64
short, int, long = np.int16, np.int32, np.int64


def save(obj, f):
    """Save ``obj`` (any nesting of dicts, lists, tuples, numbers, strings, None, arrays and
    Tensors) to ``f``, a path (written atomically) or a binary file object; never pickles."""
    from .serialization import save as _save
    return _save(obj, f)


def load(f, map_location=None, weights_only=None):
    """Load what :func:`save` wrote, from a path or a binary file object; ``map_location``
    moves the Tensors to a device; ``weights_only`` is accepted (loading never runs code)."""
    from .serialization import load as _load
    return _load(f, map_location=map_location, weights_only=weights_only)
