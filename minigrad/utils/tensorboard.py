"""TensorBoard logs from minigrad: curves, histograms, images and the autograd graph.

``SummaryWriter`` has the methods and arguments of PyTorch's
``torch.utils.tensorboard.SummaryWriter`` and writes the same event files, through the
``tensorboardX`` package (the 'tools' extra). It accepts minigrad Tensors wherever that class
accepts torch tensors, turning them into NumPy arrays first::

    from minigrad.utils.tensorboard import SummaryWriter
    with SummaryWriter("runs/mlp") as writer:
        writer.add_scalar("loss/train", loss, step)
        writer.add_histogram("fc.weight", model.fc.weight, step)
    # then: tensorboard --logdir runs

``add_graph`` draws the graph that backward walks, not a traced program: one node per op
(named after its Function, e.g. ``MatMul_3``), one per leaf (named after the parameter, with
the dots of ``layer1.0.weight`` turned into TensorBoard's ``/`` groups), and the shape of every
Tensor on the arrows, read from the engine's own edges (see ``minigrad/viz.py``).

Notation
--------
step      ``global_step``, the x-axis of curves and the slider of histograms and images
"""
import numpy as np

from ..tensor import Tensor
from ..viz import graph_nodes

_INSTALL = ("minigrad.utils.tensorboard.SummaryWriter needs the 'tensorboardX' package, from "
            "the 'tools' extra: pip install -e \".[tools]\" (or pip install tensorboardX)")


def _numpy(value):
    """A Tensor (any device) or array as a NumPy array; other values as they are."""
    if isinstance(value, Tensor):
        return value.numpy()
    if hasattr(value, "get") and hasattr(value, "__cuda_array_interface__"):
        return value.get()
    return value


def _scalar(tag, value):
    value = _numpy(value)
    if isinstance(value, np.ndarray):
        if value.size != 1:
            raise ValueError(f"add_scalar: {tag!r} got an array of shape {value.shape}; "
                             "expected one number")
        value = value.reshape(()).item()
    return float(value)


class SummaryWriter:
    """Writes TensorBoard event files under ``log_dir``; a context manager that closes them.

    Parameters
    ----------
    log_dir : str, optional
        Folder of the event files; default ``runs/<date>_<host>``, as in PyTorch.
    comment : str, default ''
        Suffix of the default ``log_dir``.
    filename_suffix : str, default ''
        Appended to every event file's name.
    """

    def __init__(self, log_dir=None, comment="", filename_suffix=""):
        try:
            import tensorboardX
        except ImportError as error:
            raise ImportError(_INSTALL) from error
        self._writer = tensorboardX.SummaryWriter(
            logdir=log_dir, comment=comment, filename_suffix=filename_suffix)

    @property
    def log_dir(self):
        """The folder the event files go to."""
        return self._writer.logdir

    def add_scalar(self, tag, scalar_value, global_step=None, walltime=None):
        """One point of the curve ``tag``; ``scalar_value`` a number or a one-element Tensor."""
        self._writer.add_scalar(tag, _scalar(tag, scalar_value), global_step, walltime)

    def add_scalars(self, main_tag, tag_scalar_dict, global_step=None, walltime=None):
        """Several curves in one chart, e.g. ``{"train": 0.3, "val": 0.4}``."""
        values = {k: _scalar(k, v) for k, v in tag_scalar_dict.items()}
        self._writer.add_scalars(main_tag, values, global_step, walltime)

    def add_histogram(self, tag, values, global_step=None, bins="tensorflow", walltime=None):
        """The distribution of ``values`` (a Tensor or array of any shape) at this step;
        ``bins`` is 'tensorflow' (TensorBoard's exponential buckets) or one of NumPy's
        ``histogram_bin_edges`` rules ('auto', 'fd', ...)."""
        values = np.asarray(_numpy(values), dtype=np.float64).ravel()
        if values.size == 0:
            raise ValueError(f"add_histogram: {tag!r} got no values")
        self._writer.add_histogram(tag, values, global_step, bins, walltime)

    def add_image(self, tag, img_tensor, global_step=None, walltime=None, dataformats="CHW"):
        """One image: floats in [0, 1] or uint8, shape as ``dataformats`` says (CHW, HWC, HW)."""
        image = np.asarray(_numpy(img_tensor))
        _check_layout("add_image", tag, image, dataformats)
        self._writer.add_image(tag, image, global_step, walltime, dataformats)

    def add_images(self, tag, img_tensor, global_step=None, walltime=None,
                   dataformats="NCHW"):
        """A batch of images tiled into one grid: shape as ``dataformats`` (NCHW or NHWC)."""
        images = np.asarray(_numpy(img_tensor))
        _check_layout("add_images", tag, images, dataformats)
        self._writer.add_images(tag, images, global_step, walltime, dataformats)

    def add_text(self, tag, text_string, global_step=None, walltime=None):
        """A piece of text (Markdown) under ``tag``."""
        self._writer.add_text(tag, text_string, global_step, walltime)

    def add_graph(self, model, input_to_model=None, verbose=False):
        """The autograd graph of ``model(input_to_model)``, or of ``model`` itself when it is
        an output Tensor; shown on TensorBoard's Graphs tab.

        Parameters
        ----------
        model : Module or Tensor
            A module (run once on ``input_to_model`` in eval mode, so that logging changes
            no state; its parameters name the leaves) or an output Tensor whose graph is
            drawn as is.
        input_to_model : Tensor or tuple of Tensor, optional
            The module's input(s); required with a module.
        verbose : bool, default False
            Print the nodes (name, op, inputs) as they are written.

        Returns
        -------
        GraphDef
            The protocol buffer that was written.
        """
        if isinstance(model, Tensor):
            output, names = model, {}
        else:
            if input_to_model is None:
                raise ValueError("add_graph: a module needs input_to_model (a Tensor or a "
                                 "tuple of Tensors) to run once")
            inputs = input_to_model if isinstance(input_to_model, tuple) else (input_to_model,)
            was_training = model.training
            model.eval()  # no side effects: BatchNorm statistics and the dropout RNG untouched
            try:
                output = model(*inputs)
            finally:
                model.train(was_training)
            names = {id(p): n for n, p in model.named_parameters()}
            names.update({id(t): f"input_{i}" for i, t in enumerate(inputs)})
        if not isinstance(output, Tensor):
            raise TypeError(f"add_graph: expected the model to return a Tensor, got a "
                            f"{type(output).__name__}")
        graph = graph_def(output, names)
        if verbose:
            for node in graph.node:
                print(node.name, node.op, list(node.input))
        self._writer._get_file_writer().add_onnx_graph(graph)  # writes a plain GraphDef event
        return graph

    def flush(self):
        """Write what is queued to disk now."""
        self._writer.flush()

    def close(self):
        """Flush and close the event files."""
        self._writer.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
        return False


def graph_def(output, names=None):
    """The graph behind ``output`` as a TensorBoard ``GraphDef``: one NodeDef per op and per
    leaf, inputs by name, and each node's output shapes in its ``_output_shapes`` attribute.

    ``names`` maps ``id(leaf)`` to a name; other leaves are called ``leaf_<k>``."""
    from tensorboardX.proto.attr_value_pb2 import AttrValue
    from tensorboardX.proto.graph_pb2 import GraphDef
    from tensorboardX.proto.node_def_pb2 import NodeDef
    from tensorboardX.proto.tensor_shape_pb2 import TensorShapeProto
    from tensorboardX.proto.versions_pb2 import VersionDef

    names = dict(names or {})
    node_names, nodes = {}, []

    def shapes_attr(shapes):
        protos = [TensorShapeProto(dim=[TensorShapeProto.Dim(size=int(n)) for n in shape])
                  for shape in shapes]
        return {"_output_shapes": AttrValue(list=AttrValue.ListValue(shape=protos))}

    def leaf_name(leaf):
        key = id(leaf)
        if key not in node_names:
            unnamed = sum(1 for n in nodes if n.op == "Leaf")
            name = names.get(key, f"leaf_{unnamed}").replace(".", "/")
            node_names[key] = name
            nodes.append(NodeDef(name=name, op="Parameter" if key in names else "Leaf",
                                 attr=shapes_attr([leaf.shape])))
        return node_names[key]

    found = graph_nodes([output])
    for k, node in enumerate(reversed(found)):  # inputs before the nodes that use them
        node_names[id(node)] = f"{type(node).__name__}_{k}"
    for node in reversed(found):
        inputs = []
        for edge in node._edges:
            if edge is None:
                continue
            child, output_nr, leaf = edge[0], edge[1], edge[2]
            source = leaf_name(leaf) if child is None else node_names[id(child)]
            inputs.append(source if output_nr == 0 else f"{source}:{output_nr}")
        nodes.append(NodeDef(name=node_names[id(node)], op=type(node).__name__, input=inputs,
                             attr=shapes_attr([shape for shape, _ in node._out_meta])))
    if output._grad_fn is None:
        leaf_name(output)
    return GraphDef(node=nodes, versions=VersionDef(producer=22))


def _check_layout(op, tag, image, dataformats):
    if image.ndim != len(dataformats):
        raise ValueError(f"{op}: {tag!r} has shape {image.shape} ({image.ndim} dimensions) but "
                         f"dataformats={dataformats!r} expects {len(dataformats)}")
