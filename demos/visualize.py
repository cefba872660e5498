"""What a trained CNN sees: every tool of ``models.vis`` on the digits CNN and a small ResNet.

The main demo's CNN (a LeNet, see ``classify_digits.py``) is trained on the fly, or loaded
from the ``model.npz`` that ``classify_digits.py`` saved (``--checkpoint``); a small ResNet is
trained on the fly. Then, for each model, one PNG per tool under ``--out``:

=====================  ====================================================================
``<m>_occlusion``      the class score's drop when a 3x3 grey square covers each place
``<m>_saliency``       |d score / d x|, vanilla gradient
``<m>_smoothgrad``     the same, averaged over noisy copies
``<m>_integrated``     Integrated Gradients from a black baseline
``<m>_gradcam``        Grad-CAM of the last convolutional stage, over the image
``<m>_guided``         guided backprop (ReLU backward rule swapped by a context manager)
``<m>_deconvnet``      DeconvNet's rule
``<m>_classvis``       one synthesised image per class (L2, jitter, blur, clipping)
``<m>_deepdream``      DeepDream on a mid layer, three octaves, from an enlarged digit
``<m>_patches``        the test patches that excite eight filters most, receptive-field sized
``<m>_filters``        first-layer filters, and the first layer's maps for one digit
``<m>_texture``        a texture from a striped image, by matching Gram matrices (LBFGS)
``<m>_style``          an enlarged digit in the style of a generated pattern (LBFGS)
=====================  ====================================================================

Style images are generated in code (stripes and checks); nothing is downloaded. About two
minutes of CPU on two cores with the defaults::

    python demos/visualize.py
    python demos/classify_digits.py --out runs/cnn && \\
        python demos/visualize.py --checkpoint runs/cnn/model.npz

Notation
--------
N        images shown per panel
S        image side (8 for the digits); L the enlarged side used by DeepDream and style

Shared options (`demos/_common.py`): `--device cpu|cuda|cuda:N`, `--out DIR` (metrics.json
and PNGs), `--quiet`, `--logdir DIR` (TensorBoard).
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

import minigrad as mg  # noqa: E402
import minigrad.functional as F  # noqa: E402
from minigrad.data import DataLoader, TensorDataset  # noqa: E402
from models import vis  # noqa: E402
from optim import LBFGS, Adam  # noqa: E402
from _common import (add_device_argument, add_output_arguments, check_device,  # noqa: E402
                     open_logger, progress_bar, save_metrics)
from classify_digits import build_model, evaluate, load_data  # noqa: E402

SHOWN = 6          # N
LARGE = 24         # L

# Per model: the layer names the tools read. LeNet's trunk is ``features`` (Conv 0, ReLU 1,
# Pool 2, Conv 3, ReLU 4, Pool 5); its head expects 8x8 inputs, so the tools that work on
# enlarged images (DeepDream, texture, style) run on the trunk alone.
LAYERS = {
    "cnn": {"gradcam": "features.4", "patches": "features.3", "first": "features.0",
            "dream": "4", "style": ["1", "4"], "content": ["1", "4"]},
    "resnet": {"gradcam": "layer3", "patches": "layer1", "first": "conv1",
               "dream": "layer2", "style": ["relu", "layer1", "layer2"],
               "content": ["relu", "layer1"]},
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--checkpoint", default=None,
                        help="model.npz of classify_digits.py's CNN (default: train one)")
    parser.add_argument("--epochs", type=int, default=8, help="CNN training epochs")
    parser.add_argument("--resnet-epochs", type=int, default=3, help="ResNet training epochs")
    parser.add_argument("--limit", type=int, default=None,
                        help="train on only the first N training images (quick runs)")
    parser.add_argument("--vis-steps", type=int, default=60,
                        help="steps of the synthesis tools (class visualisation uses 3x)")
    parser.add_argument("--samples", type=int, default=25,
                        help="SmoothGrad samples and Integrated Gradients steps")
    parser.add_argument("--models", nargs="+", choices=sorted(LAYERS), default=["cnn", "resnet"])
    parser.add_argument("--seed", type=int, default=0)
    add_device_argument(parser)
    add_output_arguments(parser, "visualize")
    args = parser.parse_args(argv)
    for name in ("epochs", "resnet_epochs", "vis_steps", "samples"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be at least 1")
    if args.checkpoint is not None and not os.path.exists(args.checkpoint):
        parser.error(f"--checkpoint {args.checkpoint}: no such file")
    check_device(parser, args.device)
    return args


def train(name, splits, epochs, args):
    """A freshly trained classify_digits model ``name`` (Adam, constant rate), in eval mode."""
    mg.manual_seed(args.seed)
    x, y = splits["train"]
    model = build_model(name, 1, 8, 10).to(args.device)
    loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True, seed=args.seed,
                        device=args.device)
    optimizer = Adam(model.parameters(), lr=3e-3)
    progress = progress_bar(epochs * len(loader), f"train {name}", args.quiet)
    model.train()
    for _ in range(epochs):
        for xb, yb in loader:
            loss = F.cross_entropy(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            progress.update(1)
            progress.set_postfix(loss=f"{loss.item():.3f}")
    progress.close()
    return model.eval()


def load_models(splits, args):
    models = {}
    for name in args.models:
        if name == "cnn" and args.checkpoint:
            model = build_model("cnn", 1, 8, 10).to(args.device)
            model.load_state_dict(mg.load(args.checkpoint))
            models[name] = model.eval()
        else:
            models[name] = train(name, splits, args.epochs if name == "cnn" else
                                 args.resnet_epochs, args)
    return models


def enlarge(image, side=LARGE):
    """A (C, S, S) image resized to (C, side, side), bilinear."""
    x = mg.tensor(image[None])
    return F.interpolate(x, size=(side, side), mode="bilinear").numpy()[0]


def generated_styles(side=LARGE):
    """Two style images made in code: diagonal stripes and a checkerboard, in [-1, 2]."""
    r, c = np.mgrid[:side, :side]
    stripes = np.where((r + c) % 6 < 3, 2.0, -1.0)
    checks = np.where((r // 4 + c // 4) % 2 == 0, 2.0, -1.0)
    return (stripes[None].astype(np.float32), checks[None].astype(np.float32))


def _figure(rows, cols, size=1.6):
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(rows, cols, figsize=(cols * size, rows * size + 0.4),
                             squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    return (fig, axes)


def _save(fig, title, path):
    import matplotlib.pyplot as plt
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def plot_maps(images, maps, labels, title, path, cmap="inferno"):
    """Images (N, 1, S, S) on the top row, their maps (N, S, S) below."""
    fig, axes = _figure(2, len(images))
    for n in range(len(images)):
        axes[0, n].imshow(images[n, 0], cmap="gray_r")
        axes[0, n].set_title(f"class {labels[n]}", fontsize=8)
        axes[1, n].imshow(maps[n], cmap=cmap)
    return _save(fig, title, path)


def plot_tiles(tiles, titles, title, path, cmap="gray_r"):
    fig, axes = _figure(1, len(tiles), size=2.2)
    for ax, tile, name in zip(axes[0], tiles, titles):
        ax.imshow(tile, cmap=cmap)
        ax.set_title(name, fontsize=8)
    return _save(fig, title, path)


def attribution_panels(name, model, images, labels, args, out):
    """Occlusion, saliency, SmoothGrad, IG, Grad-CAM, guided backprop and DeconvNet."""
    x = mg.tensor(images, device=args.device)
    fill = float(images.mean())

    def strength(g):
        return np.abs(g.numpy()).max(axis=1)            # max |.| over channels: (N, S, S)

    maps = {
        "occlusion": (vis.occlusion(model, x, labels, window=3, fill=fill).numpy(),
                      "occlusion: score drop when a 3x3 square is covered", "RdBu_r"),
        "saliency": (strength(vis.saliency(model, x, labels)), "vanilla gradient |dS/dx|",
                     "inferno"),
        "smoothgrad": (strength(vis.smoothgrad(model, x, labels, n_samples=args.samples,
                                               seed=args.seed)),
                       f"SmoothGrad ({args.samples} noisy copies)", "inferno"),
        "integrated": (strength(vis.integrated_gradients(model, x, labels,
                                                         steps=args.samples)),
                       f"Integrated Gradients ({args.samples} steps from black)", "inferno"),
        "gradcam": (vis.grad_cam(model, x, labels, LAYERS[name]["gradcam"]).numpy(),
                    f"Grad-CAM of {LAYERS[name]['gradcam']}", "jet"),
        "guided": (strength(vis.guided_backprop(model, x, labels)),
                   "guided backprop (ReLU rule swapped by forward hooks)", "inferno"),
        "deconvnet": (strength(vis.deconvnet(model, x, labels)), "DeconvNet ReLU rule",
                      "inferno"),
    }
    paths = []
    for tool, (values, title, cmap) in maps.items():
        if tool == "occlusion":
            bound = np.abs(values).max() or 1.0      # symmetric colours: red helps, blue hurts
            values = np.clip(values / bound, -1, 1)
        paths.append(plot_maps(images, values, labels, f"{name}: {title}",
                               os.path.join(out, f"{name}_{tool}.png"), cmap))
    return paths


def synthesis_panels(name, model, splits, args, out, clip):
    """Class visualisation, DeepDream, max-activating patches, filters and feature maps."""
    layers = LAYERS[name]
    trunk = model.features if name == "cnn" else model
    steps = args.vis_steps
    classes = [vis.class_visualization(model, k, (1, 8, 8), steps=3 * steps, lr=0.1,
                                       l2_reg=1e-3, jitter=1, blur_every=10, blur_sigma=0.4,
                                       clip=clip, seed=args.seed, device=args.device)[0]
               for k in range(10)]
    paths = [plot_tiles(classes, [f"class {k}" for k in range(10)],
                        f"{name}: gradient-ascent class visualisation (L2, jitter, blur, clip)",
                        os.path.join(out, f"{name}_classvis.png"))]
    test_x, test_y = splits["test"]
    start = enlarge(test_x[0])
    dream = vis.deep_dream(trunk, start, layers["dream"], octaves=3, steps=max(1, steps // 6),
                           lr=0.05, clip=clip, seed=args.seed, device=args.device)
    paths.append(plot_tiles([start[0], dream[0]], ["start (enlarged digit)", "dream"],
                            f"{name}: DeepDream on {layers['dream']}, 3 octaves",
                            os.path.join(out, f"{name}_deepdream.png")))
    patches, values, field = vis.max_activating_patches(model, layers["patches"], test_x,
                                                        top_k=6, channels=range(8),
                                                        device=args.device)
    fig, axes = _figure(8, 6, size=0.9)
    for k in range(8):
        for t in range(6):
            axes[k, t].imshow(patches[k, t, 0], cmap="gray_r")
        axes[k, 0].set_title(f"filter {k}", fontsize=6, loc="left")
    paths.append(_save(fig, f"{name}: top test patches of {layers['patches']} "
                            f"(receptive field {field.size}x{field.size})",
                       os.path.join(out, f"{name}_patches.png")))
    weight = vis.get_layer(model, layers["first"]).weight
    x0 = mg.tensor(test_x[:1], device=args.device)
    maps = vis.capture_activations(model, x0, [layers["first"]])[layers["first"]]
    paths.append(plot_tiles([vis.filter_grid(weight), vis.feature_map_grid(maps)],
                            ["first-layer filters", "its maps for one digit"],
                            f"{name}: filters and feature maps", os.path.join(
                                out, f"{name}_filters.png"), cmap="viridis"))
    return paths


def style_panels(name, model, splits, args, out):
    """Texture synthesis and style transfer with LBFGS on images generated here.

    The weights keep the digit readable: these small networks constrain few directions of the
    image, so a heavier style term or a lighter total-variation term turns it into noise."""
    layers = LAYERS[name]
    trunk = model.features if name == "cnn" else model
    stripes, checks = generated_styles()

    def lbfgs(params):
        return LBFGS(params, lr=1, max_iter=10, line_search_fn="strong_wolfe")

    steps = max(1, args.vis_steps // 10)
    texture = vis.texture_synthesis(trunk, stripes, layers["style"], lbfgs, steps=steps,
                                    seed=args.seed, device=args.device)
    content = enlarge(splits["test"][0][1])
    styled = vis.style_transfer(trunk, content, checks, layers["content"], layers["style"],
                                lbfgs, steps=steps, style_weight=0.5, tv_weight=0.3,
                                device=args.device)
    return [plot_tiles([stripes[0], texture[0]], ["style image", "synthesised texture"],
                       f"{name}: Gram-matrix texture synthesis ({', '.join(layers['style'])})",
                       os.path.join(out, f"{name}_texture.png")),
            plot_tiles([content[0], checks[0], styled[0]], ["content", "style", "result"],
                       f"{name}: neural style transfer",
                       os.path.join(out, f"{name}_style.png"))]


def main(argv=None):
    args = parse_args(argv)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data_args = argparse.Namespace(data="digits", seed=args.seed, limit=args.limit)
    splits, _ = load_data(data_args)
    say = (lambda *a: None) if args.quiet else print
    start = time.process_time()
    models = load_models(splits, args)
    train_seconds = time.process_time() - start
    test_x, test_y = splits["test"]
    images, labels = test_x[:SHOWN], test_y[:SHOWN]
    clip = (float(test_x.min()), float(test_x.max()))
    os.makedirs(args.out, exist_ok=True)
    log = open_logger(args)
    metrics = {"train_cpu_seconds": train_seconds, "models": {}}
    for name, model in models.items():
        _, accuracy, _ = evaluate(model, test_x, test_y, 256, args.device)
        say(f"{name}: test accuracy {accuracy:.1%}; drawing the panels")
        start = time.process_time()
        paths = attribution_panels(name, model, images, labels, args, args.out)
        paths += synthesis_panels(name, model, splits, args, args.out, clip)
        paths += style_panels(name, model, splits, args, args.out)
        metrics["models"][name] = {"test_accuracy": accuracy,
                                   "vis_cpu_seconds": time.process_time() - start,
                                   "panels": [os.path.basename(p) for p in paths]}
        for path in paths if args.logdir else ():
            log.add_image(f"{name}/{os.path.basename(path)[:-4]}",
                          plt.imread(path)[..., :3], 0, dataformats="HWC")
    log.close()
    save_metrics(args.out, metrics)
    for name, info in metrics["models"].items():
        print(f"{name}: test accuracy {info['test_accuracy']:.2%}; {len(info['panels'])} "
              f"panels in {info['vis_cpu_seconds']:.1f} s CPU")
    print(f"saved metrics.json and {sum(len(i['panels']) for i in metrics['models'].values())}"
          f" PNGs in {args.out}")
    return metrics


if __name__ == "__main__":
    main()
