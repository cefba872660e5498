"""The generative demos (autoencoder_vae, segmentation, gan): --help, a clear error for a
missing GPU, and a run with tiny settings that prints its summary and writes its files."""
import json
import re


from test_demos import run_demo

SCRIPTS = ["autoencoder_vae.py", "segmentation.py", "gan.py"]


def test_bad_flags_are_usage_errors():
    assert run_demo("segmentation.py", "--size", "20").returncode == 2
    assert run_demo("gan.py", "--n-critic", "0").returncode == 2
    assert run_demo("autoencoder_vae.py", "--beta", "-1").returncode == 2


def test_autoencoder_vae_small_run(tmp_path):
    out = tmp_path / "run"
    result = run_demo("autoencoder_vae.py", "--epochs", "1", "--limit", "64", "--batch-size",
                      "32", "--latent", "3", "--quiet", "--out", str(out), timeout=600)
    assert result.returncode == 0, result.stderr
    assert re.search(r"vae\s+reconstruction\s+\d+\.\d+\s+ELBO\s+-\d+\.\d+", result.stdout)
    for name in ("reconstructions.png", "samples.png", "interpolation.png", "latent_2d.png",
                 "manifold.png", "curves.png"):
        assert (out / name).stat().st_size > 1000, name
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["models"]) == {"autoencoder", "vae", "vae_2d"}
    vae = metrics["models"]["vae"]
    # reconstruction from the mean code and a one-sample ELBO: both finite, ELBO negative
    assert vae["elbo_nats"] < 0 < vae["reconstruction_nats"] and vae["kl_nats"] >= 0


def test_segmentation_small_run(tmp_path):
    out = tmp_path / "run"
    result = run_demo("segmentation.py", "--steps", "2", "--batch-size", "2", "--size", "16",
                      "--channels", "4", "8", "--test-images", "4", "--compare", "bilinear",
                      "transposed", "--quiet", "--out", str(out), timeout=600)
    assert result.returncode == 0, result.stderr
    assert re.search(r"unet-transposed\s+\d\.\d{3}", result.stdout)
    for name in ("panels.png", "upsampling.png"):
        assert (out / name).stat().st_size > 1000, name
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["models"]) == {"segnet-unpool", "unet-bilinear", "unet-transposed"}
    for result in metrics["models"].values():
        assert 0 <= result["miou"] <= 1 and len(result["losses"]) == 2


def test_segmentation_data_are_seeded_and_labelled():
    import os
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "demos"))
    import numpy as np
    from segmentation import CLASS_NAMES, make_shapes
    images, labels = make_shapes(6, 16, seed=3)
    again, labels_again = make_shapes(6, 16, seed=3)
    assert images.shape == (6, 3, 16, 16) and labels.shape == (6, 16, 16)
    np.testing.assert_array_equal(images, again)
    np.testing.assert_array_equal(labels, labels_again)
    assert not np.array_equal(make_shapes(6, 16, seed=4)[1], labels)
    assert set(np.unique(labels)) <= set(range(len(CLASS_NAMES))) and (labels > 0).any()


def test_gan_small_run(tmp_path):
    out = tmp_path / "run"
    result = run_demo("gan.py", "--epochs", "2", "--limit", "64", "--batch-size", "32",
                      "--width", "4", "--n-critic", "2", "--classifier-epochs", "1",
                      "--score-samples", "50", "--quiet", "--out", str(out), timeout=600)
    assert result.returncode == 0, result.stderr
    assert re.search(r"wgan-gp\s+mean confidence 0\.\d{3}, classes covered \d+/10", result.stdout)
    for name in ("losses.png", "quality.png", "samples_dcgan.png", "samples_wgan-gp.png",
                 "classifier.npz", "samples/dcgan_epoch_002.png",
                 "samples/wgan-gp_epoch_001.png"):
        assert (out / name).stat().st_size > 500, name
    metrics = json.loads((out / "metrics.json").read_text())
    for name in ("dcgan", "wgan-gp"):
        history = metrics["history"][name]
        assert len(history["confidence"]) == 2 and 0 < history["confidence"][-1] <= 1
        assert 0 <= metrics["final"][name]["coverage"] <= 10
