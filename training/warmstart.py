"""Load a shipped ``expression.onnx`` back into an ``ExpressionNet`` for a warm start.

The exported graph has every BatchNorm folded into its convolution (weight W', bias b'), so the original
BN statistics are gone. Each BN is rebuilt so that the network computes exactly the exported function in
eval mode, and nearly the same in train mode on the data it is calibrated with:
running mean mu and variance sigma^2 are the statistics of W'x on a calibration batch, gamma = sigma,
beta = mu + b'. In eval mode BN then gives sigma (W'x - mu) / sigma + mu + b' = W'x + b' for any input.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn as nn


def _conv_initializers(path: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    convs = []
    for node in model.graph.node:
        if node.op_type == "Conv":
            convs.append((inits[node.input[1]], inits[node.input[2]]))
    fc = (inits["net.fc.weight"], inits["net.fc.bias"])
    return convs + [fc]


def _modules_in_call_order(net: nn.Module) -> list[nn.Conv2d]:
    order: list[nn.Conv2d] = []
    hooks = [
        m.register_forward_hook(lambda mod, i, o: order.append(mod)) for m in net.modules() if isinstance(m, nn.Conv2d)
    ]
    net.eval()
    with torch.no_grad():
        net(torch.zeros(1, 1, 48, 48))
    for h in hooks:
        h.remove()
    return order


def load_onnx_weights(net: nn.Module, path: Path, calibration: torch.Tensor) -> None:
    """Copy the folded weights of ``path`` into ``net`` (same architecture). ``calibration``: normalised
    float [B,1,48,48] images used for the BN statistics."""
    tensors = _conv_initializers(Path(path))
    convs = _modules_in_call_order(net)
    if len(tensors) != len(convs) + 1:
        raise ValueError(f"{path}: {len(tensors) - 1} convolutions, the network has {len(convs)}")
    bn_of = {}
    for mod in net.modules():
        for child in mod.children():
            if isinstance(child, nn.Sequential) and len(child) >= 2:
                for a, b in zip(child, list(child)[1:], strict=False):
                    if isinstance(a, nn.Conv2d) and isinstance(b, nn.BatchNorm2d):
                        bn_of[a] = b
    biases = {}
    with torch.no_grad():
        for conv, (w, b) in zip(convs, tensors[:-1], strict=True):
            if tuple(conv.weight.shape) != w.shape:
                raise ValueError(f"shape {w.shape} does not fit {tuple(conv.weight.shape)}")
            conv.weight.copy_(torch.from_numpy(w))
            biases[conv] = torch.from_numpy(b)
            bn = bn_of[conv]
            # identity first, so the calibration pass computes W'x + b' layer after layer
            bn.running_mean.copy_(-biases[conv])
            bn.running_var.fill_(1.0 - bn.eps)
            bn.weight.fill_(1.0)
            bn.bias.zero_()
        fc_w, fc_b = tensors[-1]
        net.fc.weight.copy_(torch.from_numpy(fc_w))
        net.fc.bias.copy_(torch.from_numpy(fc_b))

        stats = {}
        hooks = [
            c.register_forward_hook(
                lambda mod, i, o: stats.__setitem__(mod, (o.mean(dim=(0, 2, 3)), o.var(dim=(0, 2, 3)) + 1e-5))
            )
            for c in convs
        ]
        net.eval()
        net(calibration)
        for h in hooks:
            h.remove()
        for conv in convs:
            mean, var = stats[conv]
            bn = bn_of[conv]
            bn.running_mean.copy_(mean)
            bn.running_var.copy_(var - bn.eps)
            bn.weight.copy_(var.sqrt())
            bn.bias.copy_(mean + biases[conv])
