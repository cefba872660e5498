"""PyTorch training scripts that run on minigrad with only their imports changed.

Each script below is PyTorch code as a tutorial writes it: a model class subclassing
``nn.Module`` with ``__init__`` and ``forward``, a loss, an optimizer and a ``DataLoader`` loop.
The same source text is run twice: under minigrad's imports (``import minigrad as torch``,
``import layers as nn``, ...), where its loss must fall and its accuracy pass a threshold, and
under PyTorch's own imports in the ``_vs_torch`` tests, which prove the text is genuine PyTorch
code (its loss falls there too). A script leaves its results in its namespace
(``initial_loss``, ``final_loss`` and, for classifiers, ``accuracy``); the data it trains on
comes in as NumPy arrays, as a script gets them from ``numpy.load`` or a dataset package.
"""
import textwrap

import numpy as np
import pytest

from minigrad.data import load_digits

MINIGRAD_IMPORTS = """
import minigrad as torch
import layers as nn
import minigrad.functional as F
import optim
from minigrad.data import DataLoader, TensorDataset
"""

TORCH_IMPORTS = """
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.utils.data import DataLoader, TensorDataset
"""

MNIST_CNN = """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, 1, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, 1, padding=1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(32 * 4 * 4, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x):
        x = self.conv1(x)
        x = F.relu(x)
        x = self.conv2(x)
        x = F.relu(x)
        x = F.max_pool2d(x, 2)
        x = self.dropout1(x)
        x = torch.flatten(x, 1)
        x = self.fc1(x)
        x = F.relu(x)
        x = self.dropout2(x)
        x = self.fc2(x)
        output = F.log_softmax(x, dim=1)
        return output


def train(model, train_loader, optimizer, epoch):
    model.train()
    for batch_idx, (data, target) in enumerate(train_loader):
        optimizer.zero_grad()
        output = model(data)
        loss = F.nll_loss(output, target)
        loss.backward()
        optimizer.step()


def test(model, test_loader):
    model.eval()
    test_loss = 0
    correct = 0
    with torch.no_grad():
        for data, target in test_loader:
            output = model(data)
            test_loss += F.nll_loss(output, target, reduction='sum').item()
            pred = output.argmax(dim=1, keepdim=True)
            correct += pred.eq(target.view_as(pred)).sum().item()
    test_loss /= len(test_loader.dataset)
    return test_loss, correct / len(test_loader.dataset)


torch.manual_seed(1)
train_set = TensorDataset(torch.tensor(train_images), torch.tensor(train_labels))
test_set = TensorDataset(torch.tensor(test_images), torch.tensor(test_labels))
train_loader = DataLoader(train_set, batch_size=64, shuffle=True)
test_loader = DataLoader(test_set, batch_size=1000)

model = Net()
optimizer = optim.Adam(model.parameters(), lr=1e-3)
scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.9)
initial_loss, _ = test(model, test_loader)
for epoch in range(1, 6):
    train(model, train_loader, optimizer, epoch)
    scheduler.step()
final_loss, accuracy = test(model, test_loader)
"""

MLP_REGRESSION = """
class MLP(nn.Module):
    def __init__(self, in_features, hidden):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(in_features, hidden),
            nn.Tanh(),
            nn.Linear(hidden, hidden),
            nn.Tanh(),
            nn.Linear(hidden, 1),
        )

    def forward(self, x):
        return self.layers(x)


torch.manual_seed(0)
X = torch.rand(512, 2) * 4 - 2
y = torch.sin(X[:, 0:1]) + 0.5 * X[:, 1:2] ** 2
loader = DataLoader(TensorDataset(X, y), batch_size=32, shuffle=True)

model = MLP(2, 32)
criterion = nn.MSELoss()
optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)

with torch.no_grad():
    initial_loss = criterion(model(X), y).item()
for epoch in range(30):
    model.train()
    for inputs, targets in loader:
        optimizer.zero_grad()
        loss = criterion(model(inputs), targets)
        loss.backward()
        optimizer.step()
model.eval()
with torch.no_grad():
    final_loss = criterion(model(X), y).item()
"""

AUTOENCODER = """
class AutoEncoder(nn.Module):
    def __init__(self, code_size=8):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, code_size))
        self.decoder = nn.Sequential(nn.Linear(code_size, 32), nn.ReLU(),
                                     nn.Linear(32, 64), nn.Sigmoid())

    def forward(self, x):
        z = self.encoder(x)
        return self.decoder(z)


torch.manual_seed(0)
images = torch.tensor(train_images).view(-1, 64)
loader = DataLoader(TensorDataset(images), batch_size=64, shuffle=True)
model = AutoEncoder()
optimizer = optim.Adam(model.parameters(), lr=1e-2)

with torch.no_grad():
    initial_loss = F.mse_loss(model(images), images).item()
for epoch in range(15):
    model.train()
    for (x,) in loader:
        recon = model(x)
        loss = F.mse_loss(recon, x)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
model.eval()
with torch.no_grad():
    final_loss = F.mse_loss(model(images), images).item()
"""

SIAMESE = """
class SiameseNetwork(nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = nn.Sequential(
            nn.Flatten(),
            nn.Linear(64, 32),
            nn.ReLU(),
            nn.Linear(32, 8),
        )

    def forward_once(self, x):
        return self.embedding(x)

    def forward(self, input1, input2):
        output1 = self.forward_once(input1)
        output2 = self.forward_once(input2)
        return output1, output2


class ContrastiveLoss(nn.Module):
    def __init__(self, margin=2.0):
        super().__init__()
        self.margin = margin

    def forward(self, output1, output2, label):
        euclidean_distance = F.pairwise_distance(output1, output2, keepdim=True)
        loss_contrastive = torch.mean((1 - label) * torch.pow(euclidean_distance, 2) +
                                      label * torch.pow(torch.clamp(self.margin - euclidean_distance, min=0.0), 2))
        return loss_contrastive


torch.manual_seed(0)
images = torch.tensor(train_images)
digits = torch.tensor(train_labels)
first = torch.randint(0, len(images), (2000,))
second = torch.randint(0, len(images), (2000,))
# label 1 for a pair of different digits, 0 for the same digit, as in the tutorial
label = (digits[first] != digits[second]).float().view(-1, 1)
pairs = TensorDataset(images[first], images[second], label)
loader = DataLoader(pairs, batch_size=64, shuffle=True)

net = SiameseNetwork()
criterion = ContrastiveLoss()
optimizer = optim.Adam(net.parameters(), lr=5e-3)


def evaluate():
    net.eval()
    with torch.no_grad():
        output1, output2 = net(images[first], images[second])
        loss = criterion(output1, output2, label).item()
        different = (F.pairwise_distance(output1, output2, keepdim=True) > 1.0).float()
        same_right = (different[label == 0] == 0).float().mean().item()
        different_right = (different[label == 1] == 1).float().mean().item()
    return loss, (same_right + different_right) / 2


initial_loss, _ = evaluate()
for epoch in range(10):
    net.train()
    for img0, img1, pair_label in loader:
        optimizer.zero_grad()
        output1, output2 = net(img0, img1)
        loss = criterion(output1, output2, pair_label)
        loss.backward()
        optimizer.step()
final_loss, accuracy = evaluate()
"""


def digits():
    """The shipped digits as a script would get them: NumPy arrays, float32 images NCHW."""
    train_images, train_labels = load_digits(split="train")
    test_images, test_labels = load_digits(split="test")
    return {"train_images": train_images, "train_labels": train_labels,
            "test_images": test_images, "test_labels": test_labels}


def run_script(imports, body):
    """Execute ``body`` after ``imports``, as one file would run; return its namespace."""
    namespace = {"__name__": "pytorch_habit_script"}
    namespace.update(digits())
    source = textwrap.dedent(imports) + body
    exec(compile(source, "<pytorch habit script>", "exec"), namespace)
    return namespace


# script, the most its final loss may be as a share of the initial one, the least accuracy
SCRIPTS = {
    "mnist_cnn": (MNIST_CNN, 0.5, 0.85),
    "mlp_regression": (MLP_REGRESSION, 0.1, None),
    "autoencoder": (AUTOENCODER, 0.5, None),
    "siamese": (SIAMESE, 0.5, 0.8),
}


def check_result(result, loss_share, least_accuracy):
    initial, final = result["initial_loss"], result["final_loss"]
    assert np.isfinite(initial) and np.isfinite(final)
    assert final < loss_share * initial, (initial, final)
    if least_accuracy is not None:
        assert result["accuracy"] > least_accuracy, result["accuracy"]


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_pytorch_script_trains_with_only_its_imports_changed(name):
    body, loss_share, least_accuracy = SCRIPTS[name]
    check_result(run_script(MINIGRAD_IMPORTS, body), loss_share, least_accuracy)


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_the_same_script_is_genuine_pytorch_vs_torch(name):
    torch = pytest.importorskip("torch")
    body, loss_share, least_accuracy = SCRIPTS[name]
    threads = torch.get_num_threads()
    # Batches this small run many times slower when PyTorch's threads contend for the cores.
    torch.set_num_threads(1)
    try:
        result = run_script(TORCH_IMPORTS, body)
    finally:
        torch.set_num_threads(threads)
    check_result(result, loss_share, least_accuracy)
