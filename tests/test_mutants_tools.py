"""The tools around training: the graph drawing (minigrad.viz), the debug recipes
(minigrad.utils.debug) and the TensorBoard writer (minigrad.utils.tensorboard). Exact DOT text,
exact numbers against plain-Python references, the figures' contents, and the exact wording
of every error, for what the other tool tests leave open."""
import math
import re
import struct

import numpy as np
import pytest

import minigrad as mg
from layers import Linear, ReLU, Sequential
from layers.parameter import Parameter
from layers.module import Module
from minigrad import viz
from minigrad.autograd import SavedInput, SavedOutput
from minigrad.utils import debug
from optim import SGD

graphviz = pytest.importorskip("graphviz", reason="draw_graph needs the 'tools' extra (graphviz)")
pytest.importorskip("tensorboardX", reason="SummaryWriter needs the 'tools' extra (tensorboardX)")
pytest.importorskip("matplotlib", reason="the plot functions need matplotlib")
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from minigrad.utils import tensorboard  # noqa: E402
from minigrad.utils.tensorboard import SummaryWriter, graph_def  # noqa: E402


def exactly(message):
    """A pattern matching ``message`` and nothing around it."""
    return "^" + re.escape(message) + "$"


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


# ================================================================ viz

def test_the_whole_dot_text_of_a_small_graph():
    x = mg.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = (x * 3.0).tanh().sum()
    dot = viz.draw_graph(y, params={"x": x}, show_saved=True)
    total = y.grad_fn
    tanh = total._edges[0][0]
    mul = tanh._edges[0][0]
    s, t, m, leaf = (viz.node_id(total), viz.node_id(tanh), viz.node_id(mul),
                     f"leaf{id(x)}")
    assert s == f"fn{id(total)}"
    expected = f"""digraph minigrad {{
\tgraph [rankdir=TB]
\tnode [fontname=Helvetica fontsize=11]
\tedge [fontname=Helvetica fontsize=9]
\toutput0 [label="output 0
() float64" fillcolor=darkolivegreen1 shape=box style=filled]
\t{s} [label=Sum fillcolor=lightgrey shape=box style=filled]
\t{s} -> output0 [label="() float64"]
\t{t} [label=Tanh fillcolor=lightgrey shape=box style=filled]
\t{t} -> {s} [label="(2,) float64"]
\t{t}_saved0 [label="saved 0
output 0 (2,) float64" fillcolor=whitesmoke fontsize=9 shape=note style=filled]
\t{t}_saved0 -> {t} [arrowhead=none style=dashed]
\t{m} [label=Mul fillcolor=lightgrey shape=box style=filled]
\t{m} -> {t} [label="(2,) float64"]
\t{m}_saved0 [label="saved 0
input 0 (2,) float64" fillcolor=whitesmoke fontsize=9 shape=note style=filled]
\t{m}_saved0 -> {m} [arrowhead=none style=dashed]
\t{m}_saved1 [label="saved 1
3.0" fillcolor=whitesmoke fontsize=9 shape=note style=filled]
\t{m}_saved1 -> {m} [arrowhead=none style=dashed]
\t{leaf} [label="x
(2,) float64" fillcolor=lightblue shape=ellipse style=filled]
\t{leaf} -> {m} [label="(2,) float64"]
}}
"""
    assert dot.source == expected
    assert dot.name == "minigrad"


def test_graph_nodes_order_and_a_leaf_output():
    x = mg.tensor(np.array([1.0, 2.0]), requires_grad=True)
    a = x.exp()
    b = x.sin()
    y = (a * b).sum()
    nodes = viz.graph_nodes([y])
    assert [type(n).__name__ for n in nodes] == ["Sum", "Mul", "Exp", "Sin"]
    assert viz.graph_nodes([x]) == []
    # a graph that is only a leaf: the output hangs from the leaf itself
    dot = viz.draw_graph(x, params={"x": x})
    assert f"\tleaf{id(x)} -> output0 [label=\"(2,) float64\"]\n" in dot.source


def test_each_node_and_leaf_is_drawn_once_and_every_branch_is_walked():
    x = mg.tensor(np.array([1.0, 2.0]), requires_grad=True)
    a = x.exp()
    y = (a * a + x.sin()).sum()
    # the walk meets Exp twice before it reaches Sin
    assert [type(n).__name__ for n in viz.graph_nodes([y])] == ["Sum", "Add", "Mul", "Exp",
                                                                "Sin"]
    source = viz.draw_graph(y).source
    exp_id = viz.node_id(a.grad_fn)
    assert source.count(f"\t{exp_id} [label=Exp ") == 1
    assert source.count(f"\t{exp_id} -> ") == 2
    assert source.count(f"\tleaf{id(x)} [label=") == 1
    assert source.count(f"\tleaf{id(x)} -> ") == 2


def test_freed_graph_message():
    x = mg.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match=exactly(
            "draw_graph: Sum's saved arrays and edges were freed by a backward pass; draw the "
            "graph before backward, or call backward(retain_graph=True)")):
        viz.graph_nodes([y])


def test_bad_output_message():
    x = mg.tensor(np.array([1.0]), requires_grad=True)
    with pytest.raises(TypeError, match=exactly(
            "draw_graph: output 0 is a list; expected a Tensor")):
        viz.draw_graph([[x]])
    # a tuple of outputs is accepted as a sequence
    assert "output1" in viz.draw_graph((x.exp(), x.sin())).source


def test_install_message(monkeypatch):
    import builtins
    real_import = builtins.__import__

    def no_graphviz(name, *args, **kwargs):
        if name == "graphviz":
            raise ImportError("No module named 'graphviz'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_graphviz)
    with pytest.raises(ImportError, match=exactly(
            "minigrad.viz.draw_graph needs the 'graphviz' Python package, from the 'tools' "
            "extra: pip install -e \".[tools]\" (or pip install graphviz); rendering to an "
            "image also needs Graphviz's `dot` program (e.g. apt-get install graphviz)")) as e:
        viz.draw_graph(mg.tensor([1.0], requires_grad=True).sum())
    assert isinstance(e.value.__cause__, ImportError)


def test_saved_text_of_every_kind():
    t = mg.tensor(np.zeros((2, 3), np.float32))
    assert viz._saved_text(SavedInput((t, None, 0))) == "tensor (2, 3) float32"
    assert viz._saved_text(SavedInput((t, 1, 0))) == "input 1 (2, 3) float32"
    assert viz._saved_text(SavedOutput((np.zeros(4), 2, None, 0))) == "output 2 (4,) float64"
    assert viz._saved_text(t) == "constant (2, 3) float32"
    assert viz._saved_text((1, 2)) == "(1, 2)"
    thirty = "a" * 28                                  # repr adds the quotes: 30 characters
    assert viz._saved_text(thirty) == repr(thirty)
    longer = "a" * 29
    assert viz._saved_text(longer) == ("'" + "a" * 26 + "...")
    assert len(viz._saved_text(longer)) == 30


def test_grad_text_values_up_to_six_entries_else_the_norm():
    six = mg.tensor(np.zeros(6), requires_grad=True)
    six.grad = mg.tensor(np.array([1.0, -2.5, 1234.5, 0.000123456, 0.0, 7.0]))
    assert viz._grad_text(six) == "\ngrad 1 -2.5 1.23e+03 0.000123 0 7"
    seven = mg.tensor(np.zeros(7, np.float32), requires_grad=True)
    seven.grad = mg.tensor(np.array([3.0, 4.0, 0, 0, 0, 0, 12.0], np.float32))
    assert viz._grad_text(seven) == "\n|grad| 13"
    big = mg.tensor(np.zeros(7, np.float16), requires_grad=True)
    big.grad = mg.tensor(np.full(7, 60000.0, np.float16))      # squares overflow float16
    assert viz._grad_text(big) == f"\n|grad| {60000.0 * math.sqrt(7):.4g}"
    assert viz._grad_text(mg.tensor(np.zeros(2), requires_grad=True)) == ""


# ================================================================ debug: overfit_one_batch

class Scale(Module):
    """y = w * x, one weight: losses that plain Python can follow."""

    def __init__(self, w):
        super().__init__()
        self.w = Parameter(mg.tensor(np.array([w])))

    def forward(self, x):
        return x * self.w


def mse(out, target):
    return ((out - target) ** 2).mean()


def reference_losses(w, x, t, lr, steps):
    """The losses of SGD on mean((w x - t)^2): before each step, then after the last."""
    losses = []
    for _ in range(steps + 1):
        r = w * x - t
        losses.append(float(np.mean(r ** 2)))
        w = w - lr * float(np.mean(2 * r * x))
    return losses


def test_overfit_one_batch_losses_match_a_reference():
    x = np.array([1.0, 2.0, -1.0])
    t = 3.0 * x
    model = Scale(0.5)
    model.eval()
    result = debug.overfit_one_batch(model, (mg.tensor(x), mg.tensor(t)), mse,
                                     SGD(model.parameters(), lr=0.05), steps=7, tol=1e-3)
    assert model.training                                     # trained in training mode
    expected = reference_losses(0.5, x, t, 0.05, 7)
    assert result.losses == pytest.approx(expected, rel=1e-12)
    assert len(result.losses) == 8
    assert result.final_loss == result.losses[-1] and result.tol == 1e-3
    assert result.reached is (expected[-1] < 1e-3)
    verdict = ("reached near zero: the model and loss can learn" if result.reached else
               "did NOT reach near zero: look for a bug (loss, labels, a detached graph) or give "
               "it more steps or a larger learning rate")
    assert result.message == (f"overfit one batch: loss {expected[0]:.4g} -> {expected[-1]:.4g} "
                              f"in 8 steps (tol 0.001); {verdict}")
    assert repr(result) == (f"OverfitResult(reached={result.reached}, "
                            f"final_loss={expected[-1]:.4g})")


def test_overfit_one_batch_defaults():
    x = np.array([1.0, 2.0])
    model = Scale(0.0)
    result = debug.overfit_one_batch(model, (mg.tensor(x), mg.tensor(3.0 * x)), mse,
                                     SGD(model.parameters(), lr=0.1))
    assert len(result.losses) == 201 and result.tol == 0.05
    assert result.losses == pytest.approx(reference_losses(0.0, x, 3.0 * x, 0.1, 200),
                                          rel=1e-9, abs=1e-300)
    assert result.reached is True
    assert result.message.endswith("in 201 steps (tol 0.05); reached near zero: the model and "
                                   "loss can learn")
    one = debug.overfit_one_batch(Scale(0.0), (mg.tensor(x), mg.tensor(3.0 * x)), mse,
                                  SGD(Scale(0.0).parameters(), lr=0.1), steps=1)
    assert len(one.losses) == 2


def test_overfit_tolerance_is_strict():
    constant = (mg.tensor(np.array([1.0])), mg.tensor(np.array([1.5])))
    model = Scale(1.0)
    frozen = SGD(model.parameters(), lr=0.0)
    result = debug.overfit_one_batch(model, constant, mse, frozen, steps=2, tol=0.25)
    assert result.losses == [0.25, 0.25, 0.25]
    assert result.reached is False                       # 0.25 is not below 0.25
    assert "did NOT reach near zero" in result.message
    assert debug.overfit_one_batch(model, constant, mse, frozen, steps=1, tol=0.2500001).reached


def test_overfit_arguments_messages():
    model = Scale(1.0)
    opt = SGD(model.parameters(), lr=0.1)
    batch = (mg.ones(1), mg.ones(1))
    with pytest.raises(ValueError, match=exactly("overfit_one_batch: steps must be >= 1, got 0")):
        debug.overfit_one_batch(model, batch, mse, opt, steps=0)
    with pytest.raises(ValueError, match=exactly(
            "overfit_one_batch: invalid tol 0, expected a value in (0, inf]")):
        debug.overfit_one_batch(model, batch, mse, opt, tol=0)
    with pytest.raises(TypeError, match=exactly(
            "overfit_one_batch: a batch must be a pair (inputs, targets), got a Tensor")) as e:
        debug.overfit_one_batch(model, mg.ones(3), mse, opt, steps=1)
    assert e.value.__cause__ is None and e.value.__suppress_context__
    with pytest.raises(TypeError, match=exactly(
            "overfit_one_batch: a batch must be a pair (inputs, targets), got a int")):
        debug.overfit_one_batch(model, 5, mse, opt, steps=1)


# ================================================================ debug: lr_find

class Replay:
    """A loss that replays given values (plus 0 times the model's output, so that backward and
    the optimizer run): the learning-rate test's bookkeeping on known numbers."""

    def __init__(self, values):
        self.values, self.k = list(values), 0

    def __call__(self, out, target):
        value = self.values[self.k]
        self.k += 1
        return (out * 0.0).sum() + value


def reference_smoothing(values, smooth, diverge):
    """(smoothed, how many steps ran) as lr_find defines them."""
    average, best, smoothed = 0.0, math.inf, []
    for k, value in enumerate(values):
        average = (1 - smooth) * average + smooth * value
        corrected = average / (1 - (1 - smooth) ** (k + 1))
        smoothed.append(corrected)
        best = min(best, corrected)
        if not math.isfinite(value) or corrected > diverge * best:
            break
    return smoothed


def small_setup():
    model = Scale(1.0)
    return model, SGD(model.parameters(), lr=0.5), [(mg.ones(1), mg.ones(1))]


def test_lr_find_defaults():
    model, opt, batches = small_setup()
    values = [2.0 + math.sin(k) for k in range(100)]
    result = debug.lr_find(model, batches, Replay(values), opt)
    assert len(result.lrs) == 100
    assert result.lrs[0] == 1e-6 and result.lrs[-1] == pytest.approx(1.0, rel=1e-12)
    assert result.losses == pytest.approx(values)
    assert result.smoothed == pytest.approx(reference_smoothing(values, 0.05, 4.0), rel=1e-12)
    assert opt.param_groups[0]["lr"] == 0.5


def test_lr_find_default_divergence_factor():
    values = [1.0] * 3 + [30.0] * 10
    expected = reference_smoothing(values, 0.05, 4.0)
    model, opt, batches = small_setup()
    result = debug.lr_find(model, batches, Replay(values), opt, num_iter=13, smooth=0.05)
    assert len(expected) < 13
    assert result.smoothed == pytest.approx(expected, rel=1e-12)
    model, opt, batches = small_setup()
    wide = debug.lr_find(model, batches, Replay(values), opt, num_iter=13, diverge=40.0)
    assert len(wide.lrs) == 13
    # smooth=1: the smoothed loss is the loss, and 4.5 is above the default 4 x 1.0
    model, opt, batches = small_setup()
    jump = debug.lr_find(model, batches, Replay([1.0, 4.5, 1.0, 1.0]), opt, num_iter=4,
                         smooth=1.0)
    assert jump.losses == [1.0, 4.5]


def test_lr_find_stops_only_above_diverge_times_the_best():
    model, opt, batches = small_setup()
    # smooth=1: the smoothed loss is the loss; 4.0 is not above 4 x 1.0, 4.5 is
    result = debug.lr_find(model, batches, Replay([1.0, 4.0, 2.0, 4.5, 1.0]), opt,
                           num_iter=5, smooth=1.0, diverge=4.0)
    assert result.losses == [1.0, 4.0, 2.0, 4.5]


def test_lr_find_stops_on_an_infinite_loss_after_recording_it():
    model, opt, batches = small_setup()
    result = debug.lr_find(model, batches, Replay([1.0, 1.0, math.inf, 1.0]), opt, num_iter=4,
                           diverge=1e9)
    assert result.losses == [1.0, 1.0, math.inf]
    model, opt, batches = small_setup()
    result = debug.lr_find(model, batches, Replay([1.0, math.nan, 1.0]), opt, num_iter=3,
                           diverge=1e9)
    assert len(result.losses) == 2 and math.isnan(result.losses[1])


def test_lr_find_sets_every_group_and_restores_them():
    a = Parameter(mg.tensor(np.array([1.0])))
    b = Parameter(mg.tensor(np.array([1.0])))
    model = Scale(1.0)
    model.a, model.b = a, b
    opt = SGD([{"params": [a], "lr": 0.1}, {"params": [b], "lr": 0.2}], lr=0.1)
    seen = []

    def loss(out, target):
        seen.append([g["lr"] for g in opt.param_groups])
        return (out * a * b).sum()

    debug.lr_find(model, [(mg.ones(1), mg.ones(1))], loss, opt, start_lr=0.01, end_lr=1.0,
                  num_iter=3, diverge=1e9)
    assert seen == [pytest.approx([0.01, 0.01]), pytest.approx([0.1, 0.1]),
                    pytest.approx([1.0, 1.0])]
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.2]
    assert a.numpy()[0] == 1.0 and b.numpy()[0] == 1.0 and model.w.numpy()[0] == 1.0


def test_lr_find_restores_even_after_an_error():
    model, opt, batches = small_setup()
    model.eval()

    def fails(out, target):
        if fails.calls == 1:
            raise ArithmeticError("boom")
        fails.calls += 1
        return ((out - 3.0) ** 2).sum()

    fails.calls = 0
    with pytest.raises(ArithmeticError):
        debug.lr_find(model, batches, fails, opt, start_lr=0.1, num_iter=5)
    assert model.w.numpy()[0] == 1.0 and opt.param_groups[0]["lr"] == 0.5
    assert model.training


def test_lr_find_cycles_the_batches_in_order():
    model, opt, _ = small_setup()
    seen = []

    def loss(out, target):
        seen.append(float(target.numpy()[0]))
        return (out * 0.0).sum() + 1.0

    batches = [(mg.ones(1), mg.tensor(np.array([float(k)]))) for k in range(3)]
    debug.lr_find(model, batches, loss, opt, num_iter=7)
    assert seen == [0.0, 1.0, 2.0, 0.0, 1.0, 2.0, 0.0]


def test_lr_find_argument_messages():
    model, opt, batches = small_setup()
    cases = [
        (dict(num_iter=1), "lr_find: num_iter must be >= 2, got 1"),
        (dict(start_lr=0.0), "lr_find: invalid start_lr 0.0, expected a value in (0, inf]"),
        (dict(start_lr=0.5, end_lr=0.5),
         "lr_find: invalid end_lr 0.5, expected a value in (0.5, inf]"),
        (dict(smooth=0.0), "lr_find: invalid smooth 0.0, expected a value in (0, 1]"),
        (dict(smooth=1.5), "lr_find: invalid smooth 1.5, expected a value in (0, 1]"),
        (dict(diverge=1.0), "lr_find: invalid diverge 1.0, expected a value in (1, inf]"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ValueError, match=exactly(message)):
            debug.lr_find(model, batches, Replay([1.0] * 9), opt, **kwargs)
    ok = debug.lr_find(model, batches, Replay([1.0] * 2), opt, num_iter=2, smooth=1.0,
                       diverge=1.5)
    assert len(ok.lrs) == 2 and ok.suggestion is None
    with pytest.raises(TypeError, match=exactly(
            "lr_find: a batch must be a pair (inputs, targets), got a Tensor")):
        debug.lr_find(model, [mg.ones(3)], Replay([1.0] * 9), opt, num_iter=3)
    with pytest.raises(ValueError, match=exactly("lr_find: batches is empty")):
        debug.lr_find(model, [], Replay([1.0] * 9), opt, num_iter=3)


def test_steepest_is_the_most_negative_slope_in_log_lr():
    assert debug._steepest([1e-3, 1e-2], [1.0, 0.5]) is None
    lrs = [1e-3, 1e-2, 1e-1]
    smoothed = [1.0, 0.9, 0.1]
    slopes = np.gradient(np.array(smoothed), np.log(np.array(lrs)))
    assert debug._steepest(lrs, smoothed) == lrs[int(np.argmin(slopes))] == 1e-1
    lrs = [1.0, 2.0, 4.0, 5.0, 10.0]
    smoothed = [5.0, 4.0, 1.0, 0.9, 0.8]
    slopes = np.gradient(np.array(smoothed), np.log(np.array(lrs)))
    assert debug._steepest(lrs, smoothed) == lrs[int(np.argmin(slopes))]
    assert isinstance(debug._steepest(lrs, smoothed), float)
    # uneven steps in log(lr): the slope is taken against log(lr), not against the index
    lrs = [1e-4, 1e-3, 1.1e-3, 1e-1]
    smoothed = [3.0, 2.0, 1.8, 0.5]
    assert debug._steepest(lrs, smoothed) == 1.1e-3
    result = debug.LRFindResult(lrs, [0.0] * 5, smoothed)
    assert result.suggestion == debug._steepest(lrs, smoothed)
    assert (result.lrs, result.smoothed) == (lrs, smoothed)


def test_lr_find_plot_contents(tmp_path):
    result = debug.LRFindResult([1e-3, 1e-2, 1e-1, 1.0], [3.0, 2.5, 1.0, 4.0],
                                [3.0, 2.0, 1.5, 2.5])
    fig = result.plot()
    ax = fig.axes[0]
    assert tuple(fig.get_size_inches()) == (6.0, 4.0)
    assert ax.get_xscale() == "log"
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == (
        "learning rate", "training loss", "learning-rate range test")
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == [
        "loss", "smoothed", f"steepest fall: {result.suggestion:.2g}"]
    assert [line.get_color() for line in lines] == ["lightgray", "tab:blue", "tab:red"]
    assert lines[2].get_linestyle() == "--"
    assert list(lines[2].get_xdata()) == [result.suggestion] * 2
    assert list(lines[0].get_xdata()) == [1e-3, 1e-2, 1e-1, 1.0]
    assert list(lines[0].get_ydata()) == [3.0, 2.5, 1.0, 4.0]
    assert list(lines[1].get_xdata()) == [1e-3, 1e-2, 1e-1, 1.0]
    assert list(lines[1].get_ydata()) == [3.0, 2.0, 1.5, 2.5]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        line.get_label() for line in lines]
    assert plt.fignum_exists(fig.number)              # no path: the figure stays open
    none = debug.LRFindResult([1e-3, 1e-2], [1.0, 2.0], [1.0, 2.0]).plot()
    assert [line.get_label() for line in none.axes[0].get_lines()] == ["loss", "smoothed"]
    with matplotlib.rc_context({"savefig.dpi": 50}):
        saved = result.plot(str(tmp_path / "lr.png"))
    assert not plt.fignum_exists(saved.number)        # written, then closed
    assert png_size(tmp_path / "lr.png") == (600, 400)   # 6 x 4 inches at 100 dpi, always


def png_size(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


# ================================================================ debug: gradient flow

def test_gradient_flow_rows_in_float64_and_only_with_gradients():
    model = Sequential(Linear(2, 2), Linear(2, 1))
    with mg.no_grad():
        model[0].weight.data[...] = 0.0
    model[1].weight.grad = mg.tensor(np.array([[1e-30, -3.0]], np.float32))
    rows = debug.gradient_flow(model)
    assert rows == [("1.weight", pytest.approx(1.5), 3.0)]
    assert rows[0][1] == (1e-30 + 3.0) / 2 and isinstance(rows[0][1], float)
    big = mg.tensor(np.full((2, 2), 60000.0, np.float16))
    model[0].weight.grad = big
    rows = debug.gradient_flow(model)
    assert rows[0] == ("0.weight", 60000.0, 60000.0) and len(rows) == 2
    model.zero_grad()
    with pytest.raises(ValueError, match=exactly(
            "gradient_flow: no parameter has a gradient; call loss.backward() first")):
        debug.gradient_flow(model)


def test_plot_gradient_flow_contents(tmp_path):
    rows = [(f"layer{k}.weight", 0.1 * (k + 1), 0.2 * (k + 1)) for k in range(3)]
    rows.append(("dead.weight", 0.0, 0.0))
    fig = debug.plot_gradient_flow(rows)
    ax = fig.axes[0]
    assert tuple(fig.get_size_inches()) == (6.0, 4.0)
    heights = [p.get_height() for p in ax.patches]
    assert heights == pytest.approx([0.2, 0.4, 0.6, 1e-12, 0.1, 0.2, 0.3, 1e-12], rel=1e-12)
    assert [p.get_x() + p.get_width() / 2 for p in ax.patches] == pytest.approx(
        [0, 1, 2, 3] * 2)
    colors = [matplotlib.colors.to_hex(p.get_facecolor()) for p in ax.patches]
    assert colors == [matplotlib.colors.to_hex("tab:cyan")] * 4 + [
        matplotlib.colors.to_hex("tab:blue")] * 4
    assert ax.get_yscale() == "log"
    assert list(ax.get_xticks()) == [0, 1, 2, 3]
    labels = ax.get_xticklabels()
    assert [t.get_text() for t in labels] == [r[0] for r in rows]
    assert labels[0].get_rotation() == 90 and labels[0].get_fontsize() == 8
    assert (ax.get_ylabel(), ax.get_title()) == ("|gradient|", "gradient flow")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["max |grad|", "mean |grad|"]
    with matplotlib.rc_context({"axes.prop_cycle": matplotlib.cycler(color=["black"])}):
        styled = debug.plot_gradient_flow(rows).axes[0]       # the colours do not follow the style
    assert [matplotlib.colors.to_hex(p.get_facecolor()) for p in styled.patches] == colors
    wide = debug.plot_gradient_flow([(str(k), 1.0, 1.0) for k in range(20)])
    assert tuple(wide.get_size_inches()) == (10.0, 4.0)
    debug.plot_gradient_flow(rows, str(tmp_path / "g.png"))
    assert png_size(tmp_path / "g.png") == (600, 400)


# ================================================================ debug: activation statistics

def fixed(kind, values):
    """A leaf module of class ``kind`` whose output is ``values`` whatever its input."""
    cls = type(kind, (Module,), {"forward": lambda self, x: mg.tensor(np.array(values))})
    return cls()


def test_dead_and_saturated_at_their_thresholds():
    model = Sequential(
        fixed("ReLU", [[0.0, 1.0, -0.0], [0.0, 0.0, 2.0]]),
        fixed("ReLU6", [[0.0, 6.0], [0.0, 0.0]]),
        fixed("Tanh", [[0.99, -0.99, 0.9901, -0.9901]]),
        fixed("Sigmoid", [[0.01, 0.99, 0.0099, 0.9901, 0.5]]),
        fixed("GELU", [[0.0, 0.0]]),
    )
    rows = debug.activation_stats(model, mg.ones(2))
    assert [r["name"] for r in rows] == ["0", "1", "2", "3", "4"]
    assert [r["type"] for r in rows] == ["ReLU", "ReLU6", "Tanh", "Sigmoid", "GELU"]
    assert rows[0]["dead"] == pytest.approx(1 / 3) and rows[0]["saturated"] is None
    assert rows[1]["dead"] == 0.5 and rows[1]["saturated"] is None
    assert rows[2]["saturated"] == 0.5 and rows[2]["dead"] is None
    assert rows[3]["saturated"] == 0.4 and rows[3]["dead"] is None
    assert rows[4]["dead"] is None and rows[4]["saturated"] is None
    y = np.array([[0.0, 1.0, -0.0], [0.0, 0.0, 2.0]])
    assert rows[0]["mean"] == y.mean() and rows[0]["std"] == y.std()
    assert set(rows[0]) == {"name", "type", "mean", "std", "dead", "saturated"}


def test_activation_stats_dead_counts_over_the_batch_axis():
    # 3 examples of (2, 2) maps: a unit is dead only when it is 0 on every example
    y = np.zeros((3, 2, 2))
    y[0, 0, 0] = 1.0
    y[2, 1, 1] = 3.0
    rows = debug.activation_stats(Sequential(fixed("ReLU", y.tolist())), mg.ones(1))
    assert rows[0]["dead"] == 0.5
    assert rows[0]["mean"] == pytest.approx(y.mean()) and rows[0]["std"] == pytest.approx(y.std())


def test_activation_stats_leaves_only_runs_without_grad_and_removes_hooks():
    grads = []

    class Probe(Module):
        def forward(self, x):
            grads.append(mg.is_grad_enabled())
            return x * 2.0

    single = Probe()
    assert debug.activation_stats(single, mg.ones(2)) == []     # the root has no name
    model = Sequential(Probe(), Sequential(Probe(), Probe()))
    x = mg.tensor(np.array([[1.0, -1.0]]), requires_grad=True)
    rows = debug.activation_stats(model, x)
    assert [r["name"] for r in rows] == ["0", "1.0", "1.1"]
    assert [r["mean"] for r in rows] == [0.0, 0.0, 0.0]
    assert [r["std"] for r in rows] == [2.0, 4.0, 8.0]
    assert grads == [False] * 4
    assert all(not m._forward_hooks for _, m in model.named_modules())

    class Fails(Module):
        def forward(self, x):
            raise ArithmeticError("boom")

    failing = Sequential(Probe(), Fails())
    with pytest.raises(ArithmeticError):
        debug.activation_stats(failing, x)
    assert all(not m._forward_hooks for _, m in failing.named_modules())


def test_plot_activation_stats_contents(tmp_path):
    rows = [{"name": "0", "type": "Linear", "mean": 0.5, "std": 1.0, "dead": None,
             "saturated": None},
            {"name": "1", "type": "ReLU", "mean": 0.25, "std": 0.5, "dead": 0.0,
             "saturated": None},
            {"name": "2", "type": "Tanh", "mean": -0.1, "std": 0.2, "dead": None,
             "saturated": 0.75}]
    fig = debug.plot_activation_stats(rows)
    spread, bad = fig.axes
    assert tuple(fig.get_size_inches()) == (11.0, 4.0)
    assert spread.get_position().x1 < bad.get_position().x0          # side by side
    assert spread.get_position().y0 == pytest.approx(bad.get_position().y0)
    assert [t.get_text() for t in spread.get_xticklabels()] == ["0 (Linear)", "1 (ReLU)",
                                                                 "2 (Tanh)"]
    assert spread.get_xticklabels()[0].get_rotation() == 90
    assert spread.get_xticklabels()[0].get_fontsize() == 8
    assert list(spread.get_xticks()) == [0, 1, 2]
    assert spread.get_title() == "activation mean ± std per layer"
    points, caps, (bars,) = spread.containers[0]
    assert list(points.get_ydata()) == [0.5, 0.25, -0.1]
    assert points.get_marker() == "o" and points.get_linestyle() == "None"
    segments = bars.get_segments()
    assert [tuple(s[:, 1]) for s in segments] == [pytest.approx((-0.5, 1.5)),
                                                  pytest.approx((-0.25, 0.75)),
                                                  pytest.approx((-0.3, 0.1))]
    assert len(caps) == 2 and caps[0].get_markersize() == 6       # capsize 3: 2 x 3 points
    assert [p.get_height() for p in bad.patches] == [0.0, 0.75]
    assert [matplotlib.colors.to_hex(p.get_facecolor()) for p in bad.patches] == [
        matplotlib.colors.to_hex("tab:red")] * 2
    assert [t.get_text() for t in bad.get_xticklabels()] == ["1 (dead)", "2 (saturated)"]
    assert bad.get_xticklabels()[1].get_rotation() == 90
    assert bad.get_xticklabels()[1].get_fontsize() == 8
    assert list(bad.get_xticks()) == [0, 1]
    assert bad.get_ylim() == (0.0, 1.0)
    assert bad.get_title() == "dead ReLU / saturated fraction"
    debug.plot_activation_stats(rows, str(tmp_path / "a.png"))
    assert png_size(tmp_path / "a.png") == (1100, 400)


# ================================================================ tensorboard

def test_numpy_of_tensors_device_arrays_and_others():
    assert np.array_equal(tensorboard._numpy(mg.tensor([1.0, 2.0])), [1.0, 2.0])

    class DeviceArray:
        __cuda_array_interface__ = {}

        def get(self):
            return np.array([7.0])

    assert tensorboard._numpy(DeviceArray()).tolist() == [7.0]
    plain = {"get": 1}
    assert tensorboard._numpy(plain) is plain           # a .get, but not a device array

    class InterfaceOnly:
        __cuda_array_interface__ = {}

    only = InterfaceOnly()
    assert tensorboard._numpy(only) is only
    assert tensorboard._numpy(3) == 3


def test_scalar_values_and_message():
    assert tensorboard._scalar("a", mg.tensor([[2.5]])) == 2.5
    assert type(tensorboard._scalar("a", np.array([1]))) is float
    assert tensorboard._scalar("a", 3) == 3.0 and type(tensorboard._scalar("a", 3)) is float
    with pytest.raises(ValueError, match=exactly(
            "add_scalar: 'loss/x' got an array of shape (2, 2); expected one number")):
        tensorboard._scalar("loss/x", mg.ones(2, 2))
    with pytest.raises(ValueError, match=exactly(
            "add_scalar: 'v' got an array of shape (0,); expected one number")):
        tensorboard._scalar("v", np.array([]))


def test_install_message_of_the_writer(monkeypatch):
    import builtins
    real_import = builtins.__import__

    def no_tensorboardx(name, *args, **kwargs):
        if name == "tensorboardX":
            raise ImportError("No module named 'tensorboardX'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tensorboardx)
    with pytest.raises(ImportError, match=exactly(
            "minigrad.utils.tensorboard.SummaryWriter needs the 'tensorboardX' package, from "
            "the 'tools' extra: pip install -e \".[tools]\" (or pip install tensorboardX)")) as e:
        SummaryWriter("unused")
    assert isinstance(e.value.__cause__, ImportError)


class Recorder:
    """Stands in for tensorboardX's writer: records each call and its arguments."""

    def __init__(self):
        self.calls = []
        self.logdir = "somewhere"

    def __getattr__(self, name):
        if name == "_get_file_writer":
            return lambda: self
        return lambda *args, **kwargs: self.calls.append((name, args, kwargs))


@pytest.fixture
def recorded(tmp_path):
    writer = SummaryWriter(str(tmp_path))
    writer._writer.close()
    writer._writer = Recorder()
    return writer


def test_calls_reach_tensorboardx_with_every_argument(recorded):
    w = recorded
    assert w.log_dir == "somewhere"
    w.add_scalar("s", mg.tensor([1.5]), 3, 10.0)
    w.add_scalars("m", {"a": 1, "b": mg.tensor(2.0)}, 4, 11.0)
    w.add_histogram("h", mg.tensor([[1.0, 2.0]]), 5, "auto", 12.0)
    w.add_histogram("hd", [1.0])
    w.add_image("i", mg.zeros(2, 2), 6, 13.0, "HW")
    w.add_image("id", np.zeros((1, 2, 2)))
    w.add_images("n", np.zeros((1, 2, 2, 1)), 7, 14.0, "NHWC")
    w.add_images("nd", np.zeros((1, 1, 2, 2)))
    w.add_text("t", "hello", 8, 15.0)
    w.add_text("td", "x")
    w.add_scalar("sd", 2.0)
    w.add_scalars("md", {"a": 1.0})
    w.flush()
    calls = w._writer.calls
    names = [c[0] for c in calls]
    assert names == ["add_scalar", "add_scalars", "add_histogram", "add_histogram", "add_image",
                     "add_image", "add_images", "add_images", "add_text", "add_text",
                     "add_scalar", "add_scalars", "flush"]
    assert calls[0][1] == ("s", 1.5, 3, 10.0) and type(calls[0][1][1]) is float
    assert calls[1][1] == ("m", {"a": 1.0, "b": 2.0}, 4, 11.0)
    tag, values, step, bins, walltime = calls[2][1]
    assert (tag, step, bins, walltime) == ("h", 5, "auto", 12.0)
    assert values.dtype == np.float64 and values.tolist() == [1.0, 2.0]
    assert calls[3][1][0] == "hd" and calls[3][1][2:] == (None, "tensorflow", None)
    tag, image, step, walltime, formats = calls[4][1]
    assert (tag, step, walltime, formats, image.shape) == ("i", 6, 13.0, "HW", (2, 2))
    assert isinstance(image, np.ndarray)
    assert calls[5][1][2:] == (None, None, "CHW")
    tag, images, step, walltime, formats = calls[6][1]
    assert (tag, step, walltime, formats, images.shape) == ("n", 7, 14.0, "NHWC", (1, 2, 2, 1))
    assert calls[7][1][2:] == (None, None, "NCHW")
    assert calls[8][1] == ("t", "hello", 8, 15.0)
    assert calls[9][1] == ("td", "x", None, None)
    assert calls[10][1] == ("sd", 2.0, None, None)
    assert calls[11][1] == ("md", {"a": 1.0}, None, None)


def test_close_and_context_manager(recorded):
    with recorded as w:
        assert w is recorded
    assert recorded._writer.calls == [("close", (), {})]
    assert recorded.__exit__(None, None, None) is False
    recorded.close()
    assert [c[0] for c in recorded._writer.calls] == ["close", "close", "close"]


def test_layout_messages(recorded):
    with pytest.raises(ValueError, match=exactly(
            "add_image: 'img' has shape (2, 3) (2 dimensions) but dataformats='CHW' expects 3")):
        recorded.add_image("img", mg.zeros(2, 3))
    with pytest.raises(ValueError, match=exactly(
            "add_images: 'batch' has shape (1, 2, 3) (3 dimensions) but dataformats='NCHW' "
            "expects 4")):
        recorded.add_images("batch", np.zeros((1, 2, 3)))
    with pytest.raises(ValueError, match=exactly(
            "add_scalar: 'loss' got an array of shape (3,); expected one number")):
        recorded.add_scalar("loss", mg.ones(3))
    with pytest.raises(ValueError, match=exactly(
            "add_scalar: 'val' got an array of shape (1, 2); expected one number")):
        recorded.add_scalars("acc", {"train": 1.0, "val": mg.ones(1, 2)})
    with pytest.raises(ValueError, match=exactly("add_histogram: 'h' got no values")):
        recorded.add_histogram("h", mg.zeros(0))
    with pytest.raises(ValueError, match=exactly(
            "add_graph: a module needs input_to_model (a Tensor or a tuple of Tensors) to run "
            "once")):
        recorded.add_graph(Linear(2, 1))
    assert recorded._writer.calls == []


class TwoOut(mg.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2, x + 1

    @staticmethod
    def backward(ctx, g_a, g_b):
        return g_a * 2 + g_b


def test_graph_def_names_inputs_shapes_and_versions():
    x = mg.tensor(np.ones((2, 3)), requires_grad=True)
    w = mg.tensor(np.ones((3,)), requires_grad=True)
    other = mg.tensor(np.ones((2, 3)), requires_grad=True)
    a, b = TwoOut.apply(x)
    y = ((b * w) + other + a).sum()
    graph = graph_def(y, {id(w): "layer1.0.weight"})
    assert graph.versions.producer == 22
    nodes = {n.name: n for n in graph.node}
    ops = [(n.name, n.op, list(n.input)) for n in graph.node]
    assert ops == [
        ("leaf_0", "Leaf", []),
        ("TwoOut_0", "TwoOut", ["leaf_0"]),
        ("layer1/0/weight", "Parameter", []),
        ("Mul_1", "Mul", ["TwoOut_0:1", "layer1/0/weight"]),
        ("leaf_1", "Leaf", []),
        ("Add_2", "Add", ["Mul_1", "leaf_1"]),
        ("Add_3", "Add", ["Add_2", "TwoOut_0"]),
        ("Sum_4", "Sum", ["Add_3"]),
    ]

    def shapes(node):
        return [[d.size for d in s.dim] for s in node.attr["_output_shapes"].list.shape]

    assert shapes(nodes["TwoOut_0"]) == [[2, 3], [2, 3]]
    assert shapes(nodes["layer1/0/weight"]) == [[3]]
    assert shapes(nodes["Sum_4"]) == [[]]
    assert shapes(nodes["leaf_1"]) == [[2, 3]]
    # an input that needs no gradient has no edge and no node
    constant = mg.tensor(np.full(3, 2.0))
    scaled = graph_def((constant * w).sum(), {id(w): "w"})
    assert [(n.name, n.op, list(n.input)) for n in scaled.node] == [
        ("w", "Parameter", []), ("Mul_0", "Mul", ["w"]), ("Sum_1", "Sum", ["Mul_0"])]
    # a graph that is only a leaf
    leaf = graph_def(x)
    assert [(n.name, n.op) for n in leaf.node] == [("leaf_0", "Leaf")]
    named = graph_def(x, {id(x): "x"})
    assert [(n.name, n.op) for n in named.node] == [("x", "Parameter")]
    assert graph_def(y).node[2].name == "leaf_1"


def test_add_graph_of_a_module(recorded, capsys):
    mg.manual_seed(0)
    net = Sequential(Linear(2, 3), ReLU())
    net.eval()
    x = mg.randn(4, 2, requires_grad=True)
    graph = recorded.add_graph(net, (x,), verbose=True)
    assert not net.training                                # the mode it had is kept
    names = [(n.name, n.op) for n in graph.node]
    assert ("input_0", "Parameter") in names and ("0/weight", "Parameter") in names
    printed = capsys.readouterr().out.splitlines()
    assert printed == [f"{n.name} {n.op} {list(n.input)}" for n in graph.node]
    assert recorded._writer.calls == [("add_onnx_graph", (graph,), {})]
    quiet = recorded.add_graph(net, x)
    assert capsys.readouterr().out == ""
    assert [(n.name, n.op) for n in quiet.node] == names

    class Pair(Module):
        def forward(self, p, q):
            return p * q

    p, q = mg.ones(2, requires_grad=True), mg.ones(2, requires_grad=True)
    pair = recorded.add_graph(Pair(), (p, q))
    assert [(n.name, n.op) for n in pair.node] == [("input_0", "Parameter"),
                                                   ("input_1", "Parameter"), ("Mul_0", "Mul")]

    class NotATensor(Module):
        def forward(self, x):
            return (x, x)

    with pytest.raises(TypeError, match=exactly(
            "add_graph: expected the model to return a Tensor, got a tuple")):
        recorded.add_graph(NotATensor(), x)


def test_default_comment_and_suffix_add_nothing(tmp_path, monkeypatch):
    import glob
    import os
    import socket
    with SummaryWriter(str(tmp_path / "a")) as writer:
        writer.add_scalar("s", 1.0, 0)
    (path,) = glob.glob(str(tmp_path / "a" / "events.out.tfevents.*"))
    assert os.path.basename(path).endswith("." + socket.gethostname())
    monkeypatch.chdir(tmp_path)
    with SummaryWriter() as writer:
        assert writer.log_dir.endswith("_" + socket.gethostname())
        assert os.path.dirname(writer.log_dir) == "runs"
