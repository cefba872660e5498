"""``layers.utils``: helpers around modules, as ``torch.nn.utils`` names them."""
