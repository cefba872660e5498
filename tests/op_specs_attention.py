"""Attention in the op registry: scaled dot-product attention with every option (masks that
leave a row fully masked included: zeros, finite gradients) and multi-head attention on the
weights passed in, both against the step-by-step references of attention_reference.py."""
import minigrad as mg
import minigrad.functional as F
from layers.attention import multi_head_attention_forward
from op_specs import spec
from strategies.attention import mha_inputs, sdpa_inputs
import attention_reference as R


def _sdpa(query, key, value, **options):
    """SDPA with its dropout made repeatable (the same keep mask on every call of gradcheck)."""
    mg.manual_seed(0)
    return F.scaled_dot_product_attention(query, key, value, return_weights=True, **options)


def _mha(query, key, value, *weights, num_heads, need_weights, **options):
    if len(weights) == 4:
        w_in, b_in, w_out, b_out = weights
        separate = {}
    else:
        w_q, w_k, w_v, b_in, w_out, b_out = weights
        w_in, separate = None, {"use_separate_proj_weight": True, "q_proj_weight": w_q,
                                "k_proj_weight": w_k, "v_proj_weight": w_v}
    out, attn = multi_head_attention_forward(query, key, value, num_heads, w_in, b_in, None, None,
                                             False, 0.0, w_out, b_out, need_weights=need_weights,
                                             **separate, **options)
    return (out, attn) if need_weights else out


spec("sdpa_options", _sdpa, sdpa_inputs(), R.sdpa,
     note="masks bool/float with -inf, is_causal, scale, seeded dropout; weights returned too",
     draws_random=True)
spec("sdpa_fully_masked_row", _sdpa, sdpa_inputs(fully_masked_row=True), R.sdpa,
     note="the last query row has no key: zeros out, finite first and second derivatives",
     draws_random=True)
spec("multi_head_attention", _mha, mha_inputs(), R.mha,
     note="kdim/vdim, unbatched, bool and float masks, key padding, weights averaged or not")
