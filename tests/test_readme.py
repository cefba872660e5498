"""The README's code runs as written (so the first thing a reader copies works)."""
import os
import re

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_readme_python_blocks_run(tmp_path, monkeypatch):
    text = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks, "the README should show some code"
    monkeypatch.chdir(tmp_path)  # the example writes a checkpoint
    scope = {}
    exec(compile("\n".join(blocks), "README.md", "exec"), scope)
    # the first example's claim: the second derivative of sum(w^3) is 6w
    np.testing.assert_allclose(scope["gg"].numpy(), 6 * scope["w"].numpy(), rtol=1e-5)
    assert np.isfinite(scope["loss"].item())
    assert (tmp_path / "ckpt.npz").exists()
