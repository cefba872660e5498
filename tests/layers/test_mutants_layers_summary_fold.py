"""Tests written from the survivors of a mutation run over layers/summary.py (Module.summary
with an input size), layers/fold.py (the Unfold and Fold layers) and layers/projection.py (the
attention and recurrent layers' input projection).

Each asserts an exact value: whole summary tables character for character, the layers'
attributes, reprs and outputs against slow NumPy loops, and the projection's forward and
gradients against NumPy products.
"""
import numpy as np
import pytest

import minigrad as mg
import layers as L
from layers.projection import Projection
from layers.summary import summarize_shapes


# ---------------------------------------------------------------- summary: the table

def test_summary_table_exact_nested():
    model = L.Sequential(L.Linear(4, 3), L.ReLU(), L.Sequential(L.Linear(3, 2), L.Tanh()))
    assert model.summary((5, 4)) == "\n".join([
        "layer (type)      output shape  parameters",
        "----------------  ------------  ----------",
        "Sequential        (5, 2)                 0",
        "  0 (Linear)      (5, 3)                15",
        "  1 (ReLU)        (5, 3)                 0",
        "  2 (Sequential)  (5, 2)                 0",
        "    0 (Linear)    (5, 2)                 8",
        "    1 (Tanh)      (5, 2)                 0",
        "total: 23 parameters (23 trainable); input (5, 4) -> output (5, 2)"])


def test_summary_widths_follow_the_longest_entry_of_each_column():
    """A long output shape widens the middle column, a large count the last; the header is
    the floor of every width."""
    model = L.Sequential(L.Linear(1000, 1200))
    assert summarize_shapes(model, (123456, 1000)) == "\n".join([
        "layer (type)  output shape    parameters",
        "------------  --------------  ----------",
        "Sequential    (123456, 1200)           0",
        "  0 (Linear)  (123456, 1200)     1201200",
        "total: 1,201,200 parameters (1,201,200 trainable); input (123456, 1000) -> output "
        "(123456, 1200)"])


def test_summary_counts_shared_parameters_once_and_frozen_ones_as_untrainable():
    shared = L.Linear(3, 3)
    frozen = L.Linear(3, 2)
    frozen.requires_grad_(False)
    model = L.Sequential(shared, L.ReLU(), shared, frozen)
    assert summarize_shapes(model, (2, 3)) == "\n".join([
        "layer (type)  output shape  parameters",
        "------------  ------------  ----------",
        "Sequential    (2, 2)                 0",
        "  0 (Linear)  (2, 3)                12",
        "  1 (ReLU)    (2, 3)                 0",
        "  3 (Linear)  (2, 2)                 8",
        "total: 20 parameters (12 trainable); input (2, 3) -> output (2, 2)"])


def test_summary_a_parameter_shared_by_two_modules_counts_on_the_first_row_only():
    first, second = L.Linear(3, 3), L.Linear(3, 2)
    tied = L.Linear(3, 3, bias=False)
    tied.weight = first.weight
    model = L.Sequential(first, tied, second)
    assert summarize_shapes(model, (4, 3)).splitlines()[2:] == [
        "Sequential    (4, 2)                 0",
        "  0 (Linear)  (4, 3)                12",
        "  1 (Linear)  (4, 3)                 0",
        "  2 (Linear)  (4, 2)                 8",
        "total: 20 parameters (20 trainable); input (4, 3) -> output (4, 2)"]


class _TwoParams(L.Module):
    """A module with a shared parameter held twice, under two names, and a child."""

    def __init__(self):
        super().__init__()
        self.a = L.Parameter(mg.zeros(2, 3))
        self.b = self.a
        self.c = L.Parameter(mg.zeros(4))
        self.fc = L.Linear(3, 1)

    def forward(self, x):
        return self.fc(x)


def test_summary_a_parameter_registered_twice_in_one_module_counts_once():
    assert summarize_shapes(_TwoParams(), (5, 3)) == "\n".join([
        "layer (type)   output shape  parameters",
        "-------------  ------------  ----------",
        "_TwoParams     (5, 1)                10",
        "  fc (Linear)  (5, 1)                 4",
        "total: 14 parameters (14 trainable); input (5, 3) -> output (5, 1)"])


class _Unused(L.Module):
    """A child that forward never calls, and outputs that are not one Tensor."""

    def __init__(self, kind):
        super().__init__()
        self.used = L.Linear(2, 3)
        self.spare = L.Linear(2, 2)
        self.kind = kind

    def forward(self, x):
        y = self.used(x)
        if self.kind == "tuple":
            return y, (y[:1], [y])
        if self.kind == "dict":
            return {"y": y}
        return None


def test_summary_a_module_not_called_shows_dashes():
    assert summarize_shapes(_Unused("tuple"), (4, 2)).splitlines()[:5] == [
        "layer (type)      output shape                  parameters",
        "----------------  ----------------------------  ----------",
        "_Unused           [(4, 3), [(1, 3), [(4, 3)]]]           0",
        "  used (Linear)   (4, 3)                                 9",
        "  spare (Linear)  --                                     6"]


@pytest.mark.parametrize("kind, shown", [("tuple", "[(4, 3), [(1, 3), [(4, 3)]]]"),
                                         ("dict", "dict"), ("none", "NoneType")])
def test_summary_output_that_is_not_a_tensor(kind, shown):
    text = summarize_shapes(_Unused(kind), (4, 2))
    assert text.splitlines()[-1] == ("total: 15 parameters (15 trainable); input (4, 2) -> "
                                     f"output {shown}")
    assert text.splitlines()[2].split()[:2] == ["_Unused", shown.split()[0]]


def test_summary_root_row_is_not_indented_and_shows_the_type_alone():
    text = L.Linear(2, 3).summary((1, 2))
    assert text == "\n".join([
        "layer (type)  output shape  parameters",
        "------------  ------------  ----------",
        "Linear        (1, 3)                 9",
        "total: 9 parameters (9 trainable); input (1, 2) -> output (1, 3)"])


def test_summary_deep_names_show_only_their_last_part():
    model = L.Sequential(L.Sequential(L.Sequential(L.Linear(2, 2))))
    assert summarize_shapes(model, (1, 2)).splitlines()[2:6] == [
        "Sequential          (1, 2)                 0",
        "  0 (Sequential)    (1, 2)                 0",
        "    0 (Sequential)  (1, 2)                 0",
        "      0 (Linear)    (1, 2)                 6"]


# ---------------------------------------------------------------- summary: running the model

class _Probe(L.Module):
    """Records what its forward saw: the input's dtype, device and grad mode, and its mode."""

    def __init__(self, with_param=True):
        super().__init__()
        if with_param:
            self.w = L.Parameter(mg.ones(3, dtype=np.float64))
        self.seen = []

    def forward(self, *xs):
        self.seen.append((tuple(x.dtype for x in xs), tuple(x.shape for x in xs),
                          mg.is_grad_enabled(), self.training,
                          tuple(float(np.abs(x.numpy()).sum()) for x in xs)))
        return xs[0]


def test_summary_runs_on_float32_zeros_in_eval_mode_without_grad():
    probe = _Probe()
    summarize_shapes(probe, (2, 3))
    assert probe.seen == [((np.float32,), ((2, 3),), False, False, (0.0,))]
    assert probe.training is True and mg.is_grad_enabled()


def test_summary_dtype_is_passed_to_the_zeros():
    probe = _Probe()
    summarize_shapes(probe, [(2, 3), (4,)], dtype=np.float64)
    assert probe.seen == [((np.float64, np.float64), ((2, 3), (4,)), False, False, (0.0, 0.0))]


def test_summary_restores_eval_mode_too():
    probe = _Probe()
    probe.eval()
    summarize_shapes(probe, (1, 3))
    assert probe.training is False
    assert probe.seen[0][3] is False


def test_summary_without_parameters_runs_on_the_cpu():
    probe = _Probe(with_param=False)
    text = summarize_shapes(probe, (2, 2))
    assert probe.seen[0][:2] == ((np.float32,), ((2, 2),))
    assert text.splitlines()[2] == "_Probe        (2, 2)                 0"


def test_summary_device_default_is_the_first_parameters_device(monkeypatch):
    """No parameter: 'cpu'; else the first parameter's device; a device given is used."""
    import layers.summary
    calls, original = [], mg.zeros

    def zeros(*shape, dtype, device):
        calls.append(device)
        return original(*shape, dtype=dtype, device=device)

    bare, linear = L.ReLU(), L.Linear(2, 2)
    monkeypatch.setattr(layers.summary.mg, "zeros", zeros)
    summarize_shapes(bare, (1, 2))
    summarize_shapes(linear, (1, 2))
    summarize_shapes(bare, (1, 2), device="cpu")
    assert calls == ["cpu", linear.weight.device, "cpu"]
    assert calls[1] is not None


def test_summary_removes_its_hooks_even_when_forward_fails():
    class Broken(L.Module):
        def __init__(self):
            super().__init__()
            self.fc = L.Linear(2, 2)

        def forward(self, x):
            self.fc(x)
            raise RuntimeError("broken forward")

    model = Broken()
    with pytest.raises(RuntimeError, match="broken forward"):
        summarize_shapes(model, (1, 2))
    assert not model._forward_hooks and not model.fc._forward_hooks
    assert model.training is True
    good = L.Sequential(L.Linear(2, 2))
    summarize_shapes(good, (1, 2))
    assert not good._forward_hooks and not good[0]._forward_hooks
    out = good(mg.ones(3, 2))  # no hook left to call
    assert out.shape == (3, 2)


# ---------------------------------------------------------------- summary: input_size

@pytest.mark.parametrize("size, shapes, shown", [
    ((3,), [(3,)], "(3,)"), ([2, 3], [(2, 3)], "(2, 3)"),
    ((np.int64(2), np.int32(3)), [(2, 3)], "(2, 3)"), ([(2, 3)], [(2, 3)], "(2, 3)"),
    ([(1, 3), [2, 3]], [(1, 3), (2, 3)], "(1, 3), (2, 3)")])
def test_summary_input_sizes_taken(size, shapes, shown):
    """A tuple or a list of ints is one shape (NumPy integers shown as ints); a list of
    shapes is one input each."""
    probe = _Probe(with_param=False)
    text = summarize_shapes(probe, size)
    assert text.splitlines()[-1] == (f"total: 0 parameters (0 trainable); input {shown} -> "
                                     f"output {shown.split(', (')[0]}")
    assert list(probe.seen[0][1]) == shapes


@pytest.mark.parametrize("bad", [(), [], (True, 3), (2, False), (2.0, 3), (2, -1), (0,),
                                 [(2, 3), (0, 1)], [()], [(2, 3), "ab"], "3", None, 3,
                                 ((2, 3), (2, 3))])
def test_summary_input_sizes_refused(bad):
    with pytest.raises(ValueError) as info:
        summarize_shapes(_Probe(with_param=False), bad)
    assert str(info.value) == (
        "summary: input_size must be a shape such as (1, 3, 32, 32) (batch included, every "
        f"size >= 1) or a list of shapes, got {bad!r}")


# ---------------------------------------------------------------- Unfold and Fold

def _unfold_loops(x, kh, kw, dilation, padding, stride):
    """Every window of every image as a column, loop by loop (square geometry arguments)."""
    N, C, H, W = x.shape
    xp = np.zeros((N, C, H + 2 * padding, W + 2 * padding))
    xp[:, :, padding:padding + H, padding:padding + W] = x
    oh = (H + 2 * padding - dilation * (kh - 1) - 1) // stride + 1
    ow = (W + 2 * padding - dilation * (kw - 1) - 1) // stride + 1
    cols = np.zeros((N, C * kh * kw, oh * ow))
    for n in range(N):
        for c in range(C):
            for i in range(kh):
                for j in range(kw):
                    for a in range(oh):
                        for b in range(ow):
                            cols[n, (c * kh + i) * kw + j, a * ow + b] = \
                                xp[n, c, a * stride + i * dilation, b * stride + j * dilation]
    return cols


def _fold_loops(cols, size, kh, kw, dilation, padding, stride):
    N, CK, _ = cols.shape
    C = CK // (kh * kw)
    H, W = size
    out = np.zeros((N, C, H + 2 * padding, W + 2 * padding))
    oh = (H + 2 * padding - dilation * (kh - 1) - 1) // stride + 1
    ow = (W + 2 * padding - dilation * (kw - 1) - 1) // stride + 1
    for n in range(N):
        for c in range(C):
            for i in range(kh):
                for j in range(kw):
                    for a in range(oh):
                        for b in range(ow):
                            out[n, c, a * stride + i * dilation, b * stride + j * dilation] += \
                                cols[n, (c * kh + i) * kw + j, a * ow + b]
    return out[:, :, padding:padding + H, padding:padding + W]


X = np.random.default_rng(3).standard_normal((2, 2, 7, 6))


def test_unfold_defaults_are_dilation_1_padding_0_stride_1():
    layer = L.Unfold(2)
    assert (layer.kernel_size, layer.dilation, layer.padding, layer.stride) == (2, 1, 0, 1)
    np.testing.assert_array_equal(layer(mg.tensor(X)).numpy(), _unfold_loops(X, 2, 2, 1, 0, 1))
    assert repr(layer) == "Unfold(kernel_size=2, dilation=1, padding=0, stride=1)"


def test_unfold_passes_each_argument_in_its_place():
    layer = L.Unfold(3, 2, 1, 3)
    assert (layer.kernel_size, layer.dilation, layer.padding, layer.stride) == (3, 2, 1, 3)
    np.testing.assert_array_equal(layer(mg.tensor(X)).numpy(), _unfold_loops(X, 3, 3, 2, 1, 3))
    assert repr(layer) == "Unfold(kernel_size=3, dilation=2, padding=1, stride=3)"
    keywords = L.Unfold(kernel_size=(2, 3), stride=2, padding=1, dilation=1)
    assert repr(keywords) == "Unfold(kernel_size=(2, 3), dilation=1, padding=1, stride=2)"


@pytest.mark.parametrize("args,geometry", [
    ((), (2, 1, 0, 1)),                 # the defaults: dilation 1, padding 0, stride 1
    ((2, 1, 3), (3, 2, 1, 3)),          # each argument in its place
])
def test_fold_defaults_and_positional_arguments(args, geometry):
    kernel, dilation, padding, stride = geometry
    cols = _unfold_loops(X, kernel, kernel, dilation, padding, stride)
    layer = L.Fold((7, 6), kernel, *args)
    assert (layer.output_size, layer.kernel_size, layer.dilation, layer.padding,
            layer.stride) == ((7, 6), kernel, dilation, padding, stride)
    np.testing.assert_allclose(layer(mg.tensor(cols)).numpy(),
                               _fold_loops(cols, (7, 6), kernel, kernel, dilation, padding, stride),
                               rtol=1e-12)
    assert repr(layer) == (f"Fold(output_size=(7, 6), kernel_size={kernel}, dilation={dilation}, "
                           f"padding={padding}, stride={stride})")


def test_unfold_and_fold_layers_hold_nothing_and_pass_gradients():
    x = mg.tensor(X, requires_grad=True)
    cols = L.Unfold(2, stride=2)(x)
    back = L.Fold((7, 6), 2, stride=2)(cols)
    back.sum().backward()
    covered = np.zeros((7, 6))
    covered[:6, :6] = 1.0  # stride 2 windows of size 2 reach rows 0..5 and columns 0..5
    np.testing.assert_array_equal(x.grad.numpy(), np.broadcast_to(covered, X.shape))
    assert list(L.Unfold(2).state_dict()) == [] and list(L.Fold(3, 2).parameters()) == []


# ---------------------------------------------------------------- Projection

RNG = np.random.default_rng(11)


def _t(shape, requires_grad=True):
    return mg.tensor(RNG.standard_normal(shape), requires_grad=requires_grad)


@pytest.mark.parametrize("with_bias", [True, False])
def test_projection_forward_and_gradients(with_bias):
    x, w = _t((5, 3)), _t((4, 3))
    b = _t(4) if with_bias else None
    out = Projection.apply(x, w, b)
    expected = x.numpy() @ w.numpy().T + (b.numpy() if with_bias else 0.0)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12)
    g = RNG.standard_normal((5, 4))
    out.backward(mg.tensor(g))
    np.testing.assert_allclose(x.grad.numpy(), g @ w.numpy(), rtol=1e-12)
    np.testing.assert_allclose(w.grad.numpy(), g.T @ x.numpy(), rtol=1e-12)
    if with_bias:
        np.testing.assert_allclose(b.grad.numpy(), g.sum(0), rtol=1e-12)


@pytest.mark.parametrize("wanted", [(True, False, False), (False, True, False),
                                    (False, False, True), (True, False, True),
                                    (False, True, True)])
def test_projection_gradients_of_only_some_inputs(wanted):
    x, w, b = (_t(s, r) for s, r in zip([(6, 2), (3, 2), (3,)], wanted))
    g = RNG.standard_normal((6, 3))
    out = Projection.apply(x, w, b)
    grads = mg.grad(out, [t for t in (x, w, b) if t.requires_grad], mg.tensor(g))
    expected = [g @ w.numpy(), g.T @ x.numpy(), g.sum(0)]
    for got, want in zip(grads, [e for e, r in zip(expected, wanted) if r]):
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-12)


def test_projection_does_not_write_into_its_inputs():
    x, w, b = _t((4, 2)), _t((3, 2)), _t(3)
    copies = [t.numpy().copy() for t in (x, w, b)]
    Projection.apply(x, w, b)
    for t, c in zip((x, w, b), copies):
        np.testing.assert_array_equal(t.numpy(), c)


def test_projection_second_derivative():
    x, w, b = _t((3, 2)), _t((2, 2)), _t(2)
    assert mg.gradcheck(lambda *a: Projection.apply(*a), (x, w, b))
    assert mg.gradgradcheck(lambda *a: Projection.apply(*a), (x, w, b))


@pytest.mark.parametrize("frozen", ["x", "w"])
def test_projection_forms_no_gradient_that_no_input_wants(frozen):
    """The input that wants a gradient holds an inf, the frozen one is finite. The gradient
    the frozen input would get is then infinite: under detect_anomaly it must not be formed
    (it would be reported), and the wanted one is finite and right."""
    x = np.array([[1.0, -1.0], [0.5, 2.0]])
    w = np.array([[1.0, 2.0], [3.0, 4.0], [0.5, 0.25]])
    g = np.array([[1.0, 2.0, -1.0], [0.5, 1.0, 3.0]])
    if frozen == "w":
        x[0, 0] = np.inf
    else:
        w[0, 0] = np.inf
    xt, wt = mg.tensor(x, requires_grad=frozen == "w"), mg.tensor(w, requires_grad=frozen == "x")
    with mg.detect_anomaly():
        Projection.apply(xt, wt, mg.tensor(np.zeros(3))).backward(mg.tensor(g))
    if frozen == "w":
        np.testing.assert_array_equal(xt.grad.numpy(), g @ w)
    else:
        np.testing.assert_array_equal(wt.grad.numpy(), g.T @ x)
