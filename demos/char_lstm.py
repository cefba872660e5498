"""Train a character-level LSTM language model, and measure why the LSTM beats a plain RNN.

The model reads a text one character at a time and predicts the next one: an ``Embedding`` of
the characters, an ``LSTM`` and a ``Linear`` layer to the vocabulary, trained with
cross-entropy. The default text ships with the package (``minigrad/data/tales.txt``, fables
from a seeded grammar); ``--text`` takes any UTF-8 file.

Training uses *truncated backpropagation through time*: the text is cut into ``--batch-size``
parallel streams, read ``--bptt`` characters at a time; the hidden state is carried from one
chunk to the next but detached, so gradients flow back at most ``--bptt`` steps and memory
stays bounded. Gradients are clipped to a total norm of ``--clip`` (exploding gradients are the
other half of the recurrent-network story). Every epoch prints the train and validation
perplexity, exp(mean cross-entropy), and samples at several temperatures: low temperatures
repeat the commonest phrases, high ones invent words.

The vanishing-gradient lecture, measured: a plain tanh RNN of the same size is trained for the
same number of steps, and for both models the norm of d loss / d x_t, the gradient that the loss
at the last of ``--grad-steps`` steps sends back to the input t steps earlier, is plotted
against t. The RNN's falls off geometrically (each step multiplies it by a Jacobian of norm
below one); the LSTM's cell state carries it much further.

Writes under ``--out``: ``perplexity.png``, ``gradient_norms.png`` and ``metrics.json`` (the
curves, the samples of every epoch and the gradient norms). A few minutes on two CPU cores::

    python demos/char_lstm.py
    python demos/char_lstm.py --epochs 2 --hidden 64 --text my_book.txt

Notation
--------
T   characters per chunk (--bptt);  N  parallel streams (--batch-size)
V   vocabulary size;  E  embedding width;  H  hidden size

Shared options (`demos/_common.py`): `--device cpu|cuda|cuda:N`, `--out DIR` (metrics.json
and PNGs), `--quiet`, `--logdir DIR` (TensorBoard).
"""
import argparse
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# The products of one time step are small ((N, H) by (H, 4H)): on them a multi-threaded BLAS
# spends more time waking and synchronising its threads than it saves (measured on two loaded
# cores: twelve times the CPU time of one thread). minigrad's thread policy gives BLAS one
# thread when minigrad is imported (minigrad/threads.py); an explicit setting in the
# environment wins.

import numpy as np  # noqa: E402

import minigrad as mg  # noqa: E402
import minigrad.functional as F  # noqa: E402
from layers import Embedding, Linear, LSTM, Module, RNN  # noqa: E402
from optim import Adam, clip_grad_norm_  # noqa: E402
from _common import (add_device_argument, add_output_arguments, check_device,  # noqa: E402
                     open_logger, progress_bar, save_metrics)

DEFAULT_TEXT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                            "minigrad", "data", "tales.txt")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--text", default=DEFAULT_TEXT, help="a UTF-8 text file to model")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--steps-per-epoch", type=int, default=None,
                        help="stop each epoch after this many chunks (default: the whole text)")
    parser.add_argument("--bptt", type=int, default=64,
                        help="characters per chunk: how far back gradients flow")
    parser.add_argument("--batch-size", type=int, default=32, help="parallel streams")
    parser.add_argument("--embed", type=int, default=32, help="embedding width E")
    parser.add_argument("--hidden", type=int, default=192, help="hidden size H")
    parser.add_argument("--lr", type=float, default=3e-3, help="Adam learning rate")
    parser.add_argument("--clip", type=float, default=1.0, help="gradient-norm clipping")
    parser.add_argument("--temperatures", type=float, nargs="+", default=[0.5, 1.0, 1.5])
    parser.add_argument("--sample-length", type=int, default=160)
    parser.add_argument("--grad-steps", type=int, default=100,
                        help="sequence length of the gradient-norm measurement")
    parser.add_argument("--no-rnn", action="store_true",
                        help="skip training the plain RNN used for the gradient comparison")
    add_device_argument(parser)
    parser.add_argument("--seed", type=int, default=0)
    add_output_arguments(parser, "char_lstm")
    args = parser.parse_args(argv)
    for name in ("epochs", "bptt", "batch_size", "embed", "hidden", "sample_length",
                 "grad_steps"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got "
                         f"{getattr(args, name)}")
    if args.steps_per_epoch is not None and args.steps_per_epoch < 1:
        parser.error(f"--steps-per-epoch must be at least 1, got {args.steps_per_epoch}")
    if min(args.temperatures) <= 0:
        parser.error(f"--temperatures must be positive, got {args.temperatures}")
    if not os.path.isfile(args.text):
        parser.error(f"--text {args.text!r} is not a file")
    check_device(parser, args.device)
    return args


class CharModel(Module):
    """Embedding (V, E) -> recurrent layer (E -> H) -> Linear (H -> V): next-character logits."""

    def __init__(self, vocab_size, embed, hidden, cell=LSTM):
        super().__init__()
        self.embedding = Embedding(vocab_size, embed)
        self.rnn = cell(embed, hidden)
        self.head = Linear(hidden, vocab_size)

    def forward(self, ids, state=None):
        """ids (T, N) ints -> logits (T, N, V) and the final state."""
        return self.read(self.embedding(ids), state)

    def read(self, x, state=None):
        """The same from embedded inputs x (T, N, E), so their gradient can be inspected."""
        out, state = self.rnn(x, state)
        return self.head(out), state


def detach(state):
    """The state without its history: truncated BPTT stops the gradient here."""
    return tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()


def streams(ids, n):
    """ids cut into n parallel streams: an (L, n) array read top to bottom."""
    length = len(ids) // n
    return ids[:length * n].reshape(n, length).T


def chunks(data, bptt):
    """(inputs, targets) windows of ``bptt`` rows; the targets are the inputs shifted by one."""
    for start in range(0, len(data) - 1, bptt):
        end = min(start + bptt, len(data) - 1)
        yield data[start:end], data[start + 1:end + 1]


def loss_of(model, inputs, targets, state, device):
    logits, state = model(mg.tensor(inputs, device=device), state)
    V = logits.shape[-1]
    loss = F.cross_entropy(logits.reshape(-1, V), mg.tensor(targets.reshape(-1), device=device))
    return loss, state


def train_epoch(model, optimizer, data, args, bar):
    """One pass of truncated BPTT; returns (mean loss, mean gradient norm before clipping)."""
    model.train()
    state, losses, norms = None, [], []
    for step, (inputs, targets) in enumerate(chunks(data, args.bptt)):
        if args.steps_per_epoch is not None and step >= args.steps_per_epoch:
            break
        loss, state = loss_of(model, inputs, targets, state, args.device)
        state = detach(state)
        optimizer.zero_grad()
        loss.backward()
        norms.append(float(clip_grad_norm_(model.parameters(), args.clip)))
        optimizer.step()
        losses.append(loss.item())
        bar.update()
        bar.set_postfix(loss=f"{losses[-1]:.3f}")
    return float(np.mean(losses)), float(np.mean(norms))


def evaluate(model, data, args):
    """Mean cross-entropy over the whole of ``data``, weighting each chunk by its length."""
    model.eval()
    state, total, count = None, 0.0, 0
    with mg.no_grad():
        for inputs, targets in chunks(data, args.bptt):
            loss, state = loss_of(model, inputs, targets, state, args.device)
            total += loss.item() * targets.size
            count += targets.size
    return total / count


def sample(model, vocab, prompt, length, temperature, rng, device):
    """``length`` characters after ``prompt``, each drawn from softmax(logits / temperature)."""
    model.eval()
    index = {c: i for i, c in enumerate(vocab)}
    ids = np.array([[index[c]] for c in prompt if c in index] or [[0]])
    out = []
    with mg.no_grad():
        logits, state = model(mg.tensor(ids, device=device))
        for _ in range(length):
            p = F.softmax(logits[-1, 0] / temperature, dim=-1).numpy().astype(np.float64)
            nxt = rng.choice(len(vocab), p=p / p.sum())
            out.append(vocab[nxt])
            logits, state = model(mg.tensor(np.array([[nxt]]), device=device), state)
    return prompt + "".join(out)


def gradient_norms(model, data, steps, device):
    """‖d loss / d x_t‖ for t = 0 .. steps-1 (mean over the streams), where the loss is the
    cross-entropy of the prediction at the last step only and x_t the embedded input t."""
    model.eval()
    inputs, targets = data[:steps], data[1:steps + 1]
    x = model.embedding(mg.tensor(inputs, device=device)).detach().requires_grad_()
    logits, _ = model.read(x)
    F.cross_entropy(logits[-1], mg.tensor(targets[-1], device=device)).backward()
    return np.sqrt((x.grad.numpy() ** 2).sum(-1)).mean(1)


def train(model, train_data, val_data, vocab, args, name, log, rng):
    """Train ``model`` for ``args.epochs``; returns its history (and prints each epoch)."""
    optimizer = Adam(model.parameters(), lr=args.lr)
    per_epoch = math.ceil((len(train_data) - 1) / args.bptt)
    if args.steps_per_epoch is not None:
        per_epoch = min(per_epoch, args.steps_per_epoch)
    bar = progress_bar(args.epochs * per_epoch, f"training {name}", args.quiet)
    history = {"train_perplexity": [], "val_perplexity": [], "grad_norm": [], "samples": []}
    for epoch in range(1, args.epochs + 1):
        train_loss, grad_norm = train_epoch(model, optimizer, train_data, args, bar)
        val_loss = evaluate(model, val_data, args)
        history["train_perplexity"].append(math.exp(train_loss))
        history["val_perplexity"].append(math.exp(val_loss))
        history["grad_norm"].append(grad_norm)
        log.add_scalar(f"{name}/perplexity/train", math.exp(train_loss), epoch)
        log.add_scalar(f"{name}/perplexity/val", math.exp(val_loss), epoch)
        if name == "lstm":
            samples = {str(t): sample(model, vocab, "THE ", args.sample_length, t, rng,
                                      args.device) for t in args.temperatures}
            history["samples"].append(samples)
        if not args.quiet or name == "lstm":
            print(f"[{name}] epoch {epoch}: train perplexity {math.exp(train_loss):.3f}, "
                  f"validation {math.exp(val_loss):.3f}")
        if name == "lstm" and not args.quiet:
            for t, text in samples.items():
                print(f"  T={t}: {text!r}")
    bar.close()
    return history


def plot(out, histories, norms):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, h in histories.items():
        epochs = range(1, len(h["train_perplexity"]) + 1)
        ax.plot(epochs, h["train_perplexity"], "-o", label=f"{name} train")
        ax.plot(epochs, h["val_perplexity"], "--o", label=f"{name} validation")
    ax.set(xlabel="epoch", ylabel="perplexity", yscale="log",
           title="character-level language model")
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(out, "perplexity.png"), dpi=100)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, values in norms.items():
        back = np.arange(len(values))[::-1]          # steps between x_t and the loss
        ax.semilogy(back, np.maximum(values, 1e-30), label=name)
    ax.set(xlabel="steps between the input and the loss", ylabel="‖d loss / d x_t‖",
           title="gradient reaching earlier inputs (trained models)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(out, "gradient_norms.png"), dpi=100)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    mg.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    with open(args.text, encoding="utf-8") as f:
        text = f.read()
    vocab = sorted(set(text))
    index = {c: i for i, c in enumerate(vocab)}
    ids = np.array([index[c] for c in text], dtype=np.int64)
    split = int(0.9 * len(ids))
    train_data = streams(ids[:split], args.batch_size)
    val_data = streams(ids[split:], args.batch_size)
    if len(train_data) < 2 or len(val_data) < 2:
        sys.exit(f"char_lstm: the text ({len(text)} characters) is too short for "
                 f"{args.batch_size} streams; use a longer --text or a smaller --batch-size")
    log = open_logger(args)
    start = time.process_time()
    histories, norms = {}, {}
    cells = {"lstm": LSTM} if args.no_rnn else {"lstm": LSTM, "rnn": RNN}
    for name, cell in cells.items():
        mg.manual_seed(args.seed)
        model = CharModel(len(vocab), args.embed, args.hidden, cell)
        if args.device != "cpu":
            model.to(args.device)
        histories[name] = train(model, train_data, val_data, vocab, args, name, log, rng)
        norms[name] = gradient_norms(model, val_data, min(args.grad_steps, len(val_data) - 1),
                                     args.device)
    cpu_seconds = time.process_time() - start
    os.makedirs(args.out, exist_ok=True)
    plot(args.out, histories, norms)
    decay = {name: float(v[0] / v[-1]) for name, v in norms.items()}
    metrics = {"text": os.path.basename(args.text), "characters": len(text),
               "vocabulary": len(vocab), "cpu_seconds": cpu_seconds,
               "temperatures": args.temperatures,
               "val_perplexity": histories["lstm"]["val_perplexity"][-1],
               "train_perplexity": histories["lstm"]["train_perplexity"][-1],
               "histories": histories,
               "gradient_norms": {k: v.tolist() for k, v in norms.items()},
               "first_over_last_gradient_norm": decay}
    save_metrics(args.out, metrics)
    log.close()
    lstm = histories["lstm"]
    print(f"LSTM: validation perplexity {lstm['val_perplexity'][-1]:.3f} after {args.epochs} "
          f"epochs (vocabulary {len(vocab)}, so a uniform guess scores {len(vocab)})")
    if "rnn" in histories:
        print(f"RNN:  validation perplexity {histories['rnn']['val_perplexity'][-1]:.3f}")
    for name, ratio in decay.items():
        print(f"{name}: gradient at the first of {len(norms[name])} steps / at the last = "
              f"{ratio:.2e}")
    print(f"{cpu_seconds:.0f} s of CPU time; figures and metrics.json in {args.out}")


if __name__ == "__main__":
    main()
