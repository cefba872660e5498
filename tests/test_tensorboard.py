"""minigrad.utils.tensorboard.SummaryWriter: what it writes, read back from the event file."""
import glob
import os
import struct

import numpy as np
import pytest

import minigrad as mg

pytest.importorskip("tensorboardX", reason="SummaryWriter needs the 'tools' extra (tensorboardX)")
from tensorboardX.proto import event_pb2, graph_pb2  # noqa: E402

from minigrad.utils.tensorboard import SummaryWriter  # noqa: E402


def read_events(folder):
    """Every Event in the event files under ``folder`` (TFRecord: length, crc, data, crc)."""
    events = []
    for path in sorted(glob.glob(os.path.join(folder, "**", "events.out.tfevents.*"),
                                 recursive=True)):
        with open(path, "rb") as f:
            data = f.read()
        at = 0
        while at < len(data):
            (length,) = struct.unpack("<Q", data[at:at + 8])
            event = event_pb2.Event()
            event.ParseFromString(data[at + 12:at + 12 + length])
            events.append(event)
            at += 12 + length + 4
    return events


def summaries(folder):
    """(tag, step, value proto) for every summary value written under ``folder``."""
    return [(v.tag, e.step, v) for e in read_events(folder) if e.HasField("summary")
            for v in e.summary.value]


def test_scalars_from_tensors_and_numbers(tmp_path):
    with SummaryWriter(str(tmp_path)) as writer:
        for step in range(3):
            writer.add_scalar("loss/train", mg.tensor(1.0 / (step + 1)), step)
        writer.add_scalar("lr", np.float32(0.1), 0)
    found = [(tag, step, v.simple_value) for tag, step, v in summaries(str(tmp_path))]
    assert [(t, s) for t, s, _ in found if t == "loss/train"] == [("loss/train", i)
                                                                  for i in range(3)]
    assert [v for t, _, v in found if t == "loss/train"] == pytest.approx([1.0, 0.5, 1 / 3])
    assert ("lr", 0) in [(t, s) for t, s, _ in found]


def test_add_scalars_writes_one_run_per_key(tmp_path):
    with SummaryWriter(str(tmp_path)) as writer:
        writer.add_scalars("accuracy", {"train": mg.tensor([0.9]), "val": 0.8}, 5)
    train = summaries(str(tmp_path / "accuracy" / "train"))
    val = summaries(str(tmp_path / "accuracy" / "val"))
    assert [(t, s, v.simple_value) for t, s, v in train] == [("accuracy", 5, pytest.approx(0.9))]
    assert [(t, s, v.simple_value) for t, s, v in val] == [("accuracy", 5, pytest.approx(0.8))]


def test_histogram_of_a_tensor(tmp_path):
    values = mg.tensor(np.arange(100, dtype=np.float32).reshape(10, 10))
    with SummaryWriter(str(tmp_path)) as writer:
        writer.add_histogram("layer.weight", values, 2)
    ((tag, step, v),) = summaries(str(tmp_path))
    assert (tag, step) == ("layer.weight", 2)
    assert v.histo.num == 100 and v.histo.min == 0 and v.histo.max == 99
    assert v.histo.sum == pytest.approx(4950)


def test_images_keep_their_size(tmp_path):
    with SummaryWriter(str(tmp_path)) as writer:
        writer.add_image("one", mg.rand(3, 8, 6), 0)
        writer.add_image("gray", mg.rand(5, 7), 0, dataformats="HW")
        writer.add_images("batch", mg.rand(4, 1, 8, 8), 0)
    images = {tag: v.image for tag, _, v in summaries(str(tmp_path))}
    assert (images["one"].height, images["one"].width) == (8, 6)
    assert (images["gray"].height, images["gray"].width) == (5, 7)
    assert images["batch"].encoded_image_string[:8] == b"\x89PNG\r\n\x1a\n"
    assert images["batch"].height >= 8 and images["batch"].width >= 16  # a grid of 4


def test_graph_of_a_module_names_parameters_and_ops(tmp_path):
    from models import MLP
    mg.manual_seed(0)
    model = MLP(2, [4], 3)
    with SummaryWriter(str(tmp_path)) as writer:
        written = writer.add_graph(model, mg.randn(5, 2, requires_grad=True))
    (event,) = [e for e in read_events(str(tmp_path)) if e.graph_def]
    graph = graph_pb2.GraphDef()
    graph.ParseFromString(event.graph_def)
    assert graph == written
    nodes = {n.name: n for n in graph.node}
    for name in ("net/0/weight", "net/0/bias", "net/2/weight", "net/2/bias", "input_0"):
        assert name in nodes
    assert nodes["net/0/weight"].op == "Parameter"
    assert [n.op for n in graph.node].count("Linear") == 2
    assert [n.op for n in graph.node].count("ReLU") == 1
    relu = next(n for n in graph.node if n.op == "ReLU")
    (shape,) = relu.attr["_output_shapes"].list.shape
    assert [d.size for d in shape.dim] == [5, 4]
    for node in graph.node:  # every input names a node of the graph
        for source in node.input:
            assert source.split(":")[0] in nodes


def test_graph_of_an_output_tensor(tmp_path):
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    with SummaryWriter(str(tmp_path)) as writer:
        graph = writer.add_graph((x * x).sum())
    assert [n.op for n in graph.node] == ["Leaf", "Mul", "Sum"]
    assert graph.node[0].name == "leaf_0"
    assert list(graph.node[1].input) == ["leaf_0", "leaf_0"]


def test_bad_input_is_a_clear_error(tmp_path):
    from models import MLP
    with SummaryWriter(str(tmp_path)) as writer:
        with pytest.raises(ValueError, match="expected one number"):
            writer.add_scalar("loss", mg.ones(3), 0)
        with pytest.raises(ValueError, match=r"dataformats='CHW' expects 3"):
            writer.add_image("img", mg.rand(8, 8), 0)
        with pytest.raises(ValueError, match="needs input_to_model"):
            writer.add_graph(MLP(2, [3], 1))
        with pytest.raises(ValueError, match="got no values"):
            writer.add_histogram("h", np.array([]), 0)


def test_flush_close_and_log_dir(tmp_path):
    # tensorboardX writes from a worker thread: flush() forwards to it, close() waits for it
    writer = SummaryWriter(str(tmp_path))
    writer.add_scalar("a", 1.0, 0)
    writer.flush()
    writer.close()
    assert [t for t, _, _ in summaries(str(tmp_path))] == ["a"]
    assert writer.log_dir == str(tmp_path)


def test_without_the_package_the_error_names_the_extra(monkeypatch):
    import builtins
    real_import = builtins.__import__

    def no_tensorboardx(name, *args, **kwargs):
        if name == "tensorboardX":
            raise ImportError("No module named 'tensorboardX'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tensorboardx)
    with pytest.raises(ImportError, match=r"'tools' extra"):
        SummaryWriter("unused")


def test_add_graph_changes_no_state(tmp_path):
    from models import resnet_small
    model = resnet_small(layers=(1,))
    before = model.bn1.running_mean.numpy().copy()
    with SummaryWriter(str(tmp_path)) as writer:
        graph = writer.add_graph(model, mg.randn(2, 1, 8, 8) + 5.0)
    assert model.training
    np.testing.assert_array_equal(model.bn1.running_mean.numpy(), before)
    assert "Conv2d" in [n.op for n in graph.node]


def test_walltime_bins_text_verbose_comment_and_suffix(tmp_path, monkeypatch, capsys):
    with SummaryWriter(str(tmp_path / "a"), filename_suffix=".minigrad") as writer:
        writer.add_scalar("s", 1.0, 0, walltime=1000.0)
        writer.add_scalars("m", {"x": 1.0}, 0, walltime=1001.0)
        writer.add_histogram("h", np.arange(50.0), 0, walltime=1002.0)
        writer.add_histogram("auto", np.arange(50.0), 0, bins="auto")
        writer.add_histogram("tf", np.arange(50.0), 0)
        writer.add_image("i", np.zeros((1, 2, 2)), 0, walltime=1003.0)
        writer.add_images("n", np.zeros((2, 2, 2, 1)), 0, walltime=1004.0, dataformats="NHWC")
        writer.add_text("note", "hello", 0, walltime=1005.0)
        writer.add_graph(mg.tensor([1.0], requires_grad=True).exp(), verbose=True)
    assert "Exp_0 Exp ['leaf_0']" in capsys.readouterr().out
    files = glob.glob(str(tmp_path / "a" / "events.out.tfevents.*"))
    assert files and all(f.endswith(".minigrad") for f in files)
    times = {v.tag: e.wall_time for e in read_events(str(tmp_path / "a")) if e.HasField("summary")
             for v in e.summary.value}
    assert times["s"] == 1000.0 and times["h"] == 1002.0 and times["i"] == 1003.0
    assert times["n"] == 1004.0 and times["note/text_summary"] == 1005.0
    assert [e.wall_time for e in read_events(str(tmp_path / "a" / "m" / "x"))
            if e.HasField("summary")] == [1001.0]
    values = {tag: v for tag, _, v in summaries(str(tmp_path / "a"))}
    assert len(values["auto"].histo.bucket) != len(values["tf"].histo.bucket)
    monkeypatch.chdir(tmp_path)
    with SummaryWriter(comment="_lr0.1") as writer:
        assert writer.log_dir.startswith("runs") and writer.log_dir.endswith("_lr0.1")
