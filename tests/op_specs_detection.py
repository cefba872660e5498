"""The detection ops in the op registry: forward vs ``references_detection``, gradcheck and
gradgradcheck in float64 on every device (tests/test_op_specs.py runs them).

RoI Align and RoI Pool are differentiated in the feature map (the boxes are drawn as params);
both are linear in it once the argmax is fixed, and the map's values are distinct for RoI Pool,
so each bin has one maximum. The box functions draw boxes with no coordinate ties (strategies/
detection.py), so no min, max or clip sits at a kink.
"""
from hypothesis import strategies as st

import minigrad.functional as F
import references_detection as RD
from op_specs import spec
from strategies.detection import box_coding_inputs, box_pair_inputs, roi_inputs
from strategies.ops import with_options

spec("roi_align", F.roi_align, roi_inputs(), RD.roi_align)
spec("roi_pool", F.roi_pool, roi_inputs(pool=True), RD.roi_pool,
     note="distinct map values: one maximum per bin")
spec("box_iou", F.box_iou, box_pair_inputs(), RD.box_iou)
spec("generalized_box_iou", F.generalized_box_iou, box_pair_inputs(), RD.generalized_box_iou)
spec("generalized_box_iou_loss", F.generalized_box_iou_loss,
     with_options(box_pair_inputs(same_size=True), reduction=st.sampled_from(["none", "sum",
                                                                               "mean"])),
     RD.generalized_box_iou_loss, atol=1e-5)
spec("encode_boxes", F.encode_boxes, box_coding_inputs(), RD.encode_boxes)
spec("decode_boxes", F.decode_boxes, box_coding_inputs(decode=True), RD.decode_boxes)
spec("box_convert", lambda b, in_fmt, out_fmt: F.box_convert(b, in_fmt, out_fmt),
     with_options(box_pair_inputs(same_size=True).map(lambda d: ((d[0][0],), {})),
                  in_fmt=st.sampled_from(["xyxy", "xywh", "cxcywh"]),
                  out_fmt=st.sampled_from(["xyxy", "xywh", "cxcywh"])),
     lambda b, in_fmt, out_fmt: _convert(b, in_fmt, out_fmt))


def _convert(b, in_fmt, out_fmt):
    import numpy as np
    a, c, d, e = b.T
    x1, y1, x2, y2 = {"xyxy": (a, c, d, e), "xywh": (a, c, a + d, c + e),
                      "cxcywh": (a - d / 2, c - e / 2, a + d / 2, c + e / 2)}[in_fmt]
    out = {"xyxy": (x1, y1, x2, y2), "xywh": (x1, y1, x2 - x1, y2 - y1),
           "cxcywh": ((x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1)}[out_fmt]
    return np.stack(out, axis=1)
