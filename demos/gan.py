"""Generative adversarial networks on the 8x8 digits: DCGAN and WGAN-GP.

1. Data: the digits shipped with minigrad (the training part, 1,437 images), scaled to
   [-1, 1] to match the generator's tanh.
2. DCGAN: the discriminator minimises the binary cross-entropy of "real or fake"; the
   generator the non-saturating loss -log D(G(z)). One step of each per batch.
3. WGAN-GP: the critic maximises E f(real) - E f(fake) - lambda GP, where the gradient
   penalty GP differentiates the critic's input gradient (``create_graph=True``: a gradient of
   a gradient through the conv kernels); the generator takes one step per ``--n-critic``
   critic steps.
4. Quality score: a LeNet classifier trained on the real digits with the main demo's code
   (``classify_digits.py``) labels ``--score-samples`` generated images after every epoch.
   Reported: the mean class confidence (the classifier's top softmax probability, high when
   samples look like some digit) and the class coverage (how many of the 10 classes get at
   least 2% of the samples with a confidence of 0.5 or more; low under mode collapse).
5. Results, under ``--out``: ``samples/<model>_epoch_<k>.png`` (a grid of the same noise each
   epoch), ``samples_<model>.png`` (the final grid), ``losses.png``, ``quality.png``,
   ``classifier.npz`` and ``metrics.json``.

::

    python demos/gan.py
    python demos/gan.py --models wgan-gp --epochs 80

Notation
--------
B       batch size
Z       noise size, ``--latent``
K       classes, 10

Shared options (`demos/_common.py`): `--device cpu|cuda|cuda:N`, `--out DIR` (metrics.json
and PNGs), `--quiet`, `--logdir DIR` (TensorBoard).
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

import minigrad as mg  # noqa: E402
import minigrad.functional as F  # noqa: E402
from minigrad.data import DataLoader, TensorDataset, load_digits  # noqa: E402
from models import (DCGANDiscriminator, DCGANGenerator, WGANCritic,  # noqa: E402
                    gradient_penalty)
from optim import Adam  # noqa: E402
from _common import (add_device_argument, add_output_arguments, check_device,  # noqa: E402
                     open_logger, progress_bar, save_metrics)
import classify_digits  # noqa: E402

GRID = 8                # the sample grids are GRID x GRID images
COVERAGE_SHARE = 0.02   # a class is covered when this share of the samples ...
COVERAGE_CONFIDENCE = 0.5  # ... is assigned to it with at least this confidence
MODELS = ("dcgan", "wgan-gp")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="Train a DCGAN and a WGAN-GP on the 8x8 digits; score their samples with "
                    "a digit classifier after every epoch.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--epochs", type=int, default=30,
                        help="passes over the training images per model")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--latent", type=int, default=32, help="noise size Z")
    parser.add_argument("--width", type=int, default=32, help="base channels of the networks")
    parser.add_argument("--lr", type=float, default=5e-4, help="Adam learning rate, both nets")
    parser.add_argument("--n-critic", type=int, default=5,
                        help="WGAN-GP: critic steps per generator step")
    parser.add_argument("--gp-weight", type=float, default=10.0,
                        help="WGAN-GP: lambda, the weight of the gradient penalty")
    parser.add_argument("--score-samples", type=int, default=1000,
                        help="generated images scored after every epoch")
    parser.add_argument("--classifier-epochs", type=int, default=12,
                        help="epochs of the scoring classifier (classify_digits' CNN)")
    parser.add_argument("--limit", type=int, default=None,
                        help="train on only the first N training images (quick runs, tests)")
    parser.add_argument("--seed", type=int, default=0)
    add_device_argument(parser)
    add_output_arguments(parser, "gan")
    args = parser.parse_args(argv)
    for name in ("epochs", "batch_size", "latent", "width", "n_critic", "score_samples",
                 "classifier_epochs", "limit"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    if not args.lr > 0:
        parser.error(f"--lr must be positive, got {args.lr}")
    if not args.gp_weight >= 0:
        parser.error(f"--gp-weight must be >= 0, got {args.gp_weight}")
    check_device(parser, args.device)
    return args


class Scorer:
    """The quality score: a digit classifier trained with ``classify_digits``' own code."""

    def __init__(self, args, say):
        cls_args = classify_digits.parse_args(
            ["--epochs", str(args.classifier_epochs), "--seed", str(args.seed), "--quiet",
             "--device", args.device])
        splits, _ = classify_digits.load_data(cls_args)
        train_x, train_y = splits["train"]
        # classify_digits standardises the [0, 1] pixels; the generated ones get the same map.
        raw = load_digits(split="train")[0]
        self.mean, self.std = float(raw.mean()), float(raw.std())
        mg.manual_seed(args.seed)
        self.model = classify_digits.build_model("cnn", 1, 8, 10).to(args.device)
        loader = DataLoader(TensorDataset(train_x, train_y), batch_size=cls_args.batch_size,
                            shuffle=True, seed=args.seed, device=args.device)
        optimizer = Adam(self.model.parameters(), lr=cls_args.lr)
        scheduler = classify_digits.make_scheduler(optimizer, len(loader), cls_args.epochs)
        for _ in range(cls_args.epochs):
            classify_digits.train_one_epoch(self.model, loader, optimizer, scheduler,
                                            progress_bar(len(loader), "classifier", True))
        _, self.test_accuracy, _ = classify_digits.evaluate(self.model, *splits["test"], 256,
                                                            args.device)
        self.device = args.device
        say(f"scoring classifier (classify_digits' CNN): test accuracy {self.test_accuracy:.2%}")

    def __call__(self, images):
        """Mean confidence, class coverage and class histogram of images in [-1, 1]."""
        self.model.eval()
        with mg.no_grad():
            x = ((images + 1) / 2 - self.mean) / self.std
            probs = F.softmax(self.model(mg.tensor(x.astype(np.float32), device=self.device)),
                              dim=1).numpy()
        confidence, label = probs.max(axis=1), probs.argmax(axis=1)
        confident = np.bincount(label[confidence >= COVERAGE_CONFIDENCE], minlength=10)
        covered = int((confident >= COVERAGE_SHARE * len(images)).sum())
        return {"confidence": float(confidence.mean()), "coverage": covered,
                "histogram": np.bincount(label, minlength=10).tolist()}


def dcgan_step(G, D, opt_g, opt_d, real, latent):
    """One discriminator and one generator step; returns (loss_d, loss_g)."""
    B = len(real)
    fake = G(mg.randn(B, latent, device=real.device))
    ones, zeros = mg.ones(B, device=real.device), mg.zeros(B, device=real.device)
    # The discriminator sees the fake images detached: this step must not move G.
    loss_d = (F.binary_cross_entropy_with_logits(D(real), ones)
              + F.binary_cross_entropy_with_logits(D(fake.detach()), zeros))
    opt_d.zero_grad()
    loss_d.backward()
    opt_d.step()
    # Non-saturating: maximise log D(G(z)) rather than minimise log(1 - D(G(z))), whose
    # gradient vanishes exactly when D wins, early in training.
    loss_g = F.binary_cross_entropy_with_logits(D(fake), ones)
    opt_g.zero_grad()
    loss_g.backward()
    opt_g.step()
    return (loss_d.item(), loss_g.item())


def critic_step(G, critic, opt_c, real, latent, gp_weight):
    """One WGAN-GP critic step; returns (the critic's loss, the Wasserstein estimate)."""
    with mg.no_grad():
        fake = G(mg.randn(len(real), latent, device=real.device))
    distance = critic(real).mean() - critic(fake).mean()
    loss = -distance + gp_weight * gradient_penalty(critic, real, fake)
    opt_c.zero_grad()
    loss.backward()
    opt_c.step()
    return (loss.item(), distance.item())


def generator_step(G, critic, opt_g, batch_size, latent, device):
    """One WGAN generator step: raise the critic's score of fresh samples."""
    loss = -critic(G(mg.randn(batch_size, latent, device=device))).mean()
    opt_g.zero_grad()
    loss.backward()
    opt_g.step()
    return loss.item()


def generate(G, z):
    """G(z) in eval mode (BatchNorm's running statistics) as a NumPy array."""
    G.eval()
    with mg.no_grad():
        images = G(z).numpy()
    G.train()
    return images


def save_grid(images, path, title):
    """A GRID x GRID grid of images in [-1, 1]."""
    import matplotlib.pyplot as plt

    n = GRID * GRID
    S = images.shape[-1]
    canvas = np.zeros((GRID * (S + 1), GRID * (S + 1)), np.float32)  # white gaps
    for k in range(min(n, len(images))):
        r, c = divmod(k, GRID)
        canvas[r * (S + 1):r * (S + 1) + S, c * (S + 1):c * (S + 1) + S] = \
            (images[k, 0] + 1) / 2
    fig, ax = plt.subplots(figsize=(4, 4.3))
    ax.imshow(canvas, cmap="gray_r", vmin=0, vmax=1)
    ax.axis("off")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def train_gan(name, images, args, scorer, log, say):
    """Train one model for ``args.epochs``; returns its history of losses and scores."""
    device = args.device
    mg.manual_seed(args.seed)
    G = DCGANGenerator(args.latent, 1, 8, args.width).to(device)
    if name == "dcgan":
        D = DCGANDiscriminator(1, 8, args.width).to(device)
        betas = (0.5, 0.999)
    else:
        D = WGANCritic(1, 8, args.width).to(device)
        betas = (0.5, 0.9)
    opt_g = Adam(G.parameters(), lr=args.lr, betas=betas)
    opt_d = Adam(D.parameters(), lr=args.lr, betas=betas)
    loader = DataLoader(TensorDataset(images), batch_size=args.batch_size, shuffle=True,
                        drop_last=True, seed=args.seed, device=device)
    fixed_z = mg.randn(GRID * GRID, args.latent, device=device)
    score_z = mg.randn(args.score_samples, args.latent, device=device)
    history = {"loss_d": [], "loss_g": [], "wasserstein": [], "confidence": [], "coverage": []}
    os.makedirs(os.path.join(args.out, "samples"), exist_ok=True)
    start = time.process_time()
    step = 0
    for epoch in range(1, args.epochs + 1):
        d_losses, g_losses, distances = [], [], []
        progress = progress_bar(len(loader), f"{name} epoch {epoch}/{args.epochs}", args.quiet)
        for (real,) in loader:
            if name == "dcgan":
                loss_d, loss_g = dcgan_step(G, D, opt_g, opt_d, real, args.latent)
                g_losses.append(loss_g)
            else:
                loss_d, distance = critic_step(G, D, opt_d, real, args.latent, args.gp_weight)
                distances.append(distance)
                if step % args.n_critic == args.n_critic - 1:
                    g_losses.append(generator_step(G, D, opt_g, args.batch_size, args.latent,
                                                   device))
            d_losses.append(loss_d)
            step += 1
            progress.update(1)
        progress.close()
        history["loss_d"].append(float(np.mean(d_losses)))
        history["loss_g"].append(float(np.mean(g_losses)) if g_losses else None)
        history["wasserstein"].append(float(np.mean(distances)) if distances else None)
        score = scorer(generate(G, score_z))
        history["confidence"].append(score["confidence"])
        history["coverage"].append(score["coverage"])
        for key in ("loss_d", "loss_g"):
            log.add_scalar(f"{name}/{key}", history[key][-1], epoch)
        log.add_scalar(f"{name}/confidence", score["confidence"], epoch)
        log.add_scalar(f"{name}/coverage", score["coverage"], epoch)
        save_grid(generate(G, fixed_z), os.path.join(args.out, "samples",
                                                     f"{name}_epoch_{epoch:03d}.png"),
                  f"{name}, epoch {epoch}")
        loss_g = "    n/a" if g_losses == [] else f"{history['loss_g'][-1]:7.3f}"
        say(f"{name:8s} epoch {epoch:3d}/{args.epochs}  D {history['loss_d'][-1]:7.3f}  "
            f"G {loss_g}  confidence {score['confidence']:.3f}  "
            f"coverage {score['coverage']}/10")
    history["cpu_seconds"] = time.process_time() - start
    history["final_histogram"] = score["histogram"]
    save_grid(generate(G, fixed_z), os.path.join(args.out, f"samples_{name}.png"),
              f"{name} after {args.epochs} epochs")
    return history


def plot_histories(histories, out):
    """``losses.png`` (both nets' losses per epoch) and ``quality.png`` (the two scores)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(histories), figsize=(6 * len(histories), 4), squeeze=False)
    for ax, (name, h) in zip(axes[0], histories.items()):
        epochs = np.arange(1, len(h["loss_d"]) + 1)
        ax.plot(epochs, h["loss_d"], label="discriminator / critic")
        ax.plot(epochs, [np.nan if v is None else v for v in h["loss_g"]], label="generator")
        if name == "wgan-gp":
            ax.plot(epochs, h["wasserstein"], label="E f(real) - E f(fake)")
        ax.set(xlabel="epoch", ylabel="loss (epoch mean)", title=name)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(out, "losses.png"), dpi=100)
    plt.close(fig)

    fig, (ax_conf, ax_cov) = plt.subplots(1, 2, figsize=(11, 4))
    for name, h in histories.items():
        epochs = np.arange(1, len(h["confidence"]) + 1)
        ax_conf.plot(epochs, h["confidence"], "o-", ms=3, label=name)
        ax_cov.plot(epochs, h["coverage"], "o-", ms=3, label=name)
    ax_conf.set(xlabel="epoch", ylabel="mean top-class probability", ylim=(0, 1),
                title="Classifier confidence on samples")
    ax_cov.set(xlabel="epoch", ylabel="classes covered", ylim=(0, 10.5),
               title=f"Class coverage (>= {COVERAGE_SHARE:.0%} of samples at p >= "
                     f"{COVERAGE_CONFIDENCE})")
    for ax in (ax_conf, ax_cov):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(out, "quality.png"), dpi=100)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    import matplotlib
    matplotlib.use("Agg")  # files only: the demo must run without a display

    say = (lambda *a: None) if args.quiet else print
    log = open_logger(args)
    images = load_digits(split="train")[0] * 2 - 1
    if args.limit is not None:
        images = images[:args.limit]
    say(f"digits: {len(images)} training images in [-1, 1]; {', '.join(args.models)} for "
        f"{args.epochs} epochs of batch {args.batch_size}, lr {args.lr:g}, on {args.device}")
    os.makedirs(args.out, exist_ok=True)
    scorer = Scorer(args, say)
    mg.save(scorer.model.state_dict(), os.path.join(args.out, "classifier.npz"))
    histories = {name: train_gan(name, images, args, scorer, log, say) for name in args.models}
    log.close()
    plot_histories(histories, args.out)
    metrics = {"epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr,
               "latent": args.latent, "width": args.width, "n_critic": args.n_critic,
               "gp_weight": args.gp_weight, "score_samples": args.score_samples,
               "classifier_test_accuracy": scorer.test_accuracy,
               "final": {name: {"confidence": h["confidence"][-1],
                                "coverage": h["coverage"][-1],
                                "best_coverage": max(h["coverage"]),
                                "cpu_seconds": h["cpu_seconds"]}
                         for name, h in histories.items()},
               "history": histories}
    save_metrics(args.out, metrics)

    print(f"quality of {args.score_samples} samples, scored by a CNN with "
          f"{scorer.test_accuracy:.1%} test accuracy on real digits:")
    for name, h in histories.items():
        print(f"  {name:8s} mean confidence {h['confidence'][-1]:.3f}, classes covered "
              f"{h['coverage'][-1]}/10 (best {max(h['coverage'])}), "
              f"{h['cpu_seconds']:.0f} CPU s")
    print(f"saved metrics.json, losses.png, quality.png, samples_*.png, samples/ and "
          f"classifier.npz in {args.out}")
    return metrics


if __name__ == "__main__":
    main()
