"""The Tensor: an array (NumPy or CuPy) plus what reverse-mode autodiff needs to know about it.

Every operator and method is a one-line delegation to an op in ``minigrad.ops``; the graph is
recorded by those ops (see ``autograd.Function.apply``), never here. In-place changes and the
version counter live in ``ops/inplace.py`` and ``ops/fills.py``, gradient hooks in hooks.py.

Notation
--------
data           the raw ``numpy.ndarray`` or ``cupy.ndarray``
grad_fn        the node (a ``Function``) that produced this tensor; None for a leaf
output_nr      which of that node's outputs this tensor is
version        bumped by every in-place change, so a backward can tell if saved data moved;
               a tensor shares its counter with its ``detach()``es and views (same memory)
"""
import numpy as np

from . import backend, hooks


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
        CuPy arrays keep their dtype, and are used without a copy when no other dtype or device
        is asked for (as ``torch.as_tensor``): changing the array changes the tensor.
    dtype : numpy dtype, optional
    device : {'cpu', 'cuda', 'cuda:N'}, optional
        Defaults to where ``data`` already lives (``'cpu'`` for lists).
    requires_grad : bool
        Whether ``backward`` should compute a gradient for this tensor.
    """

    # What every Tensor has is a slot, set by each constructor: an op's result then needs no
    # attribute dict, which would be one more object for the cyclic garbage collector to scan
    # for each node of a live graph (see gc_policy.py). The rest lives in the dict, with
    # class-level defaults, and is set on the few tensors that differ (leaves, hooked tensors).
    __slots__ = ("data", "requires_grad", "_grad_fn", "_output_nr", "__dict__", "__weakref__")
    __array_priority__ = 1000  # ndarray <op> Tensor defers to Tensor's reflected operator

    grad = None
    _version_counter = None   # created on the first in-place change, detach() or save
    _hooks = None
    _retains_grad = False

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
        self.requires_grad = bool(requires_grad)
        self._grad_fn = None
        self._output_nr = 0

    @classmethod
    def _wrap(cls, array, requires_grad=False):
        """A Tensor around an existing array, with no checks or copies (the ops' fast path)."""
        if type(array) is not np.ndarray and not backend.is_cuda_array(array):
            array = np.asarray(array)
        t = object.__new__(Tensor)
        t.data = array
        t.requires_grad = requires_grad
        t._grad_fn = None
        t._output_nr = 0
        return t

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
        return shaping.transpose(self)

    @property
    def _version(self):
        counter = self._version_counter
        return 0 if counter is None else counter.value

    @_version.setter
    def _version(self, value):
        # ``t._version += 1`` (an optimizer's in-place step) bumps the shared counter.
        self._shared_version_counter().value = value

    def _shared_version_counter(self):
        if self._version_counter is None:
            self._version_counter = inplace.VersionCounter()
        return self._version_counter

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

    def to(self, *args, device=None, dtype=None, non_blocking=False):
        """A copy on another device and/or with another dtype, recorded in the graph (grads
        flow back); ``self`` when nothing changes.

        Takes PyTorch's forms: ``to('cuda')``, ``to(mg.device('cuda', 0))``, ``to(mg.float64)``,
        ``to('cuda', mg.float16)``, ``to(other)`` (other's device and dtype), and keywords.
        ``non_blocking`` is accepted and ignored: copies are synchronous.
        """
        device, dtype = to_args(Tensor, args, device, dtype)
        out = self
        if dtype is not None:
            out = elementwise.cast(out, dtype)
        if device is not None:
            out = to_device(out, device)
        return out

    @property
    def is_cuda(self):
        return backend.is_cuda_array(self.data)

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=None):
        return self.to("cuda" if device is None else device)

    def type(self, dtype=None):
        """With no argument, the type name (``'minigrad.FloatTensor'``, ``'minigrad.cuda.
        LongTensor'``); with a dtype (or such a name), the tensor cast to it, as ``to(dtype)``."""
        if dtype is None:
            return backend.type_name(self.dtype, self.is_cuda)
        return self.to(dtype=backend.dtype_of_name(dtype) if isinstance(dtype, str) else dtype)

    def astype(self, dtype):
        return elementwise.cast(self, np.dtype(dtype))

    def float(self):
        return self.astype(np.float32)

    def double(self):
        return self.astype(np.float64)

    def half(self):
        return self.astype(np.float16)

    def long(self):
        return self.astype(np.int64)

    def int(self):
        return self.astype(np.int32)

    def bool(self):
        return self.astype(np.bool_)

    def is_floating_point(self):
        return self.data.dtype.kind == "f"

    def detach(self):
        """The same data, cut off from the graph (shares memory and the version counter, as in
        PyTorch: changing the result in place is seen by a backward that saved ``self``)."""
        t = Tensor._wrap(self.data)
        t._version_counter = self._shared_version_counter()
        return t

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
        root = root_grad(self, grad, "backward")
        run_backward([self], [root], retain_graph or create_graph, create_graph)

    def register_hook(self, fn):
        """Call ``fn(grad)`` when this tensor's gradient is computed; a non-None return value
        replaces the gradient. Returns a handle whose ``remove()`` unregisters it."""
        return hooks.register_hook(self, fn)

    def retain_grad(self):
        """Keep the gradient of a non-leaf tensor in ``.grad`` after backward."""
        hooks.retain_grad(self)

    def __iadd__(self, other):
        return inplace.arithmetic(self, "+", other)

    def __isub__(self, other):
        return inplace.arithmetic(self, "-", other)

    def __imul__(self, other):
        return inplace.arithmetic(self, "*", other)

    def __itruediv__(self, other):
        return inplace.arithmetic(self, "/", other)

    def zero_(self):
        return inplace.zero_(self)

    def copy_(self, src):
        """Overwrite the data in place with ``src`` (broadcast), e.g. to load weights."""
        return inplace.copy_(self, src)

    def __setitem__(self, key, value):
        inplace.setitem(self, key, value)

    def __add__(self, other):
        return elementwise.Add.apply(self, other)

    def __radd__(self, other):
        return elementwise.Add.apply(other, self)

    def __sub__(self, other):
        return elementwise.Sub.apply(self, other)

    def __rsub__(self, other):
        return elementwise.Sub.apply(other, self)

    def __mul__(self, other):
        return elementwise.Mul.apply(self, other)

    def __rmul__(self, other):
        return elementwise.Mul.apply(other, self)

    def __truediv__(self, other):
        return elementwise.Div.apply(self, other)

    def __rtruediv__(self, other):
        return elementwise.Div.apply(other, self)

    def __pow__(self, other):
        return elementwise.Pow.apply(self, other)

    def __rpow__(self, other):
        return elementwise.Pow.apply(other, self)

    def __matmul__(self, other):
        return linalg.matmul(self, _as_tensor(other, self))

    def __rmatmul__(self, other):
        return linalg.matmul(_as_tensor(other, self), self)

    def __neg__(self):
        return elementwise.Neg.apply(self)

    def __abs__(self):
        return elementwise.abs(self)

    def __getitem__(self, key):
        return indexing.getitem(self, key)

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

    # Logical operators on boolean masks (``(a > 0) & (b < 1)``): no gradient, like comparisons.
    def __and__(self, other):
        return self._compare(other, "__and__")

    __rand__ = __and__

    def __or__(self, other):
        return self._compare(other, "__or__")

    __ror__ = __or__

    def __xor__(self, other):
        return self._compare(other, "__xor__")

    __rxor__ = __xor__

    def __invert__(self):
        return Tensor._wrap(~self.data)

    def sum(self, dim=None, keepdim=None, **aliases):
        return reduction.sum(self, dim, keepdim, **aliases)

    def mean(self, dim=None, keepdim=None, **aliases):
        return reduction.mean(self, dim, keepdim, **aliases)

    def max(self, dim=None, keepdim=None, **aliases):
        """The max; with an int ``dim``, the named tuple ``(values, indices)`` (see mg.max)."""
        return reduction.max(self, dim, keepdim, **aliases)

    def min(self, dim=None, keepdim=None, **aliases):
        """The min; with an int ``dim``, the named tuple ``(values, indices)`` (see mg.min)."""
        return reduction.min(self, dim, keepdim, **aliases)

    def amax(self, dim=None, keepdim=None, **aliases):
        return reduction.amax(self, dim, keepdim, **aliases)

    def amin(self, dim=None, keepdim=None, **aliases):
        return reduction.amin(self, dim, keepdim, **aliases)

    def prod(self, dim=None, keepdim=None, **aliases):
        return reduction.prod(self, dim, keepdim, **aliases)

    def var(self, dim=None, unbiased=None, keepdim=None, **options):
        return reduction.var(self, dim, unbiased, keepdim, **options)

    def std(self, dim=None, unbiased=None, keepdim=None, **options):
        return reduction.std(self, dim, unbiased, keepdim, **options)

    def logsumexp(self, dim=None, keepdim=None, **aliases):
        return reduction.logsumexp(self, dim, keepdim, **aliases)

    def argmax(self, dim=None, keepdim=None, **aliases):
        return reduction.argmax(self, dim, keepdim, **aliases)

    def argmin(self, dim=None, keepdim=None, **aliases):
        return reduction.argmin(self, dim, keepdim, **aliases)

    def all(self, dim=None, keepdim=None, **aliases):
        return reduction.all(self, dim, keepdim, **aliases)

    def any(self, dim=None, keepdim=None, **aliases):
        return reduction.any(self, dim, keepdim, **aliases)

    def cumsum(self, dim=None, **aliases):
        return cumulative.cumsum(self, dim, **aliases)

    def cumprod(self, dim=None, **aliases):
        return cumulative.cumprod(self, dim, **aliases)

    def exp(self):
        return elementwise.Exp.apply(self)

    def log(self):
        return elementwise.Log.apply(self)

    def sqrt(self):
        return elementwise.Sqrt.apply(self)

    def sin(self):
        return elementwise.Sin.apply(self)

    def cos(self):
        return elementwise.Cos.apply(self)

    def tanh(self):
        return elementwise.Tanh.apply(self)

    def sigmoid(self):
        return elementwise.Sigmoid.apply(self)

    def relu(self):
        return elementwise.ReLU.apply(self)

    def abs(self):
        return elementwise.abs(self)

    def clip(self, low=None, high=None):
        return elementwise.clip(self, low, high)

    def clamp(self, min=None, max=None):
        return elementwise.clip(self, min, max)

    def reshape(self, *shape):
        return shaping.reshape(self, *shape)

    view = reshape

    def transpose(self, *axes):
        return shaping.transpose(self, *axes)

    def permute(self, *axes):
        return shaping.permute(self, *axes)

    def flatten(self, start_dim=0, end_dim=-1):
        return shaping.flatten(self, start_dim, end_dim)

    def squeeze(self, dim=None, **aliases):
        return shaping.squeeze(self, dim, **aliases)

    def unsqueeze(self, dim=None, **aliases):
        return shaping.unsqueeze(self, dim, **aliases)

    def expand(self, *sizes):
        return shaping.expand(self, *sizes)

    def broadcast_to(self, shape):
        return shaping.broadcast_to(self, shape)

    def repeat(self, *sizes):
        return shaping.repeat(self, *sizes)

    def view_as(self, other):
        return shaping.reshape(self, other.shape)

    reshape_as = view_as

    def expand_as(self, other):
        return shaping.broadcast_to(self, other.shape)

    def type_as(self, other):
        return self.to(dtype=other.dtype)

    def clone(self):
        return shaping.clone(self)

    def contiguous(self):
        """``self``: arrays here have no strides to make contiguous."""
        return self

    def t(self):
        if self.ndim > 2:
            raise ValueError(f"t: expects at most 2 dims, got shape {self.shape}; use mT")
        return shaping.transpose(self)

    @property
    def mT(self):
        return shaping.transpose(self, -1, -2)

    def dim(self):
        return self.data.ndim

    def pow(self, exponent):
        return elementwise.Pow.apply(self, exponent)

    def eq(self, other):
        return compare.eq(self, other)

    def ne(self, other):
        return compare.ne(self, other)

    def lt(self, other):
        return compare.lt(self, other)

    def le(self, other):
        return compare.le(self, other)

    def gt(self, other):
        return compare.gt(self, other)

    def ge(self, other):
        return compare.ge(self, other)

    def sign(self):
        return compare.sign(self)

    def floor(self):
        return compare.floor(self)

    def ceil(self):
        return compare.ceil(self)

    def round(self, decimals=0):
        return compare.round(self, decimals)

    def nonzero(self, as_tuple=False):
        return compare.nonzero(self, as_tuple)

    def norm(self, p=2, dim=None, keepdim=False):
        return linalg.norm(self, p, dim, keepdim)

    def split(self, split_size_or_sections, dim=0):
        return splitting.split(self, split_size_or_sections, dim)

    def chunk(self, chunks, dim=0):
        return splitting.chunk(self, chunks, dim)

    def unbind(self, dim=0):
        return splitting.unbind(self, dim)

    def narrow(self, dim, start, length):
        return splitting.narrow(self, dim, start, length)

    def index_select(self, dim, index):
        return along.index_select(self, dim, index)

    def gather(self, dim, index):
        return along.gather(self, dim, index)

    def scatter(self, dim, index, src):
        return along.scatter(self, dim, index, src)

    def scatter_add(self, dim, index, src):
        return along.scatter_add(self, dim, index, src)

    def sort(self, dim=-1, descending=False, stable=False):
        return sorting.sort(self, dim, descending, stable)

    def argsort(self, dim=-1, descending=False, stable=False):
        return sorting.argsort(self, dim, descending, stable)

    def topk(self, k, dim=-1, largest=True, sorted=True):
        return sorting.topk(self, k, dim, largest, sorted)

    def masked_fill(self, mask, value):
        return fills.masked_fill(self, mask, value)

    def masked_fill_(self, mask, value):
        return fills.masked_fill_(self, mask, value)

    def fill_(self, value):
        return fills.fill_(self, value)

    def normal_(self, mean=0.0, std=1.0):
        return fills.normal_(self, mean, std)

    def uniform_(self, a=0.0, b=1.0):
        return fills.uniform_(self, a, b)

    def new_tensor(self, data, dtype=None, device=None, requires_grad=False):
        """A new leaf from ``data``, on this tensor's device and with its dtype by default."""
        return Tensor(data, dtype=dtype or self.dtype, device=device or self.device,
                      requires_grad=requires_grad)

    def new_full(self, size, fill_value, dtype=None, device=None, requires_grad=False):
        return factories.full(size, fill_value, dtype=dtype or self.dtype,
                              device=device or self.device, requires_grad=requires_grad)

    def new_zeros(self, *size, **options):
        return self.new_full(_size(size), 0, **options)

    def new_ones(self, *size, **options):
        return self.new_full(_size(size), 1, **options)

    def new_empty(self, *size, **options):
        return self.new_full(_size(size), 0, **options)


def _size(size):
    return tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) else size


def raw(x):
    """The array inside a Tensor; anything else unchanged (for masks, indices, constants)."""
    return x.data if isinstance(x, Tensor) else x


def _as_tensor(x, like):
    return x if isinstance(x, Tensor) else Tensor(x, dtype=like.dtype, device=like.device)


# The one place the import cycle is broken. The engine (graph.py) and the ops build on Tensor,
# and Tensor's methods call them back, so they are imported here, at the bottom, once Tensor
# exists; every other module imports at its top. ``import minigrad`` imports this module first.
from .graph import run_backward, root_grad  # noqa: E402
from .ops import elementwise, linalg  # noqa: E402
from .ops import reduce as reduction, shape as shaping, index as indexing  # noqa: E402
from .ops import cumulative, compare, along, fills, inplace  # noqa: E402
from .ops import sort as sorting, split as splitting  # noqa: E402
from . import factories  # noqa: E402
from .ops.device import to_device, to_args  # noqa: E402
