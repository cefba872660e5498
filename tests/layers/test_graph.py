"""The graph layers: GCN and GAT against dense NumPy formulas, and the properties every
message-passing layer must have, on hypothesis-drawn graphs:

- equivariance: renumbering the nodes renumbers the node outputs the same way (and leaves the
  edge outputs, edges kept in order, unchanged);
- invariance: the global poolings do not see the node order;
- batching: a batch of graphs (one graph of disjoint pieces) gives each graph's own result.

Notation
--------
N nodes, E edges, perm  a permutation of the nodes (new node k is old node perm[k]),
inverse  its inverse (old node i is new node inverse[i])
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minigrad as mg
from layers import (EdgeModel, GATConv, GCNConv, GINConv, Linear, MessagePassing, NodeModel,
                    global_add_pool, global_max_pool, global_mean_pool)
from layers.graph import add_self_loops

F_IN, F_EDGE = 3, 2


@st.composite
def graphs(draw, max_nodes=7, max_edges=14):
    """(x (N, F_IN) float64, edge_index (2, E), edge_attr (E, F_EDGE)); repeated edges and
    self-loops allowed."""
    N, E = draw(st.integers(1, max_nodes)), draw(st.integers(0, max_edges))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return (rng.standard_normal((N, F_IN)), rng.integers(0, N, (2, E)),
            rng.standard_normal((E, F_EDGE)))


def _double(module):
    """Every parameter in float64, so that comparisons are exact to 1e-10."""
    for p in module.parameters():
        p.data = p.data.astype(np.float64)
    return module


def _layers():
    mg.manual_seed(0)
    return {"gcn": _double(GCNConv(F_IN, 4)), "gat": _double(GATConv(F_IN, 2, heads=3)),
            "gat_mean": _double(GATConv(F_IN, 2, heads=2, concat=False)),
            "gin": _double(GINConv(Linear(F_IN, 4), eps=0.3)),
            **{f"node_{a}": _double(NodeModel(F_IN, F_EDGE, 4, aggr=a))
               for a in ("sum", "mean", "max")},
            "mpn": _double(MessagePassing(F_IN, F_EDGE, num_steps=2, aggr="mean", shared=False))}


LAYERS = _layers()


def _run(name, x, edge_index, edge_attr):
    """The layer's node output (and edge output for the message-passing ones)."""
    layer, x, edge_attr = LAYERS[name], mg.tensor(x), mg.tensor(edge_attr)
    if name.startswith("node"):
        return (layer(x, edge_index, edge_attr).numpy(), None)
    if name == "mpn":
        out, edges = layer(x, edge_index, edge_attr)
        return (out.numpy(), edges.numpy())
    return (layer(x, edge_index).numpy(), None)


@settings(deadline=None)
@given(graphs(), st.sampled_from(sorted(LAYERS)), st.data())
def test_node_permutation_permutes_outputs(graph, name, data):
    x, edge_index, edge_attr = graph
    perm = np.array(data.draw(st.permutations(range(x.shape[0]))))
    inverse = np.argsort(perm)
    out, edges = _run(name, x, edge_index, edge_attr)
    out_p, edges_p = _run(name, x[perm], inverse[edge_index], edge_attr)
    np.testing.assert_allclose(out_p, out[perm], rtol=1e-10, atol=1e-12)
    if edges is not None:
        np.testing.assert_allclose(edges_p, edges, rtol=1e-10, atol=1e-12)


@settings(deadline=None)
@given(graphs(), st.data())
def test_edge_model_is_equivariant_and_sees_both_endpoints(graph, data):
    x, edge_index, edge_attr = graph
    model = _double(EdgeModel(F_IN, F_EDGE, 3))
    perm = np.array(data.draw(st.permutations(range(x.shape[0]))))
    out = model(mg.tensor(x), edge_index, mg.tensor(edge_attr)).numpy()
    out_p = model(mg.tensor(x[perm]), np.argsort(perm)[edge_index], mg.tensor(edge_attr)).numpy()
    np.testing.assert_allclose(out_p, out, rtol=1e-10, atol=1e-12)
    # an edge's output is the MLP of [h_i, h_ij, h_j], target first
    if edge_index.shape[1]:
        j, i = edge_index[:, 0]
        row = np.concatenate([x[i], edge_attr[0], x[j]])[None]
        np.testing.assert_allclose(out[:1], model.mlp(mg.tensor(row)).numpy(), rtol=1e-10)


@given(graphs(), st.integers(1, 3), st.data())
def test_global_pools_are_invariant_to_node_order(graph, B, data):
    x = graph[0]
    batch = np.sort(np.random.default_rng(0).integers(0, B, x.shape[0]))
    perm = np.array(data.draw(st.permutations(range(x.shape[0]))))
    for pool in (global_add_pool, global_mean_pool, global_max_pool):
        a = pool(mg.tensor(x), batch, size=B).numpy()
        b = pool(mg.tensor(x[perm]), batch[perm], size=B).numpy()
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
        for g in range(B):
            rows = x[batch == g]
            reduce = {global_add_pool: np.sum, global_mean_pool: np.mean,
                      global_max_pool: np.max}[pool]
            expected = reduce(rows, axis=0) if rows.size else np.zeros(F_IN)
            np.testing.assert_allclose(a[g], expected, rtol=1e-12, atol=1e-12)


@settings(deadline=None)
@given(graphs(), graphs(), st.sampled_from(sorted(LAYERS)))
def test_a_batch_of_graphs_gives_each_graphs_result(first, second, name):
    (x1, e1, a1), (x2, e2, a2) = first, second
    N1 = x1.shape[0]
    x = np.concatenate([x1, x2])
    edge_index = np.concatenate([e1, e2 + N1], axis=1)
    out, edges = _run(name, x, edge_index, np.concatenate([a1, a2]))
    alone1, edges1 = _run(name, x1, e1, a1)
    alone2, edges2 = _run(name, x2, e2, a2)
    np.testing.assert_allclose(out, np.concatenate([alone1, alone2]), rtol=1e-10, atol=1e-12)
    if edges is not None:
        np.testing.assert_allclose(edges, np.concatenate([edges1, edges2]), rtol=1e-10,
                                   atol=1e-12)
    batch = np.repeat([0, 1], [N1, x2.shape[0]])
    pooled = global_mean_pool(mg.tensor(out), batch).numpy()
    np.testing.assert_allclose(pooled[1], alone2.mean(axis=0), rtol=1e-10, atol=1e-12)


@given(graphs())
def test_gcn_matches_the_dense_formula(graph):
    x, edge_index, _ = graph
    layer = LAYERS["gcn"]
    N = x.shape[0]
    A = np.zeros((N, N))
    np.add.at(A, (edge_index[1], edge_index[0]), 1.0)  # A[i, j]: edges j -> i, repeats add
    A += np.eye(N)
    d = A.sum(axis=1)
    A_hat = A / np.sqrt(d)[:, None] / np.sqrt(d)[None, :]
    expected = A_hat @ x @ layer.lin.weight.numpy().T + layer.bias.numpy()
    np.testing.assert_allclose(layer(mg.tensor(x), edge_index).numpy(), expected, rtol=1e-10,
                               atol=1e-12)


def _leaky(v, slope=0.2):
    return np.where(v > 0, v, slope * v)


@given(graphs(), st.booleans())
def test_gat_matches_the_dense_formula(graph, concat):
    x, edge_index, _ = graph
    layer = LAYERS["gat" if concat else "gat_mean"]
    H, C, N = layer.heads, layer.out_channels, x.shape[0]
    z = (x @ layer.lin.weight.numpy().T).reshape(N, H, C)
    s_src = (z * layer.att_src.numpy()).sum(-1)
    s_dst = (z * layer.att_dst.numpy()).sum(-1)
    loops = add_self_loops(edge_index, N)
    out = np.zeros((N, H, C))
    for i in range(N):
        incoming = loops[0][loops[1] == i]          # sources j of the edges j -> i, repeats kept
        e = _leaky(s_src[incoming] + s_dst[i])       # (k, H)
        alpha = np.exp(e - e.max(0)) / np.exp(e - e.max(0)).sum(0)
        out[i] = (alpha[:, :, None] * z[incoming]).sum(0)
    expected = out.reshape(N, H * C) if concat else out.mean(1)
    np.testing.assert_allclose(layer(mg.tensor(x), edge_index).numpy(),
                               expected + layer.bias.numpy(), rtol=1e-10, atol=1e-12)


def test_gat_attention_weights_sum_to_one_per_node_and_head():
    x = mg.randn(4, F_IN, dtype=np.float64)
    out, edges, alpha = LAYERS["gat"](x, np.array([[0, 1, 2], [3, 3, 0]]),
                                      return_attention_weights=True)
    assert alpha.shape == (3 + 4, 3)
    sums = np.zeros((4, 3))
    np.add.at(sums, edges[1], alpha.numpy())
    np.testing.assert_allclose(sums, 1.0, rtol=1e-12)


def test_layers_have_gradients_of_second_order():
    rng = np.random.default_rng(3)
    edge_index = rng.integers(0, 4, (2, 7))
    layer = LAYERS["gat"]
    x = mg.tensor(rng.standard_normal((4, F_IN)), requires_grad=True)
    assert mg.gradcheck(lambda t: layer(t, edge_index), [x])
    assert mg.gradgradcheck(lambda t: LAYERS["gcn"](t, edge_index), [x])
    ea = mg.tensor(rng.standard_normal((7, F_EDGE)), requires_grad=True)
    assert mg.gradcheck(lambda a, t: LAYERS["mpn"](t, edge_index, a)[1], [ea, x])


def test_message_passing_shares_weights_or_not():
    shared = MessagePassing(F_IN, F_EDGE, num_steps=3, shared=True)
    separate = MessagePassing(F_IN, F_EDGE, num_steps=3, shared=False)
    assert len(list(separate.parameters())) == 3 * len(list(shared.parameters()))
    steps = shared(mg.randn(3, F_IN), np.array([[0, 1], [1, 2]]), mg.randn(2, F_EDGE),
                   return_all=True)
    assert len(steps) == 3 and all(s.shape == (2, F_EDGE) for s in steps)


def test_bad_graph_input_is_a_clear_error():
    x = mg.randn(3, F_IN)
    with pytest.raises(ValueError, match=r"GCNConv: edge_index must be an integer array of "
                                         r"shape \(2, E\)"):
        GCNConv(F_IN, 2)(x, np.array([0, 1]))
    with pytest.raises(IndexError, match=r"GATConv: edge_index values must be in \[0, 3\)"):
        GATConv(F_IN, 2)(x, np.array([[0, 3], [1, 1]]))
    with pytest.raises(ValueError, match=r"NodeModel: aggr must be one of"):
        NodeModel(F_IN, F_EDGE, 2, aggr="median")
    with pytest.raises(ValueError, match=r"global_add_pool: batch must be an integer array"):
        global_add_pool(x, np.array([0, 1]))


def test_gcn_edge_weight_scales_the_adjacency():
    layer = LAYERS["gcn"]
    x = np.random.default_rng(5).standard_normal((3, F_IN))
    edge_index, w = np.array([[0, 1], [2, 2]]), np.array([2.0, 0.5])
    A = np.eye(3)
    A[2, 0], A[2, 1] = w
    d = A.sum(axis=1)
    expected = (A / np.sqrt(np.outer(d, d))) @ x @ layer.lin.weight.numpy().T + layer.bias.numpy()
    out = layer(mg.tensor(x), edge_index, edge_weight=mg.tensor(w)).numpy()
    np.testing.assert_allclose(out, expected, rtol=1e-10)
    with pytest.raises(ValueError, match=r"GCNConv: edge_weight must have shape \(2,\)"):
        layer(mg.tensor(x), edge_index, edge_weight=np.ones(3))


def test_layer_options_change_the_formula_as_documented():
    rng = np.random.default_rng(6)
    x = mg.tensor(rng.standard_normal((3, F_IN)))
    edge_index = np.array([[0, 1, 1], [2, 2, 0]])
    plain = _double(GCNConv(F_IN, 2, add_self_loops=False, normalize=False, bias=False))
    A = np.zeros((3, 3))
    np.add.at(A, (edge_index[1], edge_index[0]), 1.0)
    np.testing.assert_allclose(plain(x, edge_index).numpy(),
                               A @ x.numpy() @ plain.lin.weight.numpy().T, rtol=1e-10)
    assert plain.bias is None
    # without self-loops a node with no incoming edge gets 0 attention output (then the bias)
    gat = _double(GATConv(F_IN, 2, heads=2, add_self_loops=False, negative_slope=0.0,
                          bias=False))
    out, edges, alpha = gat(x, edge_index, return_attention_weights=True)
    assert edges.shape == (2, 3) and np.all(out.numpy()[1] == 0)
    assert np.all(alpha.numpy()[2] == 1.0)  # node 0 hears from node 1 alone
    gin = _double(GINConv(Linear(F_IN, F_IN), eps=0.5, train_eps=True))
    assert [name for name, _ in gin.named_parameters()][0] == "eps"
    y = gin(x, edge_index)
    y.sum().backward()
    assert gin.eps.grad is not None and gin.eps.grad.shape == (1,)
    fixed = GINConv(Linear(F_IN, F_IN), eps=0.5)
    assert "eps" not in dict(fixed.named_parameters()) and "eps" in fixed.state_dict()
