"""Autoencoders and variational autoencoders on the digits: what a small code learns.

1. Data: the 8x8 digits shipped with minigrad (pixels in [0, 1]; the fixed 20% test part is
   held out), or Fashion-MNIST's 28x28 IDX files with ``--data fashion-mnist``.
2. Models: a convolutional autoencoder with a ``--latent``-dimensional code, a VAE with the
   same code size, and a VAE with a 2-D code that can be drawn. Each is trained with Adam on
   the binary cross-entropy of the pixels (plus ``--beta`` times the KL for the VAEs).
3. Results, under ``--out``:
   ``reconstructions.png`` (test images, then each model's reconstruction),
   ``samples.png`` (decoded draws z ~ N(0, I) from both VAEs' priors),
   ``interpolation.png`` (decoded codes on the straight line between two test images' codes,
   autoencoder and VAE),
   ``latent_2d.png`` (the 2-D VAE's means of the test images, coloured by class),
   ``manifold.png`` (the 2-D VAE decoded on a grid of normal quantiles), ``curves.png`` and
   ``metrics.json``. The summary prints the test reconstruction error of every model and the
   test ELBO of the VAEs, all in nats per image.

The ELBO is a lower bound on log p(x) for the Bernoulli pixel model; since the digits' grey
values are not binary, read it as a comparison between models rather than a likelihood::

    python demos/autoencoder_vae.py
    python demos/autoencoder_vae.py --beta 4 --epochs 60

Notation
--------
N       images in a split
D       code size, ``--latent``
C, S    image channels and side

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
from minigrad.data import (FASHION_MNIST_DIR, DataLoader, TensorDataset,  # noqa: E402
                           load_digits, load_fashion_mnist)
from models import VAE, ConvAutoencoder, gaussian_kl, reconstruction_loss  # noqa: E402
from optim import Adam  # noqa: E402
from _common import (add_device_argument, add_output_arguments, check_device,  # noqa: E402
                     open_logger, progress_bar, save_metrics)

SHOWN = 10  # images per row in the reconstruction and sample figures


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="Train a convolutional autoencoder and two VAEs (D-dimensional and 2-D "
                    "code) on the digits; plot reconstructions, samples, interpolations and "
                    "the 2-D latent space.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--data", choices=["digits", "fashion-mnist"], default="digits")
    parser.add_argument("--data-dir", default=FASHION_MNIST_DIR,
                        help="folder of the Fashion-MNIST IDX files (only for fashion-mnist)")
    parser.add_argument("--epochs", type=int, default=40, help="passes per model")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-3, help="Adam learning rate")
    parser.add_argument("--latent", type=int, default=8,
                        help="code size D of the autoencoder and the first VAE")
    parser.add_argument("--beta", type=float, default=1.0, help="weight of the VAEs' KL term")
    parser.add_argument("--limit", type=int, default=None,
                        help="train on only the first N training images (quick runs, tests)")
    parser.add_argument("--seed", type=int, default=0)
    add_device_argument(parser)
    add_output_arguments(parser, "autoencoder_vae")
    args = parser.parse_args(argv)
    for name in ("epochs", "batch_size", "latent", "limit"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    if not args.lr > 0:
        parser.error(f"--lr must be positive, got {args.lr}")
    if not args.beta >= 0:
        parser.error(f"--beta must be >= 0, got {args.beta}")
    check_device(parser, args.device)
    return args


def load_data(args):
    """(train_x, train_y), (test_x, test_y): images float32 (N, C, S, S) in [0, 1]."""
    if args.data == "digits":
        train, test = load_digits(split="train"), load_digits(split="test")
    else:
        try:
            train = load_fashion_mnist(args.data_dir, train=True)
            test = load_fashion_mnist(args.data_dir, train=False)
        except FileNotFoundError as err:
            sys.exit(f"autoencoder_vae: {err}\nInstall the data with "
                     "'apt-get install dataset-fashion-mnist' or pass --data-dir.")
        # The IDX loader may give 0..255 bytes; the Bernoulli model needs [0, 1].
        scale = 255.0 if train[0].max() > 1 else 1.0
        train = ((train[0] / scale).astype(np.float32), train[1])
        test = ((test[0] / scale).astype(np.float32), test[1])
    if args.limit is not None:
        train = (train[0][:args.limit], train[1][:args.limit])
    return (train, test)


def train_model(model, images, args, tag, log):
    """Adam on ``model.loss`` for ``args.epochs``; returns the mean loss per epoch."""
    loader = DataLoader(TensorDataset(images), batch_size=args.batch_size, shuffle=True,
                        seed=args.seed, device=args.device)
    optimizer = Adam(model.parameters(), lr=args.lr)
    history = []
    progress = progress_bar(args.epochs * len(loader), tag, args.quiet)
    for epoch in range(args.epochs):
        total, seen = 0.0, 0
        for (xb,) in loader:
            loss = model.loss(xb)
            if isinstance(loss, tuple):  # the VAE also returns its two terms
                loss = loss[0]
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(xb)
            seen += len(xb)
            progress.update(1)
        history.append(total / seen)
        log.add_scalar(f"{tag}/train_loss", history[-1], epoch)
        progress.set_postfix(loss=f"{history[-1]:.2f}")
    progress.close()
    return history


def evaluate(model, images, device, batch_size=256):
    """Test figures in nats per image: reconstruction error (from the code, or from the mean
    code for a VAE), and for a VAE the KL and the one-sample ELBO estimate."""
    model.eval()
    recon, kl, elbo = [], [], []
    with mg.no_grad():
        for start in range(0, len(images), batch_size):
            x = mg.tensor(images[start:start + batch_size], device=device)
            if isinstance(model, VAE):
                mu, logvar = model.encode(x)
                recon.append(reconstruction_loss(model.decode(mu), x).numpy())
                kl.append(gaussian_kl(mu, logvar).numpy())
                elbo.append(model.elbo(x).numpy())
            else:
                recon.append(reconstruction_loss(model(x), x).numpy())
    model.train()
    figures = {"reconstruction_nats": float(np.concatenate(recon).mean())}
    if kl:
        figures["kl_nats"] = float(np.concatenate(kl).mean())
        figures["elbo_nats"] = float(np.concatenate(elbo).mean())
    return figures


def decode(model, z, device):
    """Images (n, C, S, S) in [0, 1] decoded from codes z of shape (n, D), a NumPy array."""
    model.eval()
    with mg.no_grad():
        images = model.decode(mg.tensor(z.astype(np.float32), device=device)).sigmoid().numpy()
    model.train()
    return images


def codes(model, images, device):
    """The code (autoencoder) or the mean code mu (VAE) of each image, shape (N, D)."""
    model.eval()
    with mg.no_grad():
        x = mg.tensor(images, device=device)
        z = model.encode(x)[0] if isinstance(model, VAE) else model.encode(x)
    model.train()
    return z.numpy()


def image_rows(rows, titles, path, suptitle):
    """Rows of grey images (each an array (n, C, S, S)) with a title on the left of each."""
    import matplotlib.pyplot as plt

    n = max(len(r) for r in rows)
    fig, axes = plt.subplots(len(rows), n, figsize=(1.1 * n + 1.2, 1.2 * len(rows)),
                             squeeze=False)
    for r, (row, title) in enumerate(zip(rows, titles)):
        for c in range(n):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            for side in ax.spines.values():
                side.set_visible(False)
            if c < len(row):
                ax.imshow(row[c, 0], cmap="gray_r", vmin=0, vmax=1)
        axes[r, 0].set_ylabel(title, rotation=0, ha="right", va="center", fontsize=9)
    fig.suptitle(suptitle)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def interpolate_codes(model, a, b, steps, device):
    """Decoded images on the straight line from the code of image a to that of image b."""
    za, zb = codes(model, np.stack([a, b]), device)
    t = np.linspace(0, 1, steps)[:, None]
    return decode(model, (1 - t) * za + t * zb, device)


def plot_latent(z, labels, path):
    """The 2-D codes scattered, coloured by class."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    points = ax.scatter(z[:, 0], z[:, 1], c=labels, cmap="tab10", s=10, vmin=-0.5, vmax=9.5)
    fig.colorbar(points, ax=ax, ticks=range(10), label="class")
    ax.set(xlabel="z₁ (mean of q)", ylabel="z₂", title="2-D VAE: test images' codes")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_manifold(model, device, path, n=15):
    """The 2-D VAE decoded on an n x n grid of N(0, 1) quantiles (equal prior mass apart)."""
    import matplotlib.pyplot as plt
    from statistics import NormalDist

    quantiles = np.array([NormalDist().inv_cdf(p) for p in np.linspace(0.03, 0.97, n)])
    grid = np.array([(x, y) for y in quantiles[::-1] for x in quantiles])
    images = decode(model, grid, device)[:, 0]
    S = images.shape[-1]
    canvas = images.reshape(n, n, S, S).transpose(0, 2, 1, 3).reshape(n * S, n * S)
    fig, ax = plt.subplots(figsize=(7, 7))
    ax.imshow(canvas, cmap="gray_r", extent=(quantiles[0], quantiles[-1], quantiles[0],
                                             quantiles[-1]))
    ax.set(xlabel="z₁", ylabel="z₂", title="2-D VAE: decoded manifold over the prior")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_curves(histories, path):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for name, history in histories.items():
        ax.plot(range(1, len(history) + 1), history, label=name)
    ax.set(xlabel="epoch", ylabel="training loss (nats per image)", title="Training")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    import matplotlib
    matplotlib.use("Agg")  # files only: the demo must run without a display

    say = (lambda *a: None) if args.quiet else print
    log = open_logger(args)
    (train_x, train_y), (test_x, test_y) = load_data(args)
    _, C, S, _ = train_x.shape
    say(f"{args.data}: {len(train_x)} train / {len(test_x)} test images of shape {C}x{S}x{S};"
        f" {args.epochs} epochs of batch {args.batch_size} per model, code size {args.latent},"
        f" beta {args.beta:g}, on {args.device}")
    builders = {
        "autoencoder": lambda: ConvAutoencoder(C, S, latent_dim=args.latent),
        "vae": lambda: VAE(C, S, latent_dim=args.latent, beta=args.beta),
        "vae_2d": lambda: VAE(C, S, latent_dim=2, beta=args.beta),
    }
    models, histories, results = {}, {}, {}
    for name, build in builders.items():
        mg.manual_seed(args.seed)
        model = build().to(args.device)
        start = time.process_time()
        histories[name] = train_model(model, train_x, args, name, log)
        results[name] = evaluate(model, test_x, args.device)
        results[name]["cpu_seconds"] = time.process_time() - start
        models[name] = model
        figures = results[name]
        say(f"{name:12s} test reconstruction {figures['reconstruction_nats']:7.2f} nats"
            + (f", KL {figures['kl_nats']:6.2f}, ELBO {figures['elbo_nats']:7.2f} nats"
               if "elbo_nats" in figures else "")
            + f"  ({figures['cpu_seconds']:.0f} CPU s)")
    log.close()

    os.makedirs(args.out, exist_ok=True)
    # one test image of each class (the first), so that the rows show the variety
    shown = np.sort(np.unique(test_y, return_index=True)[1])[:SHOWN]
    originals = test_x[shown]
    image_rows([originals] + [decode(m, codes(m, originals, args.device), args.device)
                              for m in models.values()],
               ["test"] + list(models), os.path.join(args.out, "reconstructions.png"),
               "Test images and their reconstructions (VAEs decode the mean code)")
    mg.manual_seed(args.seed + 1)
    image_rows([models[n].sample(SHOWN).numpy() for n in ("vae", "vae_2d") for _ in range(2)],
               ["vae", "", "vae_2d", ""], os.path.join(args.out, "samples.png"),
               "Decoded samples z ~ N(0, I) from the prior")
    pairs = [(shown[0], shown[1]), (shown[2], shown[3]), (shown[4], shown[5])] \
        if len(shown) >= 6 else [(0, 1)]
    rows, titles = [], []
    for name in ("autoencoder", "vae"):
        for i, j in pairs:
            rows.append(interpolate_codes(models[name], test_x[i], test_x[j], SHOWN,
                                          args.device))
            titles.append(f"{name}\n{test_y[i]} → {test_y[j]}")
    image_rows(rows, titles, os.path.join(args.out, "interpolation.png"),
               "Straight lines between two test images' codes, decoded")
    plot_latent(codes(models["vae_2d"], test_x, args.device), test_y,
                os.path.join(args.out, "latent_2d.png"))
    plot_manifold(models["vae_2d"], args.device, os.path.join(args.out, "manifold.png"))
    plot_curves(histories, os.path.join(args.out, "curves.png"))
    metrics = {"data": args.data, "epochs": args.epochs, "batch_size": args.batch_size,
               "lr": args.lr, "latent": args.latent, "beta": args.beta,
               "train_images": len(train_x), "test_images": len(test_x),
               "models": results, "history": histories}
    save_metrics(args.out, metrics)

    print("test figures in nats per image (lower reconstruction, higher ELBO is better):")
    for name, figures in results.items():
        elbo = f"{figures['elbo_nats']:8.2f}" if "elbo_nats" in figures else "     n/a"
        print(f"  {name:12s} reconstruction {figures['reconstruction_nats']:7.2f}   "
              f"ELBO {elbo}")
    print(f"saved metrics.json, reconstructions.png, samples.png, interpolation.png, "
          f"latent_2d.png, manifold.png and curves.png in {args.out}")
    return metrics


if __name__ == "__main__":
    main()
