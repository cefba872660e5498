"""What a trained CNN sees: attribution maps, modified backprop, synthesised images, unit
visualisations and Gram-matrix style, for any ``layers.Module`` image classifier.

    from models.vis import saliency, grad_cam, guided_backprop, class_visualization

============================  ===========================================================
``attribution``               ``occlusion``, ``saliency``, ``smoothgrad``,
                              ``integrated_gradients``, ``grad_cam``
``relu_rules``                ``relu_backward_rule`` (context manager), ``guided_backprop``,
                              ``deconvnet``
``synthesis``                 ``class_visualization``, ``deep_dream``, ``gaussian_blur``
``features``                  ``receptive_field``, ``max_activating_patches``,
                              ``filter_grid``, ``feature_map_grid``, ``make_grid``
``style``                     ``gram_matrix``, ``texture_synthesis``, ``style_transfer``
``activations``               ``capture_activations`` (forward hooks), ``get_layer``
============================  ===========================================================

Everything reads the model through forward hooks and gradients; no model code is edited.
"""
from models.vis.activations import capture_activations, class_scores, get_layer
from models.vis.attribution import (grad_cam, integrated_gradients, occluder_masks, occlusion,
                                    saliency, smoothgrad)
from models.vis.features import (ReceptiveField, feature_map_grid, filter_grid, layers_before,
                                 make_grid, max_activating_patches, receptive_field)
from models.vis.relu_rules import (DeconvReLU, GuidedReLU, deconvnet, guided_backprop,
                                   relu_backward_rule)
from models.vis.style import gram_matrix, style_transfer, texture_synthesis, total_variation
from models.vis.synthesis import class_visualization, deep_dream, gaussian_blur

__all__ = ["capture_activations", "class_scores", "get_layer", "grad_cam",
           "integrated_gradients", "occluder_masks", "occlusion", "saliency", "smoothgrad",
           "ReceptiveField", "feature_map_grid", "filter_grid", "layers_before", "make_grid",
           "max_activating_patches", "receptive_field", "DeconvReLU", "GuidedReLU", "deconvnet",
           "guided_backprop", "relu_backward_rule", "gram_matrix", "style_transfer",
           "texture_synthesis", "total_variation", "class_visualization", "deep_dream",
           "gaussian_blur"]
