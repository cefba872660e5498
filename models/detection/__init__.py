"""Object detection: a single-stage anchor detector, a two-stage one with RoI Align, metrics.

    from models.detection import SingleStageDetector, TwoStageDetector, coco_map
"""
from models.detection.metrics import (average_precision, coco_map, mean_average_precision,
                                      precision_recall)
from models.detection.single_stage import SingleStageDetector
from models.detection.two_stage import TwoStageDetector

__all__ = ["SingleStageDetector", "TwoStageDetector", "average_precision", "coco_map",
           "mean_average_precision", "precision_recall"]
