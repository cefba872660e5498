"""The main demo's --debug and the demos' --logdir: tiny runs checking what they print and
write."""
import glob
import json
import os
import re
import struct
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_demos import run_demo  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


def _tags(logdir):
    """Every (tag, kind) in the event files under ``logdir``; kind is the summary field set."""
    from tensorboardX.proto import event_pb2
    found = set()
    for path in glob.glob(os.path.join(logdir, "**", "events.out.tfevents.*"), recursive=True):
        data = open(path, "rb").read()
        at = 0
        while at < len(data):
            (length,) = struct.unpack("<Q", data[at:at + 8])
            event = event_pb2.Event()
            event.ParseFromString(data[at + 12:at + 12 + length])
            at += 12 + length + 4
            if event.graph_def:
                found.add(("graph", "graph_def"))
            for value in event.summary.value:
                found.add((value.tag, value.WhichOneof("value")))
    return found


def test_classify_digits_debug_writes_the_recipes_pngs(tmp_path):
    out = tmp_path / "run"
    result = run_demo("classify_digits.py", "--model", "mlp", "--epochs", "1", "--limit", "200",
                      "--debug", "--out", str(out), timeout=300)
    assert result.returncode == 0, result.stderr
    assert "layer (type)" in result.stdout and "output shape" in result.stdout
    assert re.search(r"debug: lr_find suggests lr ~ \d", result.stdout)
    assert re.search(r"debug: classifier\.\d+ \(ReLU\): \d+\.\d% dead|debug: net\.\d+ \(ReLU\)",
                     result.stdout)
    assert "debug: overfit one batch: loss" in result.stdout
    for name in ("activations.png", "gradient_flow.png", "lr_find.png", "overfit.png"):
        assert (out / name).read_bytes()[:8] == PNG, name
    debug = json.loads((out / "metrics.json").read_text())["debug"]
    assert debug["overfit_reached"] is True  # an MLP memorises 32 digits in 100 Adam steps
    assert 1e-5 <= debug["lr_suggestion"] <= 1.0


def test_classify_digits_logdir_logs_curves_histograms_images_graph(tmp_path):
    pytest.importorskip("tensorboardX", reason="--logdir needs the 'tools' extra")
    logdir = tmp_path / "tb"
    result = run_demo("classify_digits.py", "--epochs", "2", "--limit", "100", "--quiet",
                      "--out", str(tmp_path / "run"), "--logdir", str(logdir), timeout=300)
    assert result.returncode == 0, result.stderr
    tags = _tags(str(logdir))
    for tag in ("loss", "accuracy", "lr", "test/accuracy"):
        assert (tag, "simple_value") in tags, tag
    assert ("weights/features.0.weight", "histo") in tags
    assert ("grads/features.0.weight", "histo") in tags
    assert ("train/samples", "image") in tags
    assert ("graph", "graph_def") in tags
    assert sorted(os.listdir(logdir / "loss")) == ["train", "val"]


def test_train_mlp_logdir(tmp_path):
    pytest.importorskip("tensorboardX", reason="--logdir needs the 'tools' extra")
    logdir = tmp_path / "tb"
    result = run_demo("train_mlp.py", "--steps", "20", "--print-every", "10", "--quiet",
                      "--out", str(tmp_path / "run"), "--logdir", str(logdir))
    assert result.returncode == 0, result.stderr
    tags = _tags(str(logdir))
    assert {("loss/train", "simple_value"), ("accuracy/train", "simple_value"),
            ("boundary", "image"), ("graph", "graph_def"),
            ("weights/net.0.weight", "histo"), ("grads/net.0.weight", "histo")} <= tags


def test_without_logdir_nothing_is_logged(tmp_path):
    result = run_demo("train_mlp.py", "--steps", "5", "--print-every", "5", "--quiet",
                      "--out", str(tmp_path / "run"))
    assert result.returncode == 0, result.stderr
    assert not glob.glob(str(tmp_path / "**" / "events.out.tfevents.*"), recursive=True)
    assert "--debug" in run_demo("classify_digits.py", "--help").stdout
