"""The Tensor: an array (NumPy or CuPy) plus what reverse-mode autodiff needs to know about it.

Every operator and method is a one-line delegation to an op in ``minigrad.ops``; the graph is
recorded by those ops (see ``autograd.Function.apply``), never here.

Notation
--------
data           the raw ``numpy.ndarray`` or ``cupy.ndarray``
grad_fn        the node (a ``Function``) that produced this tensor; None for a leaf
output_nr      which of that node's outputs this tensor is
version        bumped by every in-place change, so a backward can tell if saved data moved
"""
import numpy as np

from . import backend
from .autograd import run_backward, _root_grad, is_grad_enabled


def _default_dtype(array):
    """Python floats become float32 (the default dtype); other dtypes are kept."""
    if array.dtype == np.float64:
        return np.float32
    return array.dtype


class Tensor:
    """An n-dimensional array that can record the operations applied to it.

    Parameters
    ----------
    data : array_like, Tensor, numpy.ndarray or cupy.ndarray
        Nested lists and Python numbers become float32 (floats), int64 or bool arrays; NumPy and
        CuPy arrays keep their dtype.
    dtype : numpy dtype, optional
    device : {'cpu', 'cuda', 'cuda:N'}, optional
        Defaults to where ``data`` already lives (``'cpu'`` for lists).
    requires_grad : bool
        Whether ``backward`` should compute a gradient for this tensor.
    """

    __slots__ = ("data", "__dict__", "__weakref__")
    __array_priority__ = 1000  # ndarray <op> Tensor defers to Tensor's reflected operator

    # Class-level defaults: a new Tensor sets only what differs, which keeps the ops' hot path
    # (Tensor._wrap, called for every result) to two attribute writes.
    grad = None
    requires_grad = False
    _grad_fn = None
    _output_nr = 0
    _version = 0
    _hooks = None

    def __init__(self, data, dtype=None, device=None, requires_grad=False):
        if isinstance(data, Tensor):
            data = data.data
        if device is None:
            device = backend.device_of(data)
        xp = backend.module_for(device)
        if backend.is_cuda_array(data) or isinstance(data, np.ndarray):
            array = backend.to_device(data, device)
            if dtype is not None:
                array = array.astype(dtype, copy=False)
        else:
            array = np.asarray(data)
            if dtype is None:
                dtype = _default_dtype(array)
            array = xp.asarray(array.astype(dtype, copy=False))
            if xp is not np:
                array = backend.to_device(array, device)
        if requires_grad and array.dtype.kind not in "fc":
            raise TypeError(f"only floating point tensors can require grad, got {array.dtype}")
        self.data = array
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self._grad_fn = None
        self._output_nr = 0
        self._version = 0
        self._hooks = None

    @classmethod
    def _wrap(cls, array, requires_grad=False):
        """A Tensor around an existing array, with no checks or copies (the ops' fast path)."""
        if type(array) is not np.ndarray and not backend.is_cuda_array(array):
            array = np.asarray(array)
        t = object.__new__(Tensor)
        t.data = array
        if requires_grad:
            t.requires_grad = True
        return t

    # Properties -------------------------------------------------------------------------------
    @property
    def shape(self):
        return self.data.shape

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def device(self):
        return backend.device_of(self.data)

    @property
    def is_leaf(self):
        return self._grad_fn is None

    @property
    def grad_fn(self):
        return self._grad_fn

    @property
    def T(self):
        return S.transpose(self)

    def size(self, axis=None):
        """The shape, or the length of one axis (PyTorch's ``size``); ``numel()`` counts."""
        return self.data.shape if axis is None else self.data.shape[axis]

    def numel(self):
        return int(self.data.size)

    def __len__(self):
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __repr__(self):
        body = np.array2string(backend.to_numpy(self.data), separator=", ", prefix="tensor(")
        extra = ""
        if self.data.dtype != np.float32:
            extra += f", dtype={self.data.dtype}"
        if self.device != "cpu":
            extra += f", device='{self.device}'"
        if self._grad_fn is not None:
            extra += f", grad_fn=<{type(self._grad_fn).__name__}>"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    def __hash__(self):
        return id(self)

    def __bool__(self):
        if self.data.size != 1:
            raise ValueError(f"the truth value of a tensor of shape {self.shape} is ambiguous")
        return bool(self.data)

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        return int(self.item())

    # Conversion and graph control -------------------------------------------------------------
    def numpy(self):
        """A host NumPy array (a copy for GPU tensors, the array itself on the CPU)."""
        return backend.to_numpy(self.data)

    def item(self):
        if self.data.size != 1:
            raise ValueError(f"item(): only one-element tensors convert to a number, got shape "
                             f"{self.shape}")
        return self.data.reshape(()).item()

    def tolist(self):
        return self.numpy().tolist()

    def to(self, device=None, dtype=None):
        """A copy on ``device`` and/or with ``dtype``, recorded in the graph (grads flow back)."""
        out = self
        if dtype is not None:
            out = E.cast(out, np.dtype(dtype))
        if device is not None and backend.parse_device(device) != self.device:
            out = ToDevice.apply(out, backend.parse_device(device))
        return out

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=0):
        return self.to(f"cuda:{device}" if isinstance(device, int) else device)

    def astype(self, dtype):
        return E.cast(self, np.dtype(dtype))

    def float(self):
        return self.astype(np.float32)

    def double(self):
        return self.astype(np.float64)

    def long(self):
        return self.astype(np.int64)

    def detach(self):
        """The same data, cut off from the graph (shares memory, as in PyTorch)."""
        return Tensor._wrap(self.data)

    def requires_grad_(self, flag=True):
        if not self.is_leaf:
            raise RuntimeError("requires_grad_ can only change leaf tensors; use detach() "
                               "to start a new leaf from a computed tensor")
        if flag and self.data.dtype.kind not in "fc":
            raise TypeError(f"only floating point tensors can require grad, got {self.dtype}")
        self.requires_grad = bool(flag)
        return self

    def backward(self, grad=None, retain_graph=False, create_graph=False):
        """Accumulate d(self)/d(leaf) into ``.grad`` of every leaf that requires grad.

        Parameters
        ----------
        grad : Tensor or array, optional
            dL/d(self); may be omitted for a one-element tensor (then 1).
        retain_graph : bool
            Keep saved arrays so that backward can run through this graph again.
        create_graph : bool
            Record the backward pass itself, for higher-order derivatives.
        """
        root = _root_grad(self, grad, "backward")
        run_backward([self], [root], retain_graph or create_graph, create_graph)

    def register_hook(self, fn):
        """Call ``fn(grad)`` when this tensor's gradient is computed; a non-None return value
        replaces the gradient. Returns a handle whose ``remove()`` unregisters it."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that does not require grad")
        if self._grad_fn is None:
            if self._hooks is None:
                self._hooks = []
            hooks = self._hooks
        else:
            node = self._grad_fn
            if node._hooks is None:
                node._hooks = {}
            hooks = node._hooks.setdefault(self._output_nr, [])
        hooks.append(fn)
        return _HookHandle(hooks, fn)

    def retain_grad(self):
        """Keep the gradient of a non-leaf tensor in ``.grad`` after backward."""
        if self._grad_fn is None:
            return
        def store(g):
            self.grad = g if self.grad is None else self.grad + g
        self.register_hook(store)

    # In-place updates (no graph) --------------------------------------------------------------
    def _inplace(self, op, other):
        if self.requires_grad and is_grad_enabled():
            kind = "a leaf tensor that requires grad" if self.is_leaf else \
                "a tensor that is part of the graph"
            raise RuntimeError(
                f"in-place {op} on {kind} (shape {self.shape}) would corrupt its gradient; "
                f"use an out-of-place op (x = x {op[1:]} y) or wrap the update in mg.no_grad()")
        other = other.data if isinstance(other, Tensor) else other
        result = getattr(self.data, op)(other)
        if result is NotImplemented:
            raise TypeError(f"in-place {op} is not supported between {self.dtype} and "
                            f"{type(other).__name__}")
        self._version += 1
        return self

    def __iadd__(self, other):
        return self._inplace("__iadd__", other)

    def __isub__(self, other):
        return self._inplace("__isub__", other)

    def __imul__(self, other):
        return self._inplace("__imul__", other)

    def __itruediv__(self, other):
        return self._inplace("__itruediv__", other)

    def zero_(self):
        with_grad = self.requires_grad and is_grad_enabled()
        if with_grad:
            raise RuntimeError(f"in-place zero_ on a tensor that requires grad (shape "
                               f"{self.shape}); wrap it in mg.no_grad()")
        self.data[...] = 0
        self._version += 1
        return self

    def copy_(self, src):
        """Overwrite the data in place with ``src`` (broadcast), e.g. to load weights."""
        if self.requires_grad and is_grad_enabled():
            raise RuntimeError(f"in-place copy_ into a tensor that requires grad (shape "
                               f"{self.shape}); wrap it in mg.no_grad()")
        src = src.data if isinstance(src, Tensor) else src
        self.data[...] = backend.to_device(src, self.device) if hasattr(src, "shape") else src
        self._version += 1
        return self

    def __setitem__(self, key, value):
        if self.requires_grad and is_grad_enabled():
            raise RuntimeError(f"in-place assignment into a tensor that requires grad (shape "
                               f"{self.shape}); build a new tensor (e.g. mg.where) instead")
        value = value.data if isinstance(value, Tensor) else value
        self.data[I._raw_key(key, backend.xp_of(self.data))] = value
        self._version += 1

    # Arithmetic: each a one-line delegation to a Function ------------------------------------
    def __add__(self, other):
        return E.Add.apply(self, other)

    def __radd__(self, other):
        return E.Add.apply(other, self)

    def __sub__(self, other):
        return E.Sub.apply(self, other)

    def __rsub__(self, other):
        return E.Sub.apply(other, self)

    def __mul__(self, other):
        return E.Mul.apply(self, other)

    def __rmul__(self, other):
        return E.Mul.apply(other, self)

    def __truediv__(self, other):
        return E.Div.apply(self, other)

    def __rtruediv__(self, other):
        return E.Div.apply(other, self)

    def __pow__(self, other):
        return E.Pow.apply(self, other)

    def __rpow__(self, other):
        return E.Pow.apply(other, self)

    def __matmul__(self, other):
        return L.matmul(self, _as_tensor(other, self))

    def __rmatmul__(self, other):
        return L.matmul(_as_tensor(other, self), self)

    def __neg__(self):
        return E.Neg.apply(self)

    def __abs__(self):
        return E.abs(self)

    def __getitem__(self, key):
        return I.getitem(self, key)

    # Comparisons: no gradient, a boolean tensor ------------------------------------------------
    def _compare(self, other, op):
        other = other.data if isinstance(other, Tensor) else other
        return Tensor._wrap(getattr(self.data, op)(other))

    def __lt__(self, other):
        return self._compare(other, "__lt__")

    def __le__(self, other):
        return self._compare(other, "__le__")

    def __gt__(self, other):
        return self._compare(other, "__gt__")

    def __ge__(self, other):
        return self._compare(other, "__ge__")

    def __eq__(self, other):
        return self._compare(other, "__eq__")

    def __ne__(self, other):
        return self._compare(other, "__ne__")

    # Methods --------------------------------------------------------------------------------
    def sum(self, axis=None, keepdims=False):
        return R.sum(self, axis, keepdims)

    def mean(self, axis=None, keepdims=False):
        return R.mean(self, axis, keepdims)

    def max(self, axis=None, keepdims=False):
        return R.max(self, axis, keepdims)

    def min(self, axis=None, keepdims=False):
        return R.min(self, axis, keepdims)

    def prod(self, axis=None, keepdims=False):
        return R.prod(self, axis, keepdims)

    def var(self, axis=None, keepdims=False, correction=1):
        return R.var(self, axis, keepdims, correction)

    def std(self, axis=None, keepdims=False, correction=1):
        return R.std(self, axis, keepdims, correction)

    def logsumexp(self, axis=None, keepdims=False):
        return R.logsumexp(self, axis, keepdims)

    def argmax(self, axis=None, keepdims=False):
        return R.argmax(self, axis, keepdims)

    def argmin(self, axis=None, keepdims=False):
        return R.argmin(self, axis, keepdims)

    def exp(self):
        return E.Exp.apply(self)

    def log(self):
        return E.Log.apply(self)

    def sqrt(self):
        return E.Sqrt.apply(self)

    def sin(self):
        return E.Sin.apply(self)

    def cos(self):
        return E.Cos.apply(self)

    def tanh(self):
        return E.Tanh.apply(self)

    def sigmoid(self):
        return E.Sigmoid.apply(self)

    def relu(self):
        return E.ReLU.apply(self)

    def abs(self):
        return E.abs(self)

    def clip(self, low=None, high=None):
        return E.clip(self, low, high)

    clamp = clip

    def reshape(self, *shape):
        return S.reshape(self, *shape)

    view = reshape

    def transpose(self, *axes):
        return S.transpose(self, *axes)

    def permute(self, *axes):
        return S.permute(self, *axes)

    def flatten(self, start=0, end=-1):
        return S.flatten(self, start, end)

    def squeeze(self, axis=None):
        return S.squeeze(self, axis)

    def unsqueeze(self, axis):
        return S.unsqueeze(self, axis)

    def expand(self, *sizes):
        return S.expand(self, *sizes)

    def broadcast_to(self, shape):
        return S.broadcast_to(self, shape)

    def repeat(self, *sizes):
        return S.repeat(self, *sizes)


class _HookHandle:
    def __init__(self, hooks, fn):
        self._hooks, self._fn = hooks, fn

    def remove(self):
        if self._fn in self._hooks:
            self._hooks.remove(self._fn)


def raw(x):
    """The array inside a Tensor; anything else unchanged (for masks, indices, constants)."""
    return x.data if isinstance(x, Tensor) else x


def _as_tensor(x, like):
    return x if isinstance(x, Tensor) else Tensor(x, dtype=like.dtype, device=like.device)


from . import autograd  # noqa: E402  (Tensor must exist before the ops import it)
from .autograd import Function  # noqa: E402
autograd.Tensor = Tensor


class ToDevice(Function):
    """out = x copied to ``device``;  dL/dx = g copied back to x's device."""

    @staticmethod
    def forward(ctx, x, device):
        ctx.device = backend.device_of(x)
        return backend.to_device(x, device)

    @staticmethod
    def backward(ctx, grad_output):
        return (ToDevice.apply(grad_output, ctx.device), None)


from .ops import elementwise as E  # noqa: E402
from .ops import reduce as R  # noqa: E402
from .ops import shape as S  # noqa: E402
from .ops import index as I  # noqa: E402
from .ops import linalg as L  # noqa: E402
autograd.sum_to = S.sum_to
