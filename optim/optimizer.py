"""The `Optimizer` base class: parameter groups, per-parameter state, and saving both.

An optimizer owns a list of *parameter groups*. Each group is a dict holding its parameters under
``"params"`` and its own copy of every hyper-parameter (``lr``, ``momentum``, ...), so a model can
train its embeddings and its head at different rates, and a scheduler can change ``lr`` between
steps. ``step()`` walks the groups and hands each parameter that has a gradient to the subclass's
update rule, which works on the raw NumPy/CuPy arrays in place: a step builds no graph.

Notation
--------
p        a parameter Tensor; ``p.data`` its raw array, updated in place
g        ``p.grad.data``, the gradient array of the loss with respect to ``p``
t        the step count of one parameter, 1 on its first update
group    one parameter group: ``{"params": [p, ...], "lr": ..., ...}``
state    the per-parameter dict of running buffers (``state[p]``), e.g. Adam's moments
"""
import minigrad as mg
from .optimizer_state import ParamState, pack, unpack


class Optimizer:
    """Base class of every optimizer: parameter groups, state, ``step``, ``zero_grad``, saving.

    A subclass states its defaults, validates a group in ``check_group``, creates a parameter's
    buffers in ``init_state`` and applies its rule in ``update``; the loop over groups and
    parameters, the skipping of parameters without a gradient and the bookkeeping live here.

    Parameters
    ----------
    params : iterable of Tensor, or iterable of dict
        The parameters to optimize (leaf Tensors, usually ``model.parameters()``), or parameter
        groups: dicts with a ``"params"`` entry and any hyper-parameters that override the
        defaults for that group.
    defaults : dict
        The hyper-parameters of a group that does not set them itself.

    Attributes
    ----------
    param_groups : list of dict
        One dict per group: ``"params"`` (a list of Tensors) and every hyper-parameter.
    state : ParamState
        ``state[p]`` is the dict of running buffers of parameter ``p`` (empty until its first
        update).
    defaults : dict
    required_state, optional_state : tuple of str, or None
        Class attributes: the names of the per-parameter buffers every updated parameter has,
        and of those that only some options create. ``load_state_dict`` refuses a state dict
        whose buffers do not fit them (another optimizer's); None skips that check.
    fixed_options : dict
        Class attribute: hyper-parameters that this kind fixes (AdamW's
        ``decoupled_weight_decay``), so that a saved group setting them otherwise is refused.
    state_layout : dict
        Class attribute: how ``load_state_dict`` checks each buffer that is not an array of
        its parameter's shape (``"param"``, the default): ``"count"`` an int >= 0 (``step``
        always is one), ``"number"`` a real number, ``"flat"`` a 1-D array as long as all the
        optimizer's parameters together, and ``"flat_list"`` or ``"number_list"`` a list of
        those (LBFGS's history).
    """

    required_state = None
    optional_state = ()
    fixed_options = {}
    state_layout = {}

    def __init__(self, params, defaults):
        name = type(self).__name__
        if isinstance(params, mg.Tensor):
            raise TypeError(f"{name}: params must be an iterable of Tensors or of dicts "
                            "(e.g. model.parameters() or [w, b]), got a single Tensor")
        if isinstance(params, (dict, set)):
            raise TypeError(f"{name}: params must be an ordered iterable of Tensors or dicts, "
                            f"got a {type(params).__name__} (its order is not reproducible)")
        self.defaults = dict(defaults)
        self.state = ParamState()
        self.param_groups = []
        groups = list(params)
        if len(groups) == 0:
            raise ValueError(f"{name}: got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(group):
                if key != "params":
                    lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)

    def check_group(self, group):
        """Raise ValueError or TypeError when a hyper-parameter of ``group`` is invalid.

        Called for every group added, so per-group overrides are checked as well as defaults.
        """

    def check_state(self, where, state):
        """Raise ValueError when the loaded buffers of one parameter do not fit together.

        Called by ``load_state_dict`` after each buffer was checked alone, before anything is
        set; ``where`` starts the message. Most rules have nothing to add.
        """

    def init_state(self, state, param, group):
        """Create the running buffers of ``param`` in its empty ``state`` dict (first update).

        Parameters
        ----------
        state : dict
        param : ndarray, shape S
            The raw array of the parameter; buffers take its shape, dtype and device.
        group : dict
        """

    def update(self, param, grad, state, group):
        """Apply one step of the rule to ``param`` in place.

        Parameters
        ----------
        param : ndarray, shape S
            The raw array of the parameter, modified in place.
        grad : ndarray, shape S
            The raw gradient array; never modified.
        state : dict
            This parameter's buffers, modified in place.
        group : dict
            The hyper-parameters of the parameter's group.
        """
        raise NotImplementedError

    def check_gradients(self):
        """Raise before any parameter moves when a step cannot use some gradient: one of
        another shape here; subclasses add their own demands (e.g. of their fused kernels)."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None and p.grad.data.shape != p.data.shape:
                    raise ValueError(f"{type(self).__name__}: the gradient of a parameter has "
                                     f"shape {p.grad.data.shape} but the parameter has shape "
                                     f"{p.data.shape}")

    def add_param_group(self, param_group):
        """Add a group of parameters, e.g. layers unfrozen during fine-tuning.

        Parameters
        ----------
        param_group : dict
            ``"params"`` (a Tensor or an iterable of Tensors) and any hyper-parameters that
            differ from ``defaults``. Missing ones are filled in from ``defaults``.
        """
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(f"{name}: a parameter group must be a dict, "
                            f"got {type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError(f"{name}: a parameter group needs a 'params' entry, "
                             f"got keys {sorted(param_group)}")
        group = dict(param_group)
        params = group["params"]
        if isinstance(params, mg.Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError(f"{name}: the 'params' of a group must be an ordered iterable, "
                            "got a set (its order is not reproducible)")
        params = list(params)
        for i, p in enumerate(params):
            if not isinstance(p, mg.Tensor):
                raise TypeError(f"{name}: parameter {i} of a group is a {type(p).__name__}, "
                                "expected a Tensor")
            if not p.is_leaf:
                raise ValueError(f"{name}: parameter {i} (shape {p.shape}) is not a leaf "
                                 "Tensor; an optimizer can only update leaves (use .detach())")
        ids = [id(p) for p in params]
        if len(set(ids)) != len(ids):
            # Updating one array twice per step would silently double its learning rate.
            raise ValueError(f"{name}: a parameter group lists the same Tensor more than once")
        taken = {id(p) for g in self.param_groups for p in g["params"]}
        if not taken.isdisjoint(ids):
            raise ValueError(f"{name}: some parameters appear in more than one parameter group")
        group["params"] = params
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        self.check_group(group)
        self.param_groups.append(group)

    def zero_grad(self, set_to_none=True):
        """Reset the gradients of every parameter before the next backward pass.

        Parameters
        ----------
        set_to_none : bool
            True (the default, as PyTorch) drops the gradients, which saves memory and lets
            ``step`` skip parameters that get no new gradient; False fills them with zeros.
        """
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    # A fresh zero Tensor also drops any graph a create_graph backward left on it.
                    p.grad = mg.zeros_like(p.grad)

    def step(self, closure=None):
        """Update every parameter that has a gradient (the others are skipped, as in PyTorch).

        Parameters
        ----------
        closure : callable or None
            Re-evaluates the model and returns the loss; called with grad mode on, before the
            update. Needed only by optimizers that evaluate the loss several times.

        Returns
        -------
        loss : whatever ``closure`` returned, or None
        """
        loss = None
        if closure is not None:
            with mg.enable_grad():
                loss = closure()
        self.check_gradients()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad.data
                state = self.state[p]
                if not state:
                    self.init_state(state, p.data, group)
                self.update(p.data, grad, state, group)
                # The update changed p in place; bumping its version lets a graph that saved p
                # before this step refuse to backward through the stale values.
                p._version += 1
        return loss

    def state_dict(self):
        """The optimizer's kind, hyper-parameters and buffers, as plain dicts of copies.

        Parameters are named by their position, counted across groups in order (as PyTorch
        does), so the dict can be loaded into a new optimizer built over a new model.

        Returns
        -------
        dict
            ``{"state": {position: {name: array or number}}, "param_groups": [group, ...],
            "kind": class name}`` where each group lists positions under ``"params"``.
        """
        return pack(self)

    def load_state_dict(self, state_dict):
        """Restore hyper-parameters and buffers saved by :meth:`state_dict`.

        After loading, training continues exactly as if it had never stopped. Buffers are
        copied, cast to each parameter's dtype and moved to its device. Everything is checked
        before anything is set, so a refused state dict leaves the optimizer as it was.

        Parameters
        ----------
        state_dict : dict
            ``{"state": ..., "param_groups": ..., "kind": ...}`` as returned by
            :meth:`state_dict`, with the same number of groups and of parameters per group as
            this optimizer. A dict without ``"kind"`` (an older one) is checked by the names of
            its per-parameter buffers.

        Raises
        ------
        ValueError
            The state of another kind of optimizer (SGD's into Adam, say), other group or
            parameter counts, a buffer of another shape, a state for an unlisted parameter.
        TypeError
            A hyper-parameter or buffer of the wrong type.
        """
        groups, state = unpack(self, state_dict)
        self.param_groups = groups
        self.state = state
