"""x Wᵀ + b on a matrix of rows, with the bias added in place: the input projections of the
attention and recurrent layers.

``F.linear`` is a matrix product and then an addition, which makes a second array the size of
the output. Attention projects every position of every sequence at once, and a recurrent layer
the inputs of all its time steps, so these outputs are the layers' largest arrays after the
weights; adding the bias into the product's own array saves one of them per call.
"""
from minigrad.autograd import Function


class Projection(Function):
    """out = x Wᵀ + b over rows x (R, in);  dL/dx = g W, dL/dW = gᵀ x, dL/db = Σ_rows g.

    ``bias`` may be None. Backward is written in ops, so the second derivative comes from it.
    """

    @staticmethod
    def forward(ctx, x, weight, bias):
        ctx.save_for_backward(x, weight)
        out = x @ weight.T  # the transposed view: matmul reads it through its strides
        if bias is not None:
            out += bias
        return out

    @staticmethod
    def backward(ctx, grad_output):
        x, weight = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad
        return (grad_output @ weight if need_x else None,
                grad_output.T @ x if need_w else None,
                grad_output.sum(0) if need_b else None)
