"""The attention demos run end to end with tiny settings: they print their summary and write
their metrics and PNGs."""
import json


from test_demos import run_demo

PNG = b"\x89PNG\r\n\x1a\n"


def _png(path):
    with open(path, "rb") as f:
        return f.read(8) == PNG


def test_vision_transformer_tiny_run(tmp_path):
    out = tmp_path / "vit"
    result = run_demo("vision_transformer.py", "--epochs", "2", "--limit", "128", "--width",
                      "16", "--heads", "2", "--layers", "1", "--quiet", "--out", str(out),
                      timeout=300)
    assert result.returncode == 0, result.stderr
    assert "vision_transformer: test accuracy" in result.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert 0.0 <= metrics["test_accuracy"] <= 1.0 and metrics["epochs"] == 2
    assert _png(out / "curves.png") and _png(out / "attention_maps.png")


def test_vision_transformer_rejects_bad_heads():
    result = run_demo("vision_transformer.py", "--width", "10", "--heads", "4")
    assert result.returncode == 2 and "divisible by --heads" in result.stderr


def test_seq2seq_attention_tiny_run(tmp_path):
    out = tmp_path / "s2s"
    result = run_demo("seq2seq_attention.py", "--steps", "3", "--max-len", "4", "--hidden",
                      "8", "--test-per-length", "5", "--quiet", "--out", str(out), timeout=300)
    assert result.returncode == 0, result.stderr
    assert "held-out exact match" in result.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    for model in ("attention", "no_attention"):
        assert set(metrics[model]["accuracy_by_length"]) == {"3", "4"}
        assert 0.0 <= metrics[model]["accuracy"] <= 1.0
    assert _png(out / "accuracy_by_length.png") and _png(out / "attention_maps.png")
