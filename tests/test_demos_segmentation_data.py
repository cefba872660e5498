"""The segmentation demo's synthetic shapes: every shape stands out from its background by the
minimum contrast, and no two shapes touch (so each outline is whole)."""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "demos"))

from segmentation import MIN_CONTRAST, make_shapes  # noqa: E402


def test_shapes_stand_out_and_do_not_touch():
    ndimage = __import__("pytest").importorskip("scipy.ndimage", reason="labels components")
    images, labels = make_shapes(40, 32, seed=7)
    shapes = 0
    for image, label in zip(images, labels):
        background = image[:, label == 0].mean(axis=1)
        # 4-connected components of "some shape": touching shapes would merge into one
        # component holding two classes.
        components, count = ndimage.label(label > 0)
        for c in range(1, count + 1):
            inside = components == c
            assert len(np.unique(label[inside])) == 1, "two shapes touch"
            colour = image[:, inside].mean(axis=1)
            # over whole stripes the background's mean is its base colour, and the noise
            # averages out over the pixels; the margin covers part-stripes and noise
            assert np.abs(colour - background).max() >= MIN_CONTRAST - 0.1
            shapes += 1
    assert shapes >= 40
