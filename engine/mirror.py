"""The classifier's mirror pass, run only where it can change the answer.

The shipped classifier averages the softmax of each face and of its mirror image inside its ONNX graph
(training.train.ExportWrapper: ``Concat(x, flip(x))`` into the network, then the mean of the two halves), so
every face costs two network passes. On most faces the first pass alone is decisive: of the 5,998 faces of
FER+ valid, muxfe dev and the CREMA-D frames, none whose single-pass top class leads the runner-up by at least
MIRROR_MARGIN (under the decision rule) gets another label from the average, and about 70 % of them lead by
that much (docs/model-card.md, "The mirror pass where it counts"). So the engine runs the network once on
every face and the mirror pass only on the faces below that margin, whose answer is then exactly the shipped
graph's. A decided face keeps its label; its probabilities are its own pass's, not the average.

``single_pass_graph`` derives the one-pass network from the shipped graph (one file ships, so the two cannot
drift apart); ``MirroredClassifier`` checks at load time that the derived graph reproduces the shipped one on
probe faces, and falls back to the shipped graph for any model whose layout it does not recognise.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import onnx
import onnxruntime as ort

# Top class minus runner-up, under the decision rule, below which the mirror pass runs (see the module text).
MIRROR_MARGIN = 0.5
PROBE_TOLERANCE = 1e-5


def single_pass_graph(model: onnx.ModelProto) -> bytes | None:
    """The shipped flip-averaged graph without its mirror branch: [N, 1, 48, 48] -> the softmax of the
    faces as they are, [N, 8]. None when the graph is not ``Concat(x, flip(x))`` into the network followed by
    one Softmax (a model exported without flip averaging, or by other code)."""
    graph = onnx.ModelProto()
    graph.CopyFrom(model)
    nodes = list(graph.graph.node)
    producers = {out: node for node in nodes for out in node.output}
    softmaxes = [node for node in nodes if node.op_type == "Softmax"]
    concat = next((node for node in nodes if node.op_type == "Concat" and len(node.input) == 2), None)
    if concat is None or len(softmaxes) != 1:
        return None
    mirrored = producers.get(concat.input[1])
    if mirrored is None or mirrored.op_type != "Slice" or mirrored.input[0] != concat.input[0]:
        return None
    faces = concat.input[0]
    for node in nodes:
        for i, name in enumerate(node.input):
            if name == concat.output[0]:
                node.input[i] = faces
    probs = softmaxes[0].output[0]
    del graph.graph.output[:]
    graph.graph.output.append(onnx.helper.make_tensor_value_info(probs, onnx.TensorProto.FLOAT, ["N", 8]))
    needed, kept = {probs}, []
    for node in reversed(nodes):
        if needed.intersection(node.output):
            kept.append(node)
            needed.update(node.input)
    del graph.graph.node[:]
    graph.graph.node.extend(reversed(kept))
    onnx.checker.check_model(graph)
    return graph.SerializeToString()


class MirroredClassifier:
    """Softmax of face crops [N, 1, 48, 48] with the mirror pass only where the first pass is not decisive.

    ``decide(probs)`` is the decision rule whose margin counts (the engine's); ``margin`` None runs the shipped
    graph as it is (every face mirrored)."""

    def __init__(
        self,
        path: str,
        make_session: Callable[[str | bytes], ort.InferenceSession],
        decide: Callable[[np.ndarray], np.ndarray],
        margin: float | None = MIRROR_MARGIN,
    ) -> None:
        self.decide = decide
        self.full = make_session(path)
        self.input_name = self.full.get_inputs()[0].name
        outputs = [o.name for o in self.full.get_outputs()]
        self.output_name = "probs" if "probs" in outputs else outputs[0]
        self.fixed_one = self.full.get_inputs()[0].shape[0] == 1
        self.single: ort.InferenceSession | None = None
        self.margin = margin
        self.faces_seen = 0  # counts, for the benches: how many faces, and how many got the mirror pass
        self.faces_mirrored = 0
        if margin is not None and not self.fixed_one:
            derived = single_pass_graph(onnx.load(path))
            if derived is not None:
                single = make_session(derived)
                if self._reproduces(single):
                    self.single = single

    @property
    def adaptive(self) -> bool:
        """True when faces are mirrored only below the margin; False: the shipped graph runs on every face."""
        return self.single is not None

    def _reproduces(self, single: ort.InferenceSession) -> bool:
        probe = np.random.default_rng(0).random((4, 1, 48, 48), dtype=np.float32)
        (once,) = single.run(None, {self.input_name: probe})
        (mirrored,) = single.run(None, {self.input_name: np.ascontiguousarray(probe[..., ::-1])})
        (shipped,) = self.full.run([self.output_name], {self.input_name: probe})
        return once.shape == shipped.shape and bool(np.abs(0.5 * (once + mirrored) - shipped).max() < PROBE_TOLERANCE)

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        if self.fixed_one and len(batch) != 1:  # a model exported with a fixed batch of 1: counted per face
            return np.concatenate([self(batch[i : i + 1]) for i in range(len(batch))])
        self.faces_seen += len(batch)
        if self.single is None:
            self.faces_mirrored += len(batch)
            (probs,) = self.full.run([self.output_name], {self.input_name: batch})
            return probs
        (probs,) = self.single.run(None, {self.input_name: batch})
        ranked = np.sort(self.decide(probs), axis=1)
        undecided = np.flatnonzero(ranked[:, -1] - ranked[:, -2] < self.margin)
        self.faces_mirrored += int(undecided.size)
        if undecided.size:
            flipped = np.ascontiguousarray(batch[undecided][..., ::-1])
            (mirrored,) = self.single.run(None, {self.input_name: flipped})
            probs[undecided] = 0.5 * (probs[undecided] + mirrored)
        return probs
