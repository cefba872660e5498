"""mg.trace_backward: the order of the walk, the shapes and the gradient norms it records."""
import math
import sys
import threading

import numpy as np
import pytest

import minigrad as mg


def _chain():
    x = mg.tensor(np.array([[1.0, -2.0, 3.0]]), requires_grad=True)   # (1, 3)
    w = mg.tensor(np.ones((3, 2)) * 0.5, requires_grad=True)          # (3, 2)
    loss = (x @ w).tanh().sum()
    return x, w, loss


def test_rows_follow_the_walk_from_root_to_leaves():
    x, w, loss = _chain()
    with mg.trace_backward() as t:
        loss.backward()
    assert [r.op for r in t.rows] == ["Sum", "Tanh", "MatMul"]
    assert [r.step for r in t.rows] == [0, 1, 2]
    matmul = t.rows[2]
    assert matmul.input_shapes == ((1, 3), (3, 2))
    assert matmul.output_shapes == ((1, 2),)
    assert t.rows[0].output_shapes == ((),)


def test_norms_are_those_of_the_gradients():
    x, w, loss = _chain()
    h = (x.numpy() @ w.numpy())
    with mg.trace_backward() as t:
        loss.backward()
    sum_row, tanh_row, matmul_row = t.rows
    assert sum_row.grad_output_norm == pytest.approx(1.0)
    assert sum_row.grad_input_norm == pytest.approx(np.sqrt(2.0))   # ones of shape (1, 2)
    g_h = 1 - np.tanh(h) ** 2
    assert tanh_row.grad_input_norm == pytest.approx(np.linalg.norm(g_h))
    assert matmul_row.grad_output_norm == pytest.approx(np.linalg.norm(g_h))
    expected = np.sqrt(np.linalg.norm(x.grad.numpy()) ** 2 + np.linalg.norm(w.grad.numpy()) ** 2)
    assert matmul_row.grad_input_norm == pytest.approx(expected)


def test_nothing_is_recorded_outside_the_block_and_traces_nest():
    with mg.trace_backward() as outer:
        _chain()[2].backward()
        with mg.trace_backward() as inner:
            _chain()[2].backward()
        _chain()[2].backward()
    _chain()[2].backward()
    assert len(inner.rows) == 3
    assert len(outer.rows) == 9
    assert [r.step for r in outer.rows] == list(range(9))


def test_mg_grad_is_traced_too():
    x, w, loss = _chain()
    with mg.trace_backward() as t:
        mg.grad(loss, [w])
    assert [r.op for r in t.rows] == ["Sum", "Tanh", "MatMul"]


def test_other_threads_are_not_traced():
    with mg.trace_backward() as t:
        worker = threading.Thread(target=lambda: _chain()[2].backward())
        worker.start()
        worker.join()
    assert t.rows == []


def test_vanishing_gradient_shows_in_the_norms():
    # 8 saturated sigmoids: each multiplies the gradient by at most s(1 - s), tiny here
    x = mg.tensor(np.array([6.0]), requires_grad=True)
    y = x
    for _ in range(8):
        y = (y * 3.0 + 5.0).sigmoid()
    with mg.trace_backward() as t:
        y.sum().backward()
    sigmoid_norms = [r.grad_output_norm for r in t.rows if r.op == "Sigmoid"]
    assert len(sigmoid_norms) == 8
    assert all(b < a for a, b in zip(sigmoid_norms, sigmoid_norms[1:]))
    assert sigmoid_norms[-1] < 1e-3 * sigmoid_norms[0]


def test_table_lists_each_row_and_prints_to_a_file(capsys):
    x, w, loss = _chain()
    with mg.trace_backward() as t:
        loss.backward()
    text = t.table(file=sys.stdout)
    lines = text.splitlines()
    assert lines[0].split()[:2] == ["step", "op"]
    assert len(lines) == 2 + 3
    assert lines[4].split()[:2] == ["2", "MatMul"]
    assert "(1, 3), (3, 2)" in lines[4]
    assert capsys.readouterr().out.strip() == text.strip()


def test_plot_writes_a_png(tmp_path):
    x, w, loss = _chain()
    with mg.trace_backward() as t:
        loss.backward()
    path = tmp_path / "trace.png"
    fig = t.plot(str(path))
    assert len(fig.axes[0].patches) == 3
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def _matmul_trace():
    x = mg.tensor(np.array([[1.0, 2.0, 3.0]]), requires_grad=True)
    w = mg.tensor(np.ones((3, 2)), requires_grad=True)
    with mg.trace_backward() as t:
        (x @ w).sum().backward()
    return t


def test_table_is_aligned_text_with_every_field():
    assert _matmul_trace().table().splitlines() == [
        "step  op      input shapes    output shapes  |grad out|  |grad in|",
        "----  ------  --------------  -------------  ----------  ---------",
        "0     Sum     (1, 2)          ()             1           1.414",
        "1     MatMul  (1, 3), (3, 2)  (1, 2)         1.414       6.325",
    ]


def test_table_marks_an_input_that_wanted_no_gradient():
    x = mg.tensor(np.array([2.0, 3.0]), requires_grad=True)
    with mg.trace_backward() as t:
        (x * mg.tensor(np.array([4.0, 5.0]))).sum().backward()
    assert "  (2,), -  " in t.table().splitlines()[3]
    assert t.rows[1].input_shapes == ((2,), None)
    assert t.rows[1].grad_input_norm == pytest.approx(math.hypot(4.0, 5.0))


def test_plot_draws_each_node_on_a_log_axis_with_its_labels():
    fig = _matmul_trace().plot()
    ax = fig.axes[0]
    assert [p.get_height() for p in ax.patches] == pytest.approx([1.0, math.sqrt(2)])
    assert ax.get_yscale() == "log"
    assert list(ax.get_xticks()) == [0, 1]
    assert [label.get_text() for label in ax.get_xticklabels()] == ["Sum", "MatMul"]
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == (
        "node, in the order backward ran it", "|gradient| reaching it",
        "gradient norm along the backward walk")
    assert fig.get_size_inches()[0] == 6


def test_plot_draws_a_zero_norm_a_tenth_below_the_smallest_positive_one():
    y = mg.tensor(np.ones(2), requires_grad=True)
    with mg.trace_backward() as t:
        (y.exp() * 0.0).sum().backward()
    assert [r.grad_output_norm for r in t.rows] == pytest.approx([1.0, math.sqrt(2), 0.0])
    heights = [p.get_height() for p in t.plot().axes[0].patches]
    assert heights == pytest.approx([1.0, math.sqrt(2), 0.1])


def test_leaving_a_trace_stops_it_and_keeps_exceptions():
    x = mg.tensor(np.ones(2), requires_grad=True)
    with pytest.raises(ZeroDivisionError):
        with mg.trace_backward() as t:
            1 / 0
    x.sum().backward()
    assert t.rows == []


def test_table_prints_to_the_file_given_and_not_elsewhere(capsys):
    import io
    sink = io.StringIO()
    text = _matmul_trace().table(file=sink)
    assert sink.getvalue() == text + "\n"
    assert capsys.readouterr().out == ""


def test_a_long_trace_gets_a_wider_plot():
    x = mg.tensor(np.ones(2), requires_grad=True)
    y = x
    with mg.trace_backward() as t:
        for _ in range(19):
            y = y * 1.0
        y.sum().backward()
    assert len(t.rows) == 20
    assert t.plot().get_size_inches()[0] == pytest.approx(0.35 * 20)


def test_plot_of_all_zero_gradients_draws_them_at_1e_minus_12():
    y = mg.tensor(np.ones(2), requires_grad=True)
    with mg.trace_backward() as t:
        (y * 2.0).sum().backward(mg.tensor(0.0, dtype=np.float64))
    assert [r.grad_output_norm for r in t.rows] == [0.0, 0.0]
    assert [p.get_height() for p in t.plot().axes[0].patches] == [1e-12, 1e-12]


def test_plot_saves_a_600_by_400_png_with_blue_bars_and_upright_small_labels(tmp_path):
    import struct
    from matplotlib.colors import to_rgba
    path = tmp_path / "trace.png"
    fig = _matmul_trace().plot(str(path))
    with open(path, "rb") as f:
        header = f.read(24)
    assert struct.unpack(">II", header[16:24]) == (600, 400)
    ax = fig.axes[0]
    assert all(p.get_facecolor() == to_rgba("tab:blue") for p in ax.patches)
    assert [(label.get_rotation(), label.get_fontsize()) for label in ax.get_xticklabels()] == \
        [(90.0, 8.0), (90.0, 8.0)]
