"""mg.viz.draw_graph: the structure of the drawing (nodes, edges, names), not the picture."""
import re
import shutil

import numpy as np
import pytest

import minigrad as mg
import minigrad.functional as F

graphviz = pytest.importorskip("graphviz", reason="draw_graph needs the 'tools' extra (graphviz)")


def _nodes(dot):
    """node id -> label, from the DOT source."""
    pattern = r'^\s*(\w+) \[label="?([^"\]]*?)"?(?: \w+=|\])'
    return dict(re.findall(pattern, dot.source, re.M | re.S))


def _edges(dot):
    """(tail, head, label or None) for each edge."""
    found = re.findall(r'^\s*(\w+) -> (\w+)(?: \[([^\]]*)\])?', dot.source, re.M)
    return [(a, b, (re.search(r'label="([^"]*)"', attrs) or [None, None])[1])
            for a, b, attrs in found]


def _two_layer_mlp():
    from layers import Linear, ReLU, Sequential
    mg.manual_seed(0)
    model = Sequential(Linear(3, 4), ReLU(), Linear(4, 2))
    x = mg.randn(5, 3)
    loss = F.cross_entropy(model(x), mg.tensor(np.array([0, 1, 0, 1, 1])))
    return model, loss


def test_mlp_graph_has_a_node_per_op_and_per_parameter():
    model, loss = _two_layer_mlp()
    dot = mg.viz.draw_graph(loss, params=dict(model.named_parameters()))
    labels = list(_nodes(dot).values())
    for name in ("0.weight", "0.bias", "2.weight", "2.bias"):
        assert sum(label.startswith(name + "\n") for label in labels) == 1, name
    assert "0.weight\n(4, 3) float32" in labels
    ops = [label for label in labels if "\n" not in label]
    assert ops.count("ReLU") == 1 and ops.count("Linear") == 2  # F.linear is one node
    assert labels[0].startswith("output 0\n() float32")


def test_edges_carry_shapes_and_dtypes_and_run_forward():
    x = mg.tensor(np.ones((2, 3)), requires_grad=True)
    w = mg.tensor(np.ones((3, 4)), requires_grad=True)
    y = (x @ w).sum()
    dot = mg.viz.draw_graph(y, params={"x": x, "w": w})
    nodes = _nodes(dot)
    by_label = {label.split("\n")[0]: node for node, label in nodes.items()}
    assert set(by_label) == {"output 0", "Sum", "MatMul", "x", "w"}
    edges = {(a, b): label for a, b, label in _edges(dot)}
    assert edges[(by_label["x"], by_label["MatMul"])] == "(2, 3) float64"
    assert edges[(by_label["w"], by_label["MatMul"])] == "(3, 4) float64"
    assert edges[(by_label["MatMul"], by_label["Sum"])] == "(2, 4) float64"
    assert edges[(by_label["Sum"], by_label["output 0"])] == "() float64"
    assert len(edges) == 4


def test_a_shared_leaf_and_a_reused_node_are_drawn_once():
    x = mg.tensor(np.array([1.0, 2.0]), requires_grad=True)
    h = x.exp()
    y = (h * h + x).sum()
    dot = mg.viz.draw_graph(y)
    labels = [label.split("\n")[0] for label in _nodes(dot).values()]
    assert labels.count("Exp") == 1
    assert labels.count("leaf") == 1
    # x->Exp, Exp->Mul twice, Mul->Add, x->Add, Add->Sum, Sum->output
    assert len(_edges(dot)) == 7
    edges = [(a, b) for a, b, _ in _edges(dot)]
    exp_id = next(n for n, label in _nodes(dot).items() if label == "Exp")
    assert sum(a == exp_id for a, _ in edges) == 2


def test_show_saved_adds_one_note_per_saved_entry():
    x = mg.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = (x * 3.0).tanh().sum()
    plain = mg.viz.draw_graph(y)
    saved = mg.viz.draw_graph(y, show_saved=True)
    notes = [label for label in _nodes(saved).values() if label.startswith("saved")]
    assert len(_nodes(plain)) + len(notes) == len(_nodes(saved))
    assert "saved 0\noutput 0 (2,) float64" in notes  # tanh keeps its output
    assert not any(label.startswith("saved") for label in _nodes(plain).values())


def test_gradients_show_after_backward_with_retain_graph():
    x = mg.tensor(np.array([1.0, 2.0]), requires_grad=True)
    big = mg.tensor(np.ones(10), requires_grad=True)
    y = (x * x).sum() + (big * 2.0).sum()
    y.backward(retain_graph=True)
    labels = list(_nodes(mg.viz.draw_graph(y, params={"x": x, "big": big})).values())
    assert "x\n(2,) float64\ngrad 2 4" in labels
    assert f"big\n(10,) float64\n|grad| {np.sqrt(40):.4g}" in labels


def test_a_freed_graph_is_a_clear_error():
    x = mg.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        mg.viz.draw_graph(y)


def test_several_outputs_and_bad_input():
    x = mg.tensor(np.array([1.0, 2.0]), requires_grad=True)
    a, b = x.exp(), x.sin()
    labels = [label.split("\n")[0] for label in _nodes(mg.viz.draw_graph([a, b])).values()]
    assert {"output 0", "output 1", "Exp", "Sin", "leaf"} == set(labels)
    with pytest.raises(TypeError, match="output 1 is a ndarray"):
        mg.viz.draw_graph([a, np.ones(2)])


def test_without_the_package_the_error_names_the_extra(monkeypatch):
    import builtins
    real_import = builtins.__import__

    def no_graphviz(name, *args, **kwargs):
        if name == "graphviz":
            raise ImportError("No module named 'graphviz'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_graphviz)
    with pytest.raises(ImportError, match=r"'tools' extra"):
        mg.viz.draw_graph(mg.tensor([1.0], requires_grad=True).sum())


def test_renders_with_dot_when_present(tmp_path):
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot program is not installed; the DOT source is still tested")
    x = mg.tensor(np.array([1.0, 2.0]), requires_grad=True)
    path = mg.viz.draw_graph((x * x).sum()).render(str(tmp_path / "g"), format="png")
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
