"""Data parallelism: ``DistributedDataParallel`` and ``SyncBatchNorm`` (PyTorch's names).

Synchronous data-parallel SGD. Each of the W ranks holds a full copy of the model and gets its
own share of every global batch (``minigrad.data.DistributedSampler``). After backward, each
rank has the gradient of its own mean loss; the gradients are all-reduced and divided by W, so
every rank holds the gradient of the mean loss over the global batch of W·B samples and takes
the same optimizer step: the ranks' copies stay identical without ever being compared. With
the global batch W times larger, the usual rule is to scale the learning rate with it.

How the gradients travel. The parameters are packed, in reverse order of registration (about
the order backward reaches them), into buckets of up to ``bucket_cap_mb`` MB: one all-reduce
per bucket instead of one per tensor. Each parameter has a gradient hook; when every
parameter of a bucket has delivered its gradient, the bucket's all-reduce is started
(non-blocking, buckets in order, the same order on every rank) while the remaining hooks run.
The hook of the last gradient waits for all buckets and writes the averaged values back, so
``.grad`` is averaged when ``backward()`` returns and the optimizer step needs no call to
DistributedDataParallel. (minigrad's engine delivers the leaves' gradients at the end of the
walk, so the all-reduces overlap the delivery of the remaining gradients, not the whole of
backward as in PyTorch.)

Notation
--------
W   world size;  B  batch per rank;  p  a parameter;  g  its gradient from this backward
"""
import contextlib

import numpy as np

import minigrad as mg
from minigrad import distributed as dist
from minigrad import backend
from minigrad.tensor import Tensor
from minigrad.checks import check_number
from .module import Module
from .normalization import _BatchNorm, BatchNorm1d, BatchNorm2d


class _Bucket:
    """Parameters (same dtype and device) whose gradients travel in one flat buffer."""

    def __init__(self, params):
        self.params = params
        self.offsets = np.cumsum([0] + [p.data.size for p in params]).tolist()
        xp = backend.xp_of(params[0].data)
        self.flat = xp.zeros(self.offsets[-1], params[0].data.dtype)
        self.pending, self.work, self.ready = len(params), None, set()

    def view(self, i):
        p = self.params[i]
        return self.flat[self.offsets[i]:self.offsets[i + 1]].reshape(p.shape)


def _make_buckets(params, cap_bytes):
    """Group ``params`` (in the order given) into buckets of at most ``cap_bytes`` (a single
    larger parameter gets a bucket of its own), never mixing dtypes or devices."""
    buckets, current, size = [], [], 0
    for p in params:
        fits = current and (p.data.dtype == current[0].data.dtype and
                            backend.device_of(p.data) == backend.device_of(current[0].data))
        if current and (not fits or size + p.data.nbytes > cap_bytes):
            buckets.append(_Bucket(current))
            current, size = [], 0
        current.append(p)
        size += p.data.nbytes
    if current:
        buckets.append(_Bucket(current))
    return buckets


class DistributedDataParallel(Module):
    """Wrap ``module`` so that backward averages its gradients over all ranks.

    Parameters
    ----------
    module : Module
        The same architecture on every rank; its parameters and buffers are overwritten by
        rank 0's here, so all ranks start equal.
    device_ids, output_device : None or a list of one device index
        Accepted for PyTorch's signature; the module stays on the device it is on.
    broadcast_buffers : bool
        Copy rank 0's buffers (e.g. BatchNorm running statistics) to every rank at each forward.
    process_group : None
        Only the default group exists.
    bucket_cap_mb : float
        Most megabytes (2**20 bytes) of gradients per all-reduce; 0 gives one per parameter.
    find_unused_parameters : bool
        Look, at each forward, for parameters the output does not depend on, and count them as
        ready (with a zero gradient) so the buckets still complete. Without it, a parameter
        that gets no gradient makes the next forward raise.

    Attributes
    ----------
    module : Module
        The wrapped module (save ``ddp.module.state_dict()`` for a single-process checkpoint).
    """

    def __init__(self, module, device_ids=None, output_device=None, broadcast_buffers=True,
                 process_group=None, bucket_cap_mb=25, find_unused_parameters=False):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: expected a Module, got "
                            f"{type(module).__name__}")
        if process_group is not None:
            raise ValueError("DistributedDataParallel: only the default process group exists; "
                             "pass process_group=None")
        for name, ids in (("device_ids", device_ids), ("output_device", output_device)):
            if ids is not None and not (isinstance(ids, int) or len(ids) <= 1):
                raise ValueError(f"DistributedDataParallel: {name} must name at most one "
                                 f"device (one device per process), got {ids!r}")
        cap = check_number("DistributedDataParallel", "bucket_cap_mb", bucket_cap_mb, low=0)
        self.module = module
        self.broadcast_buffers = bool(broadcast_buffers)
        self.find_unused_parameters = bool(find_unused_parameters)
        self.bucket_cap_mb = cap
        self.require_backward_grad_sync = True
        self._group = dist.process_group.group_backend()
        self._sync_params_and_buffers()
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        self._names = {id(p): n for n, p in named}
        self._params = [p for _, p in named]
        self._buckets = _make_buckets(self._params[::-1], cap * 2 ** 20)
        self._where = {}
        for bucket in self._buckets:
            for i, p in enumerate(bucket.params):
                self._where[id(p)] = (bucket, i)
        self._handles = [p.register_hook(self._make_hook(p)) for p in self._params]
        self._syncing = False
        self._start_round()

    # --- construction ---------------------------------------------------------------------
    def _sync_params_and_buffers(self):
        """Every rank takes rank 0's parameters and buffers."""
        tensors = list(self.module.parameters()) + [b for b in self.module.buffers()
                                                    if b is not None]
        works = [self._group.broadcast(t.data, 0) for t in tensors]
        for work in works:
            work.wait()

    # --- forward --------------------------------------------------------------------------
    def forward(self, *inputs, **kwargs):
        self._check_previous_round()
        if self.broadcast_buffers and self.training:
            for work in [self._group.broadcast(b.data, 0) for b in self.module.buffers()
                         if b is not None]:
                work.wait()
        output = self.module(*inputs, **kwargs)
        self._syncing = self.require_backward_grad_sync and mg.is_grad_enabled()
        self._start_round()
        if self._syncing and self.find_unused_parameters:
            self._mark_unused(_reachable_leaves(output))
        return output

    @contextlib.contextmanager
    def no_sync(self):
        """Inside this context, forward-and-backward leave the gradients local (they accumulate
        in ``.grad``); the first synchronised backward after it averages the accumulated sum.
        Gradient accumulation over k micro-batches then costs one all-reduce, not k."""
        previous = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous

    # --- the gradient round ---------------------------------------------------------------
    def _start_round(self):
        self._ready, self._next_bucket, self._unused, self._hooked = 0, 0, set(), 0
        for bucket in self._buckets:
            bucket.pending, bucket.work, bucket.ready = len(bucket.params), None, set()

    def _check_previous_round(self):
        if self._syncing and self._hooked and self._ready < len(self._params):
            missing = [self._names[id(p)] for p in self._params
                       if self._where[id(p)][1] not in self._where[id(p)][0].ready]
            raise RuntimeError(
                "DistributedDataParallel: the last backward produced no gradient for the "
                f"parameters {missing}, so their all-reduce never started and the ranks may "
                "now differ. Use every parameter in forward, or pass "
                "find_unused_parameters=True.")

    def _make_hook(self, p):
        def average_gradient(g):
            if not self._syncing:
                return None
            total = g.data if p.grad is None else p.grad.data + g.data
            self._hooked += 1
            return self._mark_ready(p, total, last_grad=True)
        return average_gradient

    def _mark_ready(self, p, value, last_grad=False):
        """Copy p's gradient into its bucket; start every bucket that is now full, in order;
        after the last parameter, finish the round (returns p's averaged gradient then)."""
        bucket, i = self._where[id(p)]
        bucket.view(i)[...] = value
        bucket.ready.add(i)
        bucket.pending -= 1
        self._ready += 1
        while (self._next_bucket < len(self._buckets)
               and self._buckets[self._next_bucket].pending == 0):
            b = self._buckets[self._next_bucket]
            b.work = self._group.all_reduce(b.flat, dist.ReduceOp.AVG)
            self._next_bucket += 1
        if self._ready == len(self._params) and last_grad:
            return self._finish_round(p)
        return None

    def _finish_round(self, last):
        """Wait for every bucket, then write the averages into ``.grad``. ``last`` (whose hook
        is running, before the engine stores its gradient) gets its average as the hook's
        return value, its old ``.grad`` cleared so that the engine does not add to it."""
        used = self._global_use() if self.find_unused_parameters else None
        for bucket in self._buckets:
            bucket.work.wait()
        result = None
        for bucket in self._buckets:
            for i, p in enumerate(bucket.params):
                average = bucket.view(i)
                if p is last:
                    p.grad = None
                    result = Tensor._wrap(average.copy())
                elif p.grad is not None:
                    p.grad.data[...] = average
                elif used is not None and used[id(p)]:
                    p.grad = Tensor._wrap(average.copy())
        self._syncing = False    # the next synchronised backward needs a forward first
        self._start_round()
        return result

    # --- unused parameters ----------------------------------------------------------------
    def _mark_unused(self, reachable):
        for p in self._params:
            if id(p) not in reachable:
                self._unused.add(id(p))
                zero = 0 if p.grad is None else p.grad.data
                self._mark_ready(p, zero)

    def _global_use(self):
        """id(p) -> whether any rank gave p a gradient (those that none did keep grad None)."""
        flags = np.array([0.0 if id(p) in self._unused and p.grad is None else 1.0
                          for p in self._params])
        self._group.all_reduce(flags, dist.ReduceOp.SUM).wait()
        return {id(p): f > 0 for p, f in zip(self._params, flags)}

    def extra_repr(self):
        return (f"world_size={dist.get_world_size()}, buckets={len(self._buckets)}, "
                f"bucket_cap_mb={self.bucket_cap_mb}")


def _reachable_leaves(output):
    """ids of the leaf Tensors the Tensors in ``output`` (nested lists, tuples, dicts) depend
    on, found by walking their graph's edges."""
    stack, seen, leaves = [], set(), set()
    items = [output]
    while items:
        item = items.pop()
        if isinstance(item, Tensor):
            if item.grad_fn is None:
                leaves.add(id(item))
            else:
                stack.append(item.grad_fn)
        elif isinstance(item, (list, tuple)):
            items.extend(item)
        elif isinstance(item, dict):
            items.extend(item.values())
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        for edge in node._edges or ():
            if edge is None:
                continue
            child, _, leaf = edge[0], edge[1], edge[2]
            if child is not None:
                stack.append(child)
            elif leaf is not None:
                leaves.add(id(leaf))
    return leaves


class SyncBatchNorm(_BatchNorm):
    """Batch normalisation whose training statistics are taken over the whole global batch
    (every rank's samples), not each rank's share of it.

    With a small batch per rank, each rank's own mean and variance are noisy; SyncBatchNorm
    all-reduces the per-channel sums (differentiably, see ``minigrad.distributed.nn``), so the
    layer computes exactly what BatchNorm would on the global batch in one process. Outside
    training, or without a process group of several ranks, it is BatchNorm.

    Parameters
    ----------
    num_features, eps, momentum, affine, track_running_stats, device, dtype, bias
        As in :class:`layers.BatchNorm2d`.
    process_group : None
        Only the default group exists.

    Shape
    -----
    x : Tensor, shape (N, C) or (N, C, ...)
    returns : Tensor, the same shape
    """

    _ranks = (2, 3, 4, 5)
    _layout = "(N, C, ...)"

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, process_group=None, *, device=None, dtype=None,
                 bias=True):
        if process_group is not None:
            raise ValueError("SyncBatchNorm: only the default process group exists; pass "
                             "process_group=None")
        super().__init__(num_features, eps, momentum, affine, track_running_stats,
                         device=device, dtype=dtype, bias=bias)

    def forward(self, x):
        if not (self.training and dist.get_world_size() > 1):
            return super().forward(x)
        if not isinstance(x, Tensor) or x.ndim not in self._ranks:
            raise ValueError(f"SyncBatchNorm: expected an input of shape {self._layout}, got "
                             f"{getattr(x, 'shape', type(x).__name__)}")
        self._check_channels(x)
        return self._global_batch_norm(x)

    def _global_batch_norm(self, x):
        """mean and (biased) variance per channel over every rank's (N, spatial) values,
        in two passes (centre first, then square) for accuracy."""
        axes = (0,) + tuple(range(2, x.ndim))
        count = np.array([x.data.size // x.shape[1]], dtype=np.float64)
        self._group_count(count)
        n = float(count[0])
        mean = dist.all_reduce_sum(x.sum(axes, keepdim=True)) / n
        centred = x - mean
        var = dist.all_reduce_sum((centred * centred).sum(axes, keepdim=True)) / n
        if self.track_running_stats:
            self._update_running_stats(mean.data.reshape(-1), var.data.reshape(-1) * n / (n - 1))
        out = centred / mg.sqrt(var + self.eps)
        shape = (1, -1) + (1,) * (x.ndim - 2)
        if self.weight is not None:
            out = out * self.weight.reshape(shape)
        if self.bias is not None:
            out = out + self.bias.reshape(shape)
        return out

    def _group_count(self, count):
        dist.process_group.group_backend().all_reduce(count, dist.ReduceOp.SUM).wait()
        if count[0] <= 1:
            raise ValueError("SyncBatchNorm: expected more than 1 value per channel over all "
                             f"ranks in training, got {int(count[0])}")

    def _update_running_stats(self, batch_mean, batch_var):
        self.num_batches_tracked.data += 1
        m = (1.0 / int(self.num_batches_tracked.item()) if self.momentum is None
             else self.momentum)
        for running, batch in ((self.running_mean, batch_mean), (self.running_var, batch_var)):
            running.data *= 1 - m
            running.data += (m * batch).astype(running.data.dtype)

    @classmethod
    def convert_sync_batchnorm(cls, module, process_group=None):
        """``module`` with every BatchNorm1d/2d replaced by a SyncBatchNorm that shares its
        parameters and buffers (a BatchNorm passed itself is returned converted)."""
        if isinstance(module, (BatchNorm1d, BatchNorm2d)):
            sync = cls(module.num_features, module.eps, module.momentum, module.affine,
                       module.track_running_stats, process_group)
            for name, p in module._parameters.items():
                setattr(sync, name, p)
            for name, b in module._buffers.items():
                sync._buffers[name] = b
            sync.train(module.training)
            return sync
        for name, child in list(module.named_children()):
            converted = cls.convert_sync_batchnorm(child, process_group)
            if converted is not child:
                setattr(module, name, converted)
        return module
