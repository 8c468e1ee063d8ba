"""Structured mutations of int8rt.Bf16ImageChain nodes and seeds whose subgraphs run many times with changing
shapes, for tools/engine_field_campaign.py (RESULTS.md 222).

The byte-level field mutations (engine_field_layout.py) already walk into a chain's "body" (a nested network)
and truncate it, set its counts past the end, its ids and dims at their edges. What they cannot reach is a body
that parses and still breaks the node's contract (engine/bf16_blocked_chain.h, ops/bf16_blocked_chain.cc): so
the payload is parsed into its networks here (network_codec.cc's layout, as engine_field_layout.py reads it),
and each chain node is rebuilt with
  - its body's last nodes dropped (the output moved to the last kept node's, or the dropped nodes' tensors
    left behind),
  - its body's inputs or outputs none, doubled, swapped for each other or for an inner tensor,
  - a second input on the node (the same tensor, or an outer constant of another batch), with or without a
    second body input to match,
  - its body wrapped in a chain (a body that is itself a chain, once and twice), and a body whose chain reads
    the image concatenated with itself along the batch (so the inner chain splits images while the outer one
    does), the node given a second input for it,
  - no body, or a string where the body was,
  - its body's input declared with batch 0, 2 or -1.
Seeds: `loop_grow`, a Loop whose carried value grows by a row per iteration through an If whose branches give
different shapes (the pooled Subgraph::Run slots of both bodies reused at a new shape every step), and the
corpus' `nested_if_in_loop_fp32` / `scan_fp32`; FEEDS gives their non-float inputs.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np

CHAIN = b"int8rt.Bf16ImageChain"


def _s(b: bytes) -> bytes:
    return struct.pack("<Q", len(b)) + b


def _ids(v: list[int]) -> bytes:
    return struct.pack("<Q", len(v)) + b"".join(struct.pack("<i", i) for i in v)


@dataclass
class Tensor:
    name: bytes
    dtype: int
    flags: int
    producer: int
    dims: list[int]
    const: bytes | None

    def encode(self) -> bytes:
        out = _s(self.name) + bytes([self.dtype, self.flags]) + struct.pack("<i", self.producer)
        out += struct.pack("<Q", len(self.dims)) + b"".join(struct.pack("<q", d) for d in self.dims)
        return out + (_s(self.const) if self.flags & 1 else b"")


@dataclass
class Node:
    name: bytes
    op: bytes
    inputs: list[int]
    outputs: list[int]
    attrs: list[tuple[bytes, int, object]]  # (name, kind, raw value bytes or a Net for kind 5)

    def encode(self) -> bytes:
        out = _s(self.name) + _s(self.op) + _ids(self.inputs) + _ids(self.outputs) + struct.pack("<Q", len(self.attrs))
        for name, kind, value in self.attrs:
            out += _s(name) + bytes([kind]) + (value.encode() if kind == 5 else value)
        return out


@dataclass
class Net:
    tensors: list[Tensor] = field(default_factory=list)
    nodes: list[Node] = field(default_factory=list)
    inputs: list[int] = field(default_factory=list)
    outputs: list[int] = field(default_factory=list)
    ranges: bytes = b"\0" * 8

    def encode(self) -> bytes:
        return (struct.pack("<Q", len(self.tensors)) + b"".join(t.encode() for t in self.tensors)
                + struct.pack("<Q", len(self.nodes)) + b"".join(n.encode() for n in self.nodes)
                + _ids(self.inputs) + _ids(self.outputs) + self.ranges)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.d, self.pos = data, 0

    def take(self, fmt: str):
        (v,) = struct.unpack_from(fmt, self.d, self.pos)
        self.pos += struct.calcsize(fmt)
        return v

    def skip_i64s(self) -> None:
        n = self.take("<Q")  # read before pos is: `self.pos += 8 * self.take(...)` would lose the count's 8 bytes
        self.pos += 8 * n

    def raw(self, n: int) -> bytes:
        self.pos += n
        return self.d[self.pos - n:self.pos]

    def str(self) -> bytes:
        return self.raw(self.take("<Q"))

    def ids(self) -> list[int]:
        return [self.take("<i") for _ in range(self.take("<Q"))]

    def net(self) -> Net:
        net = Net()
        for _ in range(self.take("<Q")):
            name, dtype, flags, producer = self.str(), self.take("<B"), self.take("<B"), self.take("<i")
            dims = [self.take("<q") for _ in range(self.take("<Q"))]
            net.tensors.append(Tensor(name, dtype, flags, producer, dims, self.str() if flags & 1 else None))
        for _ in range(self.take("<Q")):
            node = Node(self.str(), self.str(), self.ids(), self.ids(), [])
            for _ in range(self.take("<Q")):
                name, kind = self.str(), self.take("<B")
                start = self.pos
                if kind == 5:
                    node.attrs.append((name, kind, self.net()))
                    continue
                if kind in (0, 1):
                    self.pos += 8
                elif kind == 2:
                    self.str()
                elif kind in (3, 4):
                    self.skip_i64s()
                else:
                    raise ValueError(f"attribute kind {kind}")
                node.attrs.append((name, kind, self.d[start:self.pos]))
            net.nodes.append(node)
        net.inputs, net.outputs = self.ids(), self.ids()
        start = self.pos
        for _ in range(self.take("<Q")):
            self.str()
            for _ in range(3):
                self.skip_i64s()
        net.ranges = self.d[start:self.pos]
        return net


def parse(payload: bytes) -> tuple[bytes, Net]:
    """(the header before the network: target, tuned ISA, metadata; the network)."""
    r = _Reader(payload)
    r.str()
    r.str()
    for _ in range(r.take("<Q")):
        r.str()
        r.str()
    head = payload[:r.pos]
    net = r.net()
    assert r.pos == len(payload), f"parsed {r.pos} of {len(payload)} bytes"
    return head, net


def _copy(net: Net) -> Net:
    """A deep copy (re-parsed behind an empty header: two empty strings, no metadata)."""
    return parse(b"\0" * 24 + net.encode())[1]


def _body(node: Node) -> Net:
    return next(v for n, k, v in node.attrs if n == b"body" and k == 5)


def _with_body(node: Node, body: Net) -> list:
    return [(n, k, body if n == b"body" and k == 5 else v) for n, k, v in node.attrs]


def _wrapped(body: Net, name: bytes, doubled: bool = False) -> Net:
    """A body holding one chain node whose body is `body` (inputs and output as the original's). With
    `doubled`, the inner chain reads its first input concatenated with itself along the batch (two images per
    outer image, so the inner chain splits images while the outer one does) and the outer body takes a second
    input (a copy of the first, read by nothing)."""
    outer = Net()
    ins = [Tensor(body.tensors[i].name, body.tensors[i].dtype, body.tensors[i].flags & ~1, -1,
                  list(body.tensors[i].dims), None) for i in body.inputs]
    out_t = body.tensors[body.outputs[0]]
    outer.tensors = ins + [Tensor(out_t.name, out_t.dtype, 0, 0, list(out_t.dims), None)]
    inner_in = list(range(len(ins)))
    outer.nodes = [Node(name, CHAIN, inner_in, [len(ins)], [(b"body", 5, body)])]
    outer.inputs, outer.outputs = list(range(len(ins))), [len(ins)]
    if doubled:  # tensors: the inputs, a copy of the first, the two images (Concat's), the output (the chain's)
        t, k = ins[0], len(ins)
        two = Tensor(t.name + b"_2images", t.dtype, 0, 0, [-1] + t.dims[1:], None)
        outer.tensors = ins + [Tensor(t.name + b"_2", t.dtype, 0, -1, list(t.dims), None), two,
                               Tensor(out_t.name, out_t.dtype, 0, 1, list(out_t.dims), None)]
        outer.nodes = [Node(name + b"_concat", b"Concat", [0, 0], [k + 1], [(b"axis", 0, struct.pack("<q", 0))]),
                       Node(name, CHAIN, [k + 1] + list(range(1, k)), [k + 2], [(b"body", 5, body)])]
        outer.inputs, outer.outputs = list(range(k + 1)), [k + 2]
    return outer


def _dropped(body: Net, keep: int) -> Net:
    """`body` with its nodes from `keep` on removed, with the tensors they produce (ids renumbered); its output
    the last kept node's first output."""
    b = _copy(body)
    kept = [i for i, t in enumerate(b.tensors) if t.producer < keep]
    new = {old: k for k, old in enumerate(kept)} | {-1: -1}  # -1: an optional input left out
    b.tensors = [b.tensors[i] for i in kept]
    b.nodes = b.nodes[:keep]
    for n in b.nodes:
        n.inputs, n.outputs = [new[i] for i in n.inputs], [new[i] for i in n.outputs]
    b.inputs = [new[i] for i in b.inputs]
    b.outputs = [b.nodes[-1].outputs[0]] if b.nodes else [b.inputs[0]]
    return b


def _second_input(body: Net) -> Net:
    """`body` with a second input, a copy of its first under another name (read by nothing)."""
    b = _copy(body)
    t = b.tensors[b.inputs[0]]
    b.tensors.append(Tensor(t.name + b"_2", t.dtype, t.flags, -1, list(t.dims), None))
    b.inputs = b.inputs + [len(b.tensors) - 1]
    return b


def _body_variants(body: Net) -> list[tuple[str, Net]]:
    out = []
    last = len(body.nodes)
    for keep in sorted({0, 1, last // 2, last - 1} - {last}):
        out.append((f"drop-nodes-from={keep}", _dropped(body, keep)))
        b = _copy(body)
        b.nodes = b.nodes[:keep]  # the tensors of the dropped nodes left behind, their producers past the end
        out.append((f"drop-nodes-from={keep}:dangling", b))
    variants = {"outputs-none": ([], None), "outputs-doubled": (None, body.outputs * 2),
                "output-is-input": (None, [body.inputs[0]]), "inputs-none": ([], None),
                "inputs-doubled": (body.inputs * 2, None), "input-is-output": (body.outputs[:1], None),
                "inputs-swapped-with-outputs": (body.outputs, body.inputs)}
    inner = [o for n in body.nodes[:-1] for o in n.outputs]
    if inner:
        variants["output-is-inner"] = (None, [inner[0]])
        variants["input-is-inner"] = ([inner[-1]] + body.inputs[1:], None)
    for label, (ins, outs) in variants.items():
        b = _copy(body)
        b.inputs = list(ins) if ins is not None else b.inputs
        b.outputs = list(outs) if outs is not None else b.outputs
        out.append((label, b))
    for label, batch in (("input-batch=0", 0), ("input-batch=2", 2), ("input-batch=-1", -1)):
        b = _copy(body)
        for i in b.inputs:
            if b.tensors[i].dims:
                b.tensors[i].dims[0] = batch
        out.append((label, b))
    out.append(("nested-chain", _wrapped(_copy(body), b"inner")))
    out.append(("nested-chain-twice", _wrapped(_wrapped(_copy(body), b"inner2"), b"inner")))
    out.append(("second-input", _second_input(body)))
    return out


def chain_mutations(payload: bytes) -> list[tuple[str, bytes]]:
    """(label, payload) for every structured mutation of every chain node of the top-level network."""
    head, net = parse(payload)
    out = []
    for k, node in enumerate(net.nodes):
        if node.op != CHAIN:
            continue
        body = _body(node)
        for label, b in _body_variants(body):
            m = _copy(net)
            m.nodes[k].attrs = _with_body(m.nodes[k], b)
            out.append((f"chain{k}:{label}", head + m.encode()))
        # A second node input: the same tensor, or a constant of another batch, with or without a body input.
        consts = [i for i, t in enumerate(net.tensors) if t.flags & 1 and t.dims]
        for label, extra in (("same", node.inputs[0]), ("const-other-batch", consts[0] if consts else None)):
            if extra is None:
                continue
            for body_too in (False, True):
                m = _copy(net)
                m.nodes[k].inputs = node.inputs + [extra]
                if body_too:
                    m.nodes[k].attrs = _with_body(m.nodes[k], _second_input(body))
                out.append((f"chain{k}:second-input={label}{':body-too' if body_too else ''}", head + m.encode()))
        m = _copy(net)  # the inner chain splitting images inside the outer one's image loop
        m.nodes[k].inputs = node.inputs + node.inputs[:1]
        m.nodes[k].attrs = _with_body(m.nodes[k], _wrapped(_copy(body), b"inner", doubled=True))
        out.append((f"chain{k}:nested-chain-two-images", head + m.encode()))
        m = _copy(net)
        m.nodes[k].inputs = []
        out.append((f"chain{k}:node-inputs-none", head + m.encode()))
        m = _copy(net)
        m.nodes[k].outputs = node.outputs * 2
        out.append((f"chain{k}:node-outputs-doubled", head + m.encode()))
        m = _copy(net)
        m.nodes[k].attrs = [a for a in m.nodes[k].attrs if a[0] != b"body"]
        out.append((f"chain{k}:no-body", head + m.encode()))
        m = _copy(net)
        m.nodes[k].attrs = [(n, 2, _s(b"x")) if n == b"body" else (n, kd, v) for n, kd, v in m.nodes[k].attrs]
        out.append((f"chain{k}:body-a-string", head + m.encode()))
    return out


# ---- seeds whose subgraphs run many times with changing shapes ----

def loop_grow_model() -> bytes:
    """A Loop over n steps whose carried value acc [k, 2] grows by one row per step (Concat), through an If
    on the step's parity whose branches give different shapes (odd: acc + x's first row appended; even: acc
    with a zero row appended, computed by a different node); outputs the last acc and the step count."""
    from onnx import TensorProto, helper, numpy_helper

    def fvi(name, shape):
        return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)

    then = helper.make_graph([helper.make_node("Add", ["acc", "one_row"], ["shifted"]),
                              helper.make_node("Concat", ["shifted", "xrow"], ["r1"], axis=0)],
                             "odd", [], [fvi("r1", None)])
    other = helper.make_graph([helper.make_node("Concat", ["acc", "zero_row"], ["r2"], axis=0)],
                              "even", [], [fvi("r2", None)])
    body = helper.make_graph(
        [helper.make_node("Mod", ["i", "two"], ["parity"]),
         helper.make_node("Equal", ["parity", "one"], ["odd"]),
         helper.make_node("Slice", ["x", "zero", "one"], ["xrow"]),
         helper.make_node("If", ["odd"], ["acc_out"], then_branch=then, else_branch=other),
         helper.make_node("Identity", ["cond"], ["cond_out"])],
        "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond", TensorProto.BOOL, []), fvi("acc", None)],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []), fvi("acc_out", None)])
    inits = [numpy_helper.from_array(np.array(v, np.int64), n) for n, v in (("two", 2), ("one", [1]), ("zero", [0]))]
    inits += [numpy_helper.from_array(np.ones((1, 2), np.float32), "one_row"),
              numpy_helper.from_array(np.zeros((1, 2), np.float32), "zero_row")]
    graph = helper.make_graph([helper.make_node("Loop", ["n", "", "acc0"], ["acc_last"], body=body)], "grow",
                              [fvi("x", ["N", 2]), fvi("acc0", ["K", 2]),
                               helper.make_tensor_value_info("n", TensorProto.INT64, [])],
                              [fvi("acc_last", [None, 2])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString()


# Non-float inputs of the seeds (a mutated engine keeps its input names): name -> (dtype, values to draw from).
FEEDS = {"n": (np.int64, (0, 1, 2, 5)), "start": (np.bool_, (True, False))}
