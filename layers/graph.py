"""Graph layers: message passing (edge and node updates), GCN, GAT, GIN and global pooling.

A graph of N nodes and E directed edges is given as node features ``x`` (N, F), an
``edge_index`` (2, E) of int node ids, row 0 the source j and row 1 the target i of each edge
(messages flow j -> i), and optionally edge features ``edge_attr`` (E, F_e). Every layer here is
built from ``F.gather`` (node rows onto edges) and the scatters (edge rows reduced into node
rows), so it has gradients of every order, and it runs on however many graphs are stacked into
one: a batch is one big graph whose pieces share no edge, plus a ``batch`` vector naming the
graph of each node, which only the global poolings read.

Two facts hold for every layer and are tested: permuting the nodes permutes the outputs the
same way (equivariance), and a batch of graphs gives each graph's own result.

Notation
--------
N, E          nodes and edges;  B  graphs in a batch
F, F_e        node and edge feature sizes;  H  attention heads
i, j          the target and the source of an edge j -> i
h_i, h_ij     the features of node i and of edge j -> i;  m_i  node i's aggregated messages
"""
import numpy as np

import minigrad as mg
import minigrad.functional as F
from minigrad.backend import to_numpy, xp_of
from minigrad.checks import check_int, check_number
from minigrad.tensor import raw
from . import init
from .container import ModuleList, Sequential
from .activation import ReLU
from .linear import Linear
from .module import Module
from .parameter import Parameter

AGGREGATIONS = {"sum": F.scatter_add, "add": F.scatter_add, "mean": F.scatter_mean,
                "max": F.scatter_max}


def check_edge_index(layer, edge_index, num_nodes):
    """``edge_index`` as an int64 (2, E) array with ids in [0, num_nodes); else a clear error."""
    edge_index = to_numpy(np.asarray(raw(edge_index)) if isinstance(edge_index, (list, tuple))
                          else raw(edge_index))
    if edge_index.ndim != 2 or edge_index.shape[0] != 2 or edge_index.dtype.kind not in "iu":
        raise ValueError(f"{layer}: edge_index must be an integer array of shape (2, E), got "
                         f"shape {edge_index.shape} and dtype {edge_index.dtype}")
    if edge_index.size and (edge_index.min() < 0 or edge_index.max() >= num_nodes):
        raise IndexError(f"{layer}: edge_index values must be in [0, {num_nodes}), got "
                         f"[{edge_index.min()}, {edge_index.max()}]")
    return edge_index.astype(np.int64, copy=False)


def add_self_loops(edge_index, num_nodes):
    """``edge_index`` (2, E) with the loops i -> i of all ``num_nodes`` nodes appended."""
    loops = np.arange(num_nodes, dtype=np.int64)
    return np.concatenate([np.asarray(edge_index, dtype=np.int64), np.stack([loops, loops])], 1)


def mlp(in_features, hidden_features, out_features):
    """Linear -> ReLU -> Linear: the update function of the message-passing layers."""
    return Sequential(Linear(in_features, hidden_features), ReLU(),
                      Linear(hidden_features, out_features))


class EdgeModel(Module):
    """The node-to-edge update: h_ij' = MLP([h_i, h_ij, h_j]) for every edge j -> i.

    Parameters
    ----------
    node_features, edge_features, out_features : int
    hidden_features : int, default out_features

    Shape
    -----
    x : Tensor, shape (N, node_features);  edge_index : int array, shape (2, E)
    edge_attr : Tensor, shape (E, edge_features)
    returns : Tensor, shape (E, out_features)
    """

    def __init__(self, node_features, edge_features, out_features, hidden_features=None):
        super().__init__()
        self.node_features = check_int("EdgeModel", "node_features", node_features, low=1)
        self.edge_features = check_int("EdgeModel", "edge_features", edge_features, low=0)
        hidden = out_features if hidden_features is None else hidden_features
        self.mlp = mlp(2 * node_features + edge_features, hidden, out_features)

    def forward(self, x, edge_index, edge_attr):
        edge_index = check_edge_index("EdgeModel", edge_index, x.shape[0])
        source, target = edge_index
        parts = [F.gather(x, target), edge_attr, F.gather(x, source)]
        return self.mlp(mg.cat([p for p in parts if p.shape[1]], dim=1))


class NodeModel(Module):
    """The edge-to-node update: m_i = aggr_{j -> i} h_ij, then h_i' = MLP([m_i, h_i]).

    The aggregation (``'sum'``, ``'mean'`` or ``'max'``) is order-invariant, so the result does
    not depend on how the edges are numbered; a node with no incoming edge gets m_i = 0.

    Parameters
    ----------
    node_features, edge_features, out_features : int
    aggr : {'sum', 'mean', 'max'}
    hidden_features : int, default out_features

    Shape
    -----
    x : Tensor, shape (N, node_features);  edge_index : int array, shape (2, E)
    edge_attr : Tensor, shape (E, edge_features)
    returns : Tensor, shape (N, out_features)
    """

    def __init__(self, node_features, edge_features, out_features, aggr="sum",
                 hidden_features=None):
        super().__init__()
        if aggr not in AGGREGATIONS:
            raise ValueError(f"NodeModel: aggr must be one of 'sum', 'mean', 'max', got {aggr!r}")
        self.aggr = aggr
        hidden = out_features if hidden_features is None else hidden_features
        self.mlp = mlp(edge_features + node_features, hidden, out_features)

    def forward(self, x, edge_index, edge_attr):
        edge_index = check_edge_index("NodeModel", edge_index, x.shape[0])
        m = AGGREGATIONS[self.aggr](edge_attr, edge_index[1], x.shape[0])
        return self.mlp(mg.cat([m, x], dim=1))

    def extra_repr(self):
        return f"aggr={self.aggr!r}"


class MessagePassing(Module):
    """L steps of edge update then node update, features keeping their sizes:

        h_ij <- EdgeModel(h_i, h_ij, h_j);   h_i <- NodeModel(aggr_j h_ij, h_i)

    After L steps a node has heard from every node within L hops. With ``shared=True`` the
    same two MLPs run at every step (a recurrent update, as in the tracking network of the
    lecture); otherwise each step has its own.

    Parameters
    ----------
    node_features, edge_features : int
    num_steps : int, L
    aggr : {'sum', 'mean', 'max'}
    shared : bool
    hidden_features : int, default max(node_features, edge_features)

    Shape
    -----
    x : (N, node_features), edge_index : (2, E), edge_attr : (E, edge_features)
    returns : (x, edge_attr) after the last step, the same shapes; with
    ``return_all=True`` in forward, the lists of the edge features after every step instead.
    """

    def __init__(self, node_features, edge_features, num_steps=1, aggr="sum", shared=True,
                 hidden_features=None):
        super().__init__()
        self.num_steps = check_int("MessagePassing", "num_steps", num_steps, low=1)
        self.shared = bool(shared)
        hidden = hidden_features or max(node_features, edge_features)
        count = 1 if shared else num_steps
        self.edge_models = ModuleList([EdgeModel(node_features, edge_features, edge_features,
                                                 hidden) for _ in range(count)])
        self.node_models = ModuleList([NodeModel(node_features, edge_features, node_features,
                                                 aggr, hidden) for _ in range(count)])

    def forward(self, x, edge_index, edge_attr, return_all=False):
        edge_index = check_edge_index("MessagePassing", edge_index, x.shape[0])
        edges_per_step = []
        for step in range(self.num_steps):
            k = 0 if self.shared else step
            edge_attr = self.edge_models[k](x, edge_index, edge_attr)
            x = self.node_models[k](x, edge_index, edge_attr)
            edges_per_step.append(edge_attr)
        return edges_per_step if return_all else (x, edge_attr)

    def extra_repr(self):
        return f"num_steps={self.num_steps}, shared={self.shared}"


class GCNConv(Module):
    """Graph convolution (Kipf & Welling): x' = D^-1/2 (A + I) D^-1/2 x W^T + b.

    Each node averages its neighbours and itself with weights 1/sqrt(d_i d_j), d the degree
    counted with the self-loop, so that repeated layers neither blow up nor vanish on nodes
    of very different degrees. Edges j -> i feed node i; pass both directions for an
    undirected graph.

    Parameters
    ----------
    in_channels, out_channels : int
    add_self_loops : bool
    normalize : bool
        False sums the neighbours' x W^T unweighted.
    bias : bool

    Shape
    -----
    x : (N, in_channels), edge_index : (2, E), edge_weight : (E,) or None
    returns : (N, out_channels)
    """

    def __init__(self, in_channels, out_channels, add_self_loops=True, normalize=True,
                 bias=True):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.add_self_loops, self.normalize = bool(add_self_loops), bool(normalize)
        self.lin = Linear(in_channels, out_channels, bias=False)
        init.xavier_uniform_(self.lin.weight)
        self.bias = Parameter(mg.zeros(out_channels)) if bias else None

    def forward(self, x, edge_index, edge_weight=None):
        N = x.shape[0]
        edge_index = check_edge_index("GCNConv", edge_index, N)
        E = edge_index.shape[1]
        weight = (np.ones(E) if edge_weight is None
                  else to_numpy(raw(edge_weight)).astype(np.float64).reshape(-1))
        if weight.shape != (E,):
            raise ValueError(f"GCNConv: edge_weight must have shape ({E},), one weight per "
                             f"edge, got {weight.shape}")
        if self.add_self_loops:
            edge_index = add_self_loops(edge_index, N)
            weight = np.concatenate([weight, np.ones(N, dtype=weight.dtype)])
        source, target = edge_index
        if self.normalize:  # raw: the graph's structure, not a function of x
            degree = np.bincount(target, weights=weight, minlength=N)
            scale = np.where(degree > 0, degree, 1) ** -0.5
            weight = scale[source] * weight * scale[target]
        h = self.lin(x)
        weight = xp_of(h.data).asarray(weight.astype(h.dtype))[:, None]  # on h's device
        message = F.gather(h, source) * weight
        out = F.scatter_add(message, target, N)
        return out if self.bias is None else out + self.bias

    def extra_repr(self):
        return f"{self.in_channels}, {self.out_channels}"


class GATConv(Module):
    """Graph attention (Veličković et al.): each node attends over its incoming edges.

        z = x W^T (H heads of C),  e_ij = LeakyReLU(a_src · z_j + a_dst · z_i)
        alpha_ij = softmax over the edges j -> i of e_ij  (F.segment_softmax, per head)
        x'_i = Σ_j alpha_ij z_j,  heads concatenated (H*C) or averaged (C)

    Parameters
    ----------
    in_channels, out_channels : int, out_channels is C per head
    heads : int, H
    concat : bool
    negative_slope : float
    add_self_loops : bool
    bias : bool

    Shape
    -----
    x : (N, in_channels), edge_index : (2, E)
    returns : (N, H*C) if concat else (N, C); with ``return_attention_weights=True``, also
    the (2, E') edge_index used (self-loops appended) and alpha of shape (E', H).
    """

    def __init__(self, in_channels, out_channels, heads=1, concat=True, negative_slope=0.2,
                 add_self_loops=True, bias=True):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.heads = check_int("GATConv", "heads", heads, low=1)
        self.concat, self.add_self_loops = bool(concat), bool(add_self_loops)
        self.negative_slope = check_number("GATConv", "negative_slope", negative_slope, low=0)
        self.lin = Linear(in_channels, heads * out_channels, bias=False)
        init.xavier_uniform_(self.lin.weight)
        self.att_src = Parameter(mg.zeros(1, heads, out_channels))
        self.att_dst = Parameter(mg.zeros(1, heads, out_channels))
        init.xavier_uniform_(self.att_src)
        init.xavier_uniform_(self.att_dst)
        size = heads * out_channels if concat else out_channels
        self.bias = Parameter(mg.zeros(size)) if bias else None

    def forward(self, x, edge_index, return_attention_weights=False):
        N, H, C = x.shape[0], self.heads, self.out_channels
        edge_index = check_edge_index("GATConv", edge_index, N)
        if self.add_self_loops:
            edge_index = add_self_loops(edge_index, N)
        source, target = edge_index
        z = self.lin(x).reshape(N, H, C)
        score_src = (z * self.att_src).sum(axis=-1)            # (N, H)
        score_dst = (z * self.att_dst).sum(axis=-1)
        e = F.leaky_relu(F.gather(score_src, source) + F.gather(score_dst, target),
                         self.negative_slope)                  # (E', H)
        alpha = F.segment_softmax(e, target, N)
        out = F.scatter_add(F.gather(z, source) * alpha.reshape(-1, H, 1), target, N)
        out = out.reshape(N, H * C) if self.concat else out.mean(axis=1)
        if self.bias is not None:
            out = out + self.bias
        return (out, edge_index, alpha) if return_attention_weights else out

    def extra_repr(self):
        return f"{self.in_channels}, {self.out_channels}, heads={self.heads}"


class GINConv(Module):
    """Graph isomorphism layer (Xu et al.): x'_i = nn((1 + eps) x_i + Σ_{j -> i} x_j).

    A sum (not a mean or max) of the neighbours keeps multisets apart, which makes the layer
    as discriminative as the Weisfeiler-Lehman test.

    Parameters
    ----------
    nn : Module, maps (N, F) to (N, F')
    eps : float
    train_eps : bool, learn eps as a Parameter

    Shape
    -----
    x : (N, F), edge_index : (2, E);  returns : (N, F')
    """

    def __init__(self, nn, eps=0.0, train_eps=False):
        super().__init__()
        self.nn = nn
        eps = check_number("GINConv", "eps", eps)
        if train_eps:
            self.eps = Parameter(mg.tensor([float(eps)]))
        else:
            self.register_buffer("eps", mg.tensor([float(eps)]))

    def forward(self, x, edge_index):
        edge_index = check_edge_index("GINConv", edge_index, x.shape[0])
        neighbours = F.scatter_add(F.gather(x, edge_index[0]), edge_index[1], x.shape[0])
        return self.nn((1 + self.eps) * x + neighbours)


def _graph_count(op, x, batch, size):
    batch = to_numpy(np.asarray(raw(batch)) if isinstance(batch, (list, tuple)) else raw(batch))
    if batch.shape != (x.shape[0],) or batch.dtype.kind not in "iu":
        raise ValueError(f"{op}: batch must be an integer array of shape ({x.shape[0]},), one "
                         f"graph id per node, got shape {batch.shape} and dtype {batch.dtype}")
    B = int(batch.max()) + 1 if size is None and batch.size else (size or 0)
    return (batch, B)


def global_add_pool(x, batch, size=None):
    """The sum of each graph's node features: (N, F) -> (B, F), B = batch.max() + 1 or size."""
    batch, B = _graph_count("global_add_pool", x, batch, size)
    return F.scatter_add(x, batch, B)


def global_mean_pool(x, batch, size=None):
    """The mean of each graph's node features: (N, F) -> (B, F); 0 for a graph with no node."""
    batch, B = _graph_count("global_mean_pool", x, batch, size)
    return F.scatter_mean(x, batch, B)


def global_max_pool(x, batch, size=None):
    """The elementwise max of each graph's node features: (N, F) -> (B, F)."""
    batch, B = _graph_count("global_max_pool", x, batch, size)
    return F.scatter_max(x, batch, B)
