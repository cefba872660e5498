"""``layers.utils``: helpers around modules, as ``torch.nn.utils`` names them."""
from .spectral_norm import spectral_norm, remove_spectral_norm
from . import rnn  # noqa: F401
