"""demos/char_lstm.py in tiny settings: it prints its summary and writes its figures and
metrics (perplexities, samples at every temperature each epoch, gradient norms)."""
import json

import pytest

from test_demos import run_demo

TINY = ["--epochs", "2", "--steps-per-epoch", "3", "--hidden", "16", "--embed", "8",
        "--bptt", "16", "--batch-size", "8", "--sample-length", "12", "--grad-steps", "20",
        "--temperatures", "0.5", "1.5", "--quiet"]


def test_help():
    result = run_demo("char_lstm.py", "--help")
    assert result.returncode == 0, result.stderr
    assert "usage:" in result.stdout and "--bptt" in result.stdout and "--device" in result.stdout


def test_tiny_run_writes_figures_and_metrics(tmp_path):
    out = tmp_path / "run"
    result = run_demo("char_lstm.py", *TINY, "--out", str(out), timeout=300)
    assert result.returncode == 0, result.stderr
    assert "LSTM: validation perplexity" in result.stdout
    assert "rnn: gradient at the first of 20 steps" in result.stdout
    for name in ("perplexity.png", "gradient_norms.png", "metrics.json"):
        assert (out / name).stat().st_size > 0
    metrics = json.loads((out / "metrics.json").read_text())
    lstm = metrics["histories"]["lstm"]
    assert len(lstm["val_perplexity"]) == 2 and 1 < metrics["val_perplexity"] < 60
    assert [sorted(s) for s in lstm["samples"]] == [["0.5", "1.5"]] * 2
    assert all(text.startswith("THE ") and len(text) == 4 + 12
               for s in lstm["samples"] for text in s.values())
    for name in ("lstm", "rnn"):
        norms = metrics["gradient_norms"][name]
        assert len(norms) == 20 and norms[-1] > 0


def test_own_text_and_no_rnn(tmp_path):
    text = tmp_path / "t.txt"
    text.write_text("abcabcabd " * 300, encoding="utf-8")
    out = tmp_path / "run"
    result = run_demo("char_lstm.py", *TINY, "--no-rnn", "--text", str(text), "--out", str(out),
                      timeout=300)
    assert result.returncode == 0, result.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["vocabulary"] == 5 and list(metrics["gradient_norms"]) == ["lstm"]


@pytest.mark.parametrize("args,message", [(["--bptt", "0"], "--bptt must be at least 1"),
                                          (["--temperatures", "0"], "must be positive"),
                                          (["--text", "/no/such/file"], "is not a file")])
def test_bad_arguments_are_usage_errors(args, message):
    result = run_demo("char_lstm.py", *args)
    assert result.returncode == 2 and message in result.stderr
