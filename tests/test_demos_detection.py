"""demos/detect_shapes.py: --help, the clear error for a missing GPU, and a tiny run that prints
its summary and writes its PNGs and metrics (the full settings are measured in the README)."""
import json
import re

import numpy as np

from test_demos import run_demo


def test_help_lists_the_options():
    result = run_demo("detect_shapes.py", "--help")
    assert result.returncode == 0, result.stderr
    for option in ("--device", "--out", "--epochs", "--two-stage-epochs", "--image-size"):
        assert option in result.stdout


def test_tiny_run_prints_and_writes_its_files(tmp_path):
    out = tmp_path / "run"
    result = run_demo("detect_shapes.py", "--train-images", "32", "--test-images", "8",
                      "--image-size", "32", "--epochs", "1", "--two-stage-epochs", "1",
                      "--baseline-epochs", "1", "--out", str(out), timeout=600)
    assert result.returncode == 0, result.stderr
    for name in ("single_stage", "two_stage", "sliding_window"):
        line = re.search(rf"{name}\s+mAP@0.5 (\d\.\d+)\s+mAP@0.5:0.95 (\d\.\d+)", result.stdout)
        assert line, result.stdout
        assert 0 <= float(line.group(2)) <= float(line.group(1)) <= 1
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics) >= {"single_stage", "two_stage", "sliding_window", "settings"}
    assert metrics["sliding_window"]["windows"] > 0
    for name in ("detections.png", "losses.png"):
        assert (out / name).read_bytes()[:4] == b"\x89PNG"


def test_the_shapes_are_seeded_and_their_boxes_tight(monkeypatch):
    import importlib.util
    import os
    demos = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "demos")
    monkeypatch.syspath_prepend(demos)  # the demo imports its _common helper
    path = os.path.join(demos, "detect_shapes.py")
    spec = importlib.util.spec_from_file_location("detect_shapes", path)
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    a, ta = demo.make_dataset(4, 32, seed=3)
    b, tb = demo.make_dataset(4, 32, seed=3)
    np.testing.assert_array_equal(a, b)
    assert all((x["boxes"] == y["boxes"]).all() for x, y in zip(ta, tb))
    image = np.zeros((3, 16, 16))
    box = demo.draw_shape(image, 0, 2.0, 3.0, 6.0, (1, 1, 1))
    assert box.tolist() == [2, 3, 8, 9] and image[0].sum() == 36
