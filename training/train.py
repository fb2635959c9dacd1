"""Train the facial-expression classifier on FER+ and export it to ONNX.

    python -m training.train --data DIR --out engine/weights/expression.onnx --epochs 200 --seed 0

``DIR`` holds ``train.npz`` + ``valid.npz`` (or the packed file from
``pack.py``). The whole data set is put on the device and augmented there in
batches (flip, affine, brightness/contrast, low-resolution, random erasing),
so no DataLoader workers are used. Targets are the FER+ vote distributions
(soft labels over the eight emotions). A fixed slice of TRAIN (``--holdout``)
is kept out of training and used only for model selection; VALID is never
trained on and only reported.

The exported graph takes float32 [N,1,48,48] grey pixels in [0,1] (input name
``input``), normalises them, averages the softmax of the image and of its
mirror image (test-time flip, ``--no-tta`` to disable), and returns ``probs``
float32 [N,8] in the order neutral, happy, surprise, sad, angry, disgust,
fear, contempt. A metrics JSON is written next to the ONNX file.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .data import (
    CLASSES,
    NEGATIVE_CLASSES,
    NUM_CLASSES,
    load_muxfe,
    load_split,
    majority_labels,
    muxfe_dev_mask,
    soft_labels,
)

# Pixel statistics of FER+ train (grey, [0,1]); baked into the exported graph.
PIXEL_MEAN = 0.5077
PIXEL_STD = 0.2550


# --------------------------------------------------------------------------- model
def conv_bn(cin: int, cout: int, stride: int = 1, k: int = 3) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, stride, k // 2, bias=False),
        nn.BatchNorm2d(cout),
    )


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__()
        self.c1 = conv_bn(cin, cout, stride)
        self.c2 = conv_bn(cout, cout)
        self.short = None
        if stride != 1 or cin != cout:
            self.short = conv_bn(cin, cout, stride, k=1)

    def forward(self, x):
        y = self.c2(F.relu(self.c1(x), inplace=True))
        s = x if self.short is None else self.short(x)
        return F.relu(y + s, inplace=True)


class ExpressionNet(nn.Module):
    """Compact ResNet-style CNN for 48x48 grey faces.

    ``stem`` channels at 48x48 (two 3x3 convs), then one stage per entry of
    ``widths``/``depths``: a stride-2 residual block followed by ``depth-1``
    stride-1 residual blocks; global average pooling, dropout, linear.
    """

    def __init__(
        self, stem=(32,), widths=(64, 128, 256), depths=(1, 2, 2), dropout=0.3, num_classes: int = NUM_CLASSES
    ):
        super().__init__()
        layers = []
        cin = 1
        for c in stem:
            layers += [conv_bn(cin, c), nn.ReLU(inplace=True)]
            cin = c
        self.stem = nn.Sequential(*layers)
        stages = []
        for w, d in zip(widths, depths, strict=True):
            blocks = [BasicBlock(cin, w, 2)] + [BasicBlock(w, w, 1) for _ in range(d - 1)]
            stages.append(nn.Sequential(*blocks))
            cin = w
        self.stages = nn.Sequential(*stages)
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(cin, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        # zero-init the last BN of each residual branch (stabler start)
        for m in self.modules():
            if isinstance(m, BasicBlock):
                nn.init.zeros_(m.c2[1].weight)

    def forward(self, x):  # x already normalised
        x = self.stages(self.stem(x))
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        return self.fc(self.drop(x))


ARCHS = {
    # name: kwargs of ExpressionNet
    "r3": dict(stem=(32,), widths=(64, 128, 256), depths=(1, 1, 1)),
    "r4": dict(stem=(32,), widths=(64, 128, 256, 256), depths=(1, 1, 1, 1)),
    "r4n": dict(stem=(24,), widths=(48, 96, 192, 384), depths=(1, 1, 1, 1)),
    "r4x": dict(stem=(32,), widths=(48, 128, 256, 384), depths=(1, 1, 1, 1)),
    "r4t": dict(stem=(16,), widths=(32, 64, 128, 256), depths=(1, 1, 1, 1)),
    "r3s": dict(stem=(32,), widths=(64, 128, 256), depths=(1, 2, 2)),
}


def flip_averaged_softmax(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The mean of the softmax of normalised faces ``x`` and of their mirror images (test-time flip)."""
    n = x.shape[0]
    p = torch.softmax(net(torch.cat([x, torch.flip(x, dims=[3])], dim=0)), dim=1)
    return 0.5 * (p[:n] + p[n:])


class ExportWrapper(nn.Module):
    """[N,1,48,48] in [0,1] -> softmax probs [N,8]; optional flip averaging."""

    def __init__(self, net: nn.Module, tta: bool = True):
        super().__init__()
        self.net = net
        self.tta = tta

    def forward(self, x):
        x = (x - PIXEL_MEAN) / PIXEL_STD
        if not self.tta:
            return torch.softmax(self.net(x), dim=1)
        return flip_averaged_softmax(self.net, x)


def count_macs(net: nn.Module) -> int:
    """Multiply-accumulates of one 1x48x48 forward pass (convs + linear)."""
    macs = []

    def conv_hook(m, inp, out):
        macs.append(out.numel() // out.shape[0] * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1])

    def lin_hook(m, inp, out):
        macs.append(m.in_features * m.out_features)

    hs = []
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            hs.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            hs.append(m.register_forward_hook(lin_hook))
    was = net.training
    net.eval()
    with torch.no_grad():
        net(torch.zeros(1, 1, 48, 48))
    net.train(was)
    for h in hs:
        h.remove()
    return int(sum(macs))


# --------------------------------------------------------------------------- augmentation (on device)
def augment(x: torch.Tensor, g: torch.Generator, lowres_size: int = 24) -> torch.Tensor:
    """x: float [B,1,48,48] in [0,1] on device. Returns an augmented copy.
    ``lowres_size`` (16-36, drawn per batch by the caller) is the side used by
    the low-resolution augmentation."""
    b, dev = x.shape[0], x.device

    def u(lo, hi, *shape):
        return torch.rand(*(shape or (b,)), generator=g, device=dev) * (hi - lo) + lo

    # horizontal flip
    flip = torch.rand(b, generator=g, device=dev) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    # affine: rotation +-15 deg, scale 0.85-1.15, translation +-10 %
    ang = u(-15.0, 15.0) * math.pi / 180
    scale = u(0.85, 1.15)
    tx, ty = u(-0.2, 0.2), u(-0.2, 0.2)  # normalised coords span 2 -> 10 % of the side
    cos, sin = torch.cos(ang) / scale, torch.sin(ang) / scale
    theta = torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    # low resolution (camera / small faces): down to 16-36 px and back, 20 % of images
    lowres = torch.rand(b, generator=g, device=dev) < 0.2
    size = int(lowres_size)
    small = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    small = F.interpolate(small, size=(48, 48), mode="bilinear", align_corners=False)
    x = torch.where(lowres[:, None, None, None], small, x)
    # brightness / contrast / gamma
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    c = u(0.6, 1.4)[:, None, None, None]
    br = u(-0.15, 0.15)[:, None, None, None]
    x = ((x - mean) * c + mean + br).clamp(0, 1)
    gamma = torch.exp(u(-0.4, 0.4))[:, None, None, None]
    x = x.clamp_min(1e-4) ** gamma
    # gaussian noise, 20 % of images
    noisy = (torch.rand(b, generator=g, device=dev) < 0.2)[:, None, None, None]
    x = torch.where(noisy, x + 0.03 * torch.randn(x.shape, generator=g, device=dev), x).clamp(0, 1)
    # random erasing, p=0.5, 2-20 % of the area, aspect 0.3-3.3, random grey fill
    er = torch.rand(b, generator=g, device=dev) < 0.5
    area = u(0.02, 0.2) * 48 * 48
    logr = u(math.log(0.3), math.log(3.3))
    h = (area * torch.exp(logr)).sqrt().clamp(1, 47)
    w = (area / torch.exp(logr)).sqrt().clamp(1, 47)
    y0 = u(0, 1) * (48 - h)
    x0 = u(0, 1) * (48 - w)
    ar = torch.arange(48, device=dev, dtype=x.dtype)
    my = (ar[None, :] >= y0[:, None]) & (ar[None, :] < (y0 + h)[:, None])
    mx = (ar[None, :] >= x0[:, None]) & (ar[None, :] < (x0 + w)[:, None])
    m = (my[:, :, None] & mx[:, None, :] & er[:, None, None])[:, None]
    fill = u(0, 1)[:, None, None, None].expand_as(x)
    return torch.where(m, fill, x)


def webcam_augment(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """What a laptop camera adds to a face: defocus blur, stronger sensor noise and thin dark occluders
    (glasses frames, a headset band). JPEG artefacts come from the pre-compressed copies (``jpeg_copies``)."""
    b, dev = x.shape[0], x.device
    # gaussian blur, sigma 0.5-1.5 px, on 25 % of images (one sigma per batch keeps it one conv)
    sigma = float(torch.empty(()).uniform_(0.5, 1.5, generator=None))
    ar = torch.arange(-2, 3, device=dev, dtype=x.dtype)
    k1 = torch.exp(-(ar**2) / (2 * sigma**2))
    k1 = k1 / k1.sum()
    blurred = F.conv2d(F.pad(x, (2, 2, 2, 2), mode="replicate"), (k1[:, None] * k1[None, :])[None, None])
    pick = (torch.rand(b, generator=g, device=dev) < 0.25)[:, None, None, None]
    x = torch.where(pick, blurred, x)
    # sensor noise with a random level on 30 %
    level = (torch.rand(b, generator=g, device=dev) * 0.04 + 0.01)[:, None, None, None]
    noisy = (torch.rand(b, generator=g, device=dev) < 0.3)[:, None, None, None]
    x = torch.where(noisy, x + level * torch.randn(x.shape, generator=g, device=dev), x).clamp(0, 1)
    # a thin dark horizontal or slanted band (glasses frame, headset), 15 %
    band = torch.rand(b, generator=g, device=dev) < 0.15
    y0 = torch.rand(b, generator=g, device=dev) * 30 + 8
    slope = (torch.rand(b, generator=g, device=dev) - 0.5) * 0.6
    thick = torch.rand(b, generator=g, device=dev) * 2 + 1
    yy = torch.arange(48, device=dev, dtype=x.dtype)[:, None]
    xx = torch.arange(48, device=dev, dtype=x.dtype)[None, :]
    dist = (yy[None] - (y0[:, None, None] + slope[:, None, None] * (xx[None] - 24))).abs()
    mask = (dist < thick[:, None, None]) & band[:, None, None]
    shade = (torch.rand(b, generator=g, device=dev) * 0.2)[:, None, None, None]
    return torch.where(mask[:, None], shade.expand_as(x), x)


def jpeg_copies(images: np.ndarray, seed: int) -> np.ndarray:
    """Each face re-encoded once as JPEG at a random quality 40-90 (webcam streams are JPEG here)."""
    import simplejpeg

    rng = np.random.default_rng(seed)
    out = np.empty_like(images)
    for i, img in enumerate(images):
        data = simplejpeg.encode_jpeg(
            np.ascontiguousarray(img[:, :, None]), quality=int(rng.integers(40, 91)), colorspace="GRAY"
        )
        out[i] = simplejpeg.decode_jpeg(data, colorspace="GRAY")[:, :, 0]
    return out


# --------------------------------------------------------------------------- metrics
def classification_metrics(y_true: np.ndarray, probs: np.ndarray) -> dict:
    """Metrics on majority-labelled images. Predicted class = argmax of probs;
    predicted negative valence = argmax class in the negative set."""
    keep = y_true >= 0
    y, p = y_true[keep], probs[keep].argmax(1)
    cm = np.zeros((NUM_CLASSES, NUM_CLASSES), np.int64)
    np.add.at(cm, (y, p), 1)
    per = {}
    for k, name in enumerate(CLASSES):
        tp = cm[k, k]
        prec = tp / max(cm[:, k].sum(), 1)
        rec = tp / max(cm[k, :].sum(), 1)
        f1 = 2 * prec * rec / max(prec + rec, 1e-12)
        per[name] = dict(precision=float(prec), recall=float(rec), f1=float(f1), support=int(cm[k, :].sum()))
    tn_, pn_ = np.isin(y, NEGATIVE_CLASSES), np.isin(p, NEGATIVE_CLASSES)
    tp = int((tn_ & pn_).sum())
    pn = tp / max(int(pn_.sum()), 1)
    rn = tp / max(int(tn_.sum()), 1)
    return dict(
        n=int(keep.sum()),
        accuracy=float((y == p).mean()),
        f1_negative=float(2 * pn * rn / max(pn + rn, 1e-12)),
        precision_negative=float(pn),
        recall_negative=float(rn),
        negative_support=int(tn_.sum()),
        macro_f1=float(np.mean([v["f1"] for v in per.values() if v["support"] > 0])),
        per_class=per,
        confusion_matrix=cm.tolist(),
        confusion_matrix_order="rows = true, columns = predicted; " + ", ".join(CLASSES),
    )


@torch.no_grad()
def predict(model: nn.Module, x_u8: torch.Tensor, bs: int = 2048) -> np.ndarray:
    model.eval()
    out = []
    for i in range(0, len(x_u8), bs):
        xb = x_u8[i : i + bs].float().div_(255.0).unsqueeze(1)
        out.append(model(xb).float().cpu())
    return torch.cat(out).numpy()


# --------------------------------------------------------------------------- training
def set_seed(seed: int) -> None:
    import random

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True
    torch.use_deterministic_algorithms(True, warn_only=True)


def hardware() -> str:
    if torch.cuda.is_available():
        return f"cuda: {torch.cuda.get_device_name(0)}"
    return f"cpu: {platform.processor() or platform.machine()} x{os.cpu_count()}"


def export_onnx(wrapper: nn.Module, path: Path) -> None:
    wrapper = wrapper.cpu().eval()
    dummy = torch.rand(2, 1, 48, 48)
    kw = dict(
        input_names=["input"],
        output_names=["probs"],
        opset_version=17,
        dynamic_axes={"input": {0: "N"}, "probs": {0: "N"}},
        do_constant_folding=True,
    )
    try:
        torch.onnx.export(wrapper, (dummy,), str(path), dynamo=False, **kw)
    except TypeError:  # older torch without the dynamo flag
        torch.onnx.export(wrapper, (dummy,), str(path), **kw)


def onnx_parity(wrapper: nn.Module, path: Path, x: np.ndarray) -> float:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    wrapper = wrapper.cpu().eval()
    with torch.no_grad():
        ref = wrapper(torch.from_numpy(x)).numpy()
    got = sess.run(["probs"], {"input": x})[0]
    got1 = sess.run(["probs"], {"input": x[:1]})[0]  # batch 1 must work too
    assert got.shape == (len(x), NUM_CLASSES) and got1.shape == (1, NUM_CLASSES)
    return float(max(np.abs(ref - got).max(), np.abs(ref[:1] - got1).max()))


def load_exported(net: nn.Module, path: Path, images: np.ndarray) -> nn.Module:
    """``net`` with the weights of an exported ONNX model, its BatchNorms calibrated on about 2,048 of
    ``images`` (training.warmstart)."""
    from .warmstart import load_onnx_weights

    calib = torch.from_numpy(images[:: max(len(images) // 2048, 1)][:2048]).float().div(255.0).unsqueeze(1)
    load_onnx_weights(net, path, (calib - PIXEL_MEAN) / PIXEL_STD)
    return net


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", default="engine/weights/expression.onnx")
    ap.add_argument("--epochs", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--arch", default="r4t", choices=sorted(ARCHS))
    ap.add_argument("--batch-size", type=int, default=512)
    ap.add_argument("--lr", type=float, default=0.4, help="peak SGD (nesterov) learning rate")
    ap.add_argument("--wd", type=float, default=5e-4)
    ap.add_argument("--ema", type=float, default=0.999, help="EMA decay of the weights (exported)")
    ap.add_argument("--holdout", type=int, default=2000, help="train images held out for model selection")
    ap.add_argument("--limit", type=int, default=0, help="use only this many train images (smoke tests)")
    ap.add_argument("--no-tta", action="store_true", help="export without test-time flip averaging")
    ap.add_argument("--save-weights", action="store_true", help="also save the EMA state_dict next to the ONNX (.pt)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--init", help="warm start from this exported ONNX model (same --arch)")
    ap.add_argument("--muxfe", help="directory of muxfe_dev.npz: its person-disjoint train part is mixed in")
    ap.add_argument("--muxfe-weight", type=float, default=0.5, help="loss weight of a muxfe face (noisy labels)")
    ap.add_argument("--muxfe-smoothing", type=float, default=0.1, help="label smoothing of the muxfe one-hot labels")
    ap.add_argument("--webcam-aug", action="store_true", help="add JPEG, blur, noise and thin-occluder augmentation")
    ap.add_argument("--eval-every", type=int, default=10, help="epochs between holdout evaluations")
    ap.add_argument(
        "--logit-adjust",
        type=float,
        default=0.0,
        help="train on logits + TAU * log(class prior) (Menon et al. 2021): the exported softmax is then "
        "balanced against the training mix's lean to neutral",
    )
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    ap.add_argument(
        "--teacher",
        help="distil this exported ONNX model (of --teacher-arch, loaded like --init): its flip-averaged softmax "
        "on the same augmented batch is the target, mixed with the labels by --distill",
    )
    ap.add_argument("--teacher-arch", choices=sorted(ARCHS), help="--teacher's architecture (default: --arch)")
    ap.add_argument("--distill", type=float, default=0.7, help="--teacher: weight of the teacher's target (0-1)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    t0 = time.time()
    set_seed(args.seed)
    dev = torch.device(args.device)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)

    # ---- data
    tr_img, tr_votes = load_split(args.data, "train")
    va_img, va_votes = load_split(args.data, "valid")
    soft, keep = soft_labels(tr_votes)
    tr_major = majority_labels(tr_votes)
    rng = np.random.default_rng(12345)  # fixed split, independent of --seed
    perm = rng.permutation(len(tr_img))
    ho_idx = np.sort(perm[: args.holdout])
    fit_idx = np.sort(perm[args.holdout :])
    fit_idx = fit_idx[keep[fit_idx]]
    if args.limit:
        fit_idx = fit_idx[: args.limit]
    print(
        f"train {len(fit_idx)} (of {len(tr_img)}; {int((~keep).sum())} without emotion votes), "
        f"holdout {len(ho_idx)}, valid {len(va_img)} "
        f"({int((majority_labels(va_votes) >= 0).sum())} majority-labelled)",
        flush=True,
    )
    fit_images, fit_targets = tr_img[fit_idx], soft[fit_idx].astype(np.float32)
    fit_weights = np.ones(len(fit_idx), np.float32)
    mx_dev = None
    if args.muxfe:
        mx_img, mx_lab, mx_person = load_muxfe(args.muxfe)
        dev_mask = muxfe_dev_mask(mx_person)
        use = ~dev_mask & (mx_lab >= 0)
        smooth = args.muxfe_smoothing
        onehot = np.full((int(use.sum()), NUM_CLASSES), smooth / NUM_CLASSES, np.float32)
        onehot[np.arange(len(onehot)), mx_lab[use]] += 1.0 - smooth
        fit_images = np.concatenate([fit_images, mx_img[use]])
        fit_targets = np.concatenate([fit_targets, onehot])
        fit_weights = np.concatenate([fit_weights, np.full(len(onehot), args.muxfe_weight, np.float32)])
        mx_dev = (torch.from_numpy(mx_img[dev_mask]).to(dev), mx_lab[dev_mask])
        print(f"muxfe: {int(use.sum())} train faces mixed in, {int(dev_mask.sum())} dev faces kept out", flush=True)
    x_fit = torch.from_numpy(fit_images).to(dev)
    x_fit_jpeg = torch.from_numpy(jpeg_copies(fit_images, args.seed)).to(dev) if args.webcam_aug else None
    y_fit = torch.from_numpy(fit_targets).to(dev)
    w_fit = torch.from_numpy(fit_weights).to(dev)
    n_fit = len(fit_images)
    prior = (fit_targets * fit_weights[:, None]).sum(0) / fit_weights.sum()
    log_prior_shift = torch.from_numpy(args.logit_adjust * np.log(np.clip(prior, 1e-4, None))).float().to(dev)
    x_ho = torch.from_numpy(tr_img[ho_idx]).to(dev)
    x_va = torch.from_numpy(va_img).to(dev)

    # ---- model
    net = ExpressionNet(**ARCHS[args.arch])
    params = sum(p.numel() for p in net.parameters())
    macs = count_macs(net)
    print(
        f"arch {args.arch}: {params / 1e6:.3f} M params, {macs / 1e6:.1f} M MACs per image "
        f"({2 * macs / 1e6:.0f} MFLOPs; x2 with flip TTA)",
        flush=True,
    )
    if args.init:
        load_exported(net, Path(args.init), fit_images)
        print(f"warm start from {args.init}", flush=True)
    net = net.to(dev).to(memory_format=torch.channels_last)
    teacher = None
    teacher_arch = (args.teacher_arch or args.arch) if args.teacher else None
    if args.teacher:
        teacher = load_exported(ExpressionNet(**ARCHS[teacher_arch]), Path(args.teacher), fit_images)
        teacher = teacher.to(dev).to(memory_format=torch.channels_last).eval()
        print(f"distilling {args.teacher} (flip-averaged) at weight {args.distill}", flush=True)
    ema = torch.optim.swa_utils.AveragedModel(
        net, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(args.ema), use_buffers=True
    )

    decay, no_decay = [], []
    for p in net.parameters():
        (no_decay if p.ndim <= 1 else decay).append(p)
    opt = torch.optim.SGD(
        [{"params": decay, "weight_decay": args.wd}, {"params": no_decay, "weight_decay": 0.0}],
        lr=args.lr,
        momentum=0.9,
        nesterov=True,
    )
    steps_per_epoch = max(n_fit // args.batch_size, 1)
    total = steps_per_epoch * args.epochs
    warm = max(int(0.03 * total), 1)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt,
        lambda s: (s + 1) / warm if s < warm else 0.5 * (1 + math.cos(math.pi * (s - warm) / max(total - warm, 1))),
    )
    use_amp = dev.type == "cuda"
    amp_dtype = torch.bfloat16
    g = torch.Generator(device=dev)
    g.manual_seed(args.seed)
    host_rng = np.random.default_rng(args.seed)  # per-batch scalars, no device sync
    ho_major = tr_major[ho_idx]

    log = []
    for epoch in range(args.epochs):
        net.train()
        te = time.time()
        order = torch.randperm(n_fit, generator=g, device=dev)
        tot_loss = torch.zeros((), device=dev)
        for s in range(steps_per_epoch):
            idx = order[s * args.batch_size : (s + 1) * args.batch_size]
            xb = x_fit[idx]
            if x_fit_jpeg is not None:
                use_jpeg = torch.rand(len(idx), generator=g, device=dev) < 0.4
                xb = torch.where(use_jpeg[:, None, None], x_fit_jpeg[idx], xb)
            xb = xb.float().div_(255.0).unsqueeze(1)
            with torch.no_grad():
                xb = augment(xb, g, int(host_rng.integers(16, 37)))
                if args.webcam_aug:
                    xb = webcam_augment(xb, g)
                xb = ((xb - PIXEL_MEAN) / PIXEL_STD).contiguous(memory_format=torch.channels_last)
            with torch.autocast(dev.type, dtype=amp_dtype, enabled=use_amp):
                logits = net(xb)
            per_face = -(y_fit[idx] * F.log_softmax(logits.float() + log_prior_shift, 1)).sum(1)
            if teacher is not None:
                # The teacher's exported function (flip averaging included) on the same faces: a student
                # without the flip pass learns what the two passes agree on. The teacher's softmax is already
                # the balanced one, so it is matched without the prior shift.
                with torch.no_grad():
                    target = flip_averaged_softmax(teacher, xb).float()
                mimic = -(target * F.log_softmax(logits.float(), 1)).sum(1)
                per_face = (1 - args.distill) * per_face + args.distill * mimic
            loss = (per_face * w_fit[idx]).sum() / w_fit[idx].sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            ema.update_parameters(net)
            tot_loss += loss.detach()
        msg = (
            f"epoch {epoch + 1}/{args.epochs} loss {tot_loss.item() / steps_per_epoch:.4f} "
            f"lr {sched.get_last_lr()[0]:.4f} {time.time() - te:.1f}s"
        )
        if (epoch + 1) % args.eval_every == 0 or epoch + 1 == args.epochs:
            wrap = ExportWrapper(ema.module, tta=not args.no_tta).to(dev)
            m = classification_metrics(ho_major, predict(wrap, x_ho))
            msg += f" | holdout(ema) acc {m['accuracy']:.4f} f1neg {m['f1_negative']:.4f}"
            entry = dict(epoch=epoch + 1, holdout_accuracy=m["accuracy"], holdout_f1_negative=m["f1_negative"])
            if mx_dev is not None:
                md = classification_metrics(mx_dev[1], predict(wrap, mx_dev[0]))
                msg += f" | muxfe dev acc {md['accuracy']:.4f} f1neg {md['f1_negative']:.4f}"
                entry.update(muxfe_dev_accuracy=md["accuracy"], muxfe_dev_f1_negative=md["f1_negative"])
            log.append(entry)
            # a run that must be cut short can still be exported from its last evaluated EMA weights
            torch.save({k: v.cpu() for k, v in ema.module.state_dict().items()}, out.with_suffix(".ckpt.pt"))
        print(msg, flush=True)
    train_time = time.time() - t0

    # ---- evaluate (EMA weights are the exported ones)
    final = ema.module.float().eval()
    wrap = ExportWrapper(final, tta=not args.no_tta).to(dev).eval()
    ho_m = classification_metrics(ho_major, predict(wrap, x_ho))
    va_m = classification_metrics(majority_labels(va_votes), predict(wrap, x_va))

    # ---- export + parity
    export_onnx(wrap, out)
    sample = np.random.default_rng(0).random((16, 1, 48, 48), dtype=np.float32)
    sample[:8] = va_img[:8, None].astype(np.float32) / 255.0
    diff = onnx_parity(wrap, out, sample)
    print(f"ONNX parity max abs diff {diff:.2e}", flush=True)
    if diff >= 1e-4:
        raise SystemExit(f"ONNX parity failed: {diff}")

    metrics = dict(
        model=out.name,
        arch=args.arch,
        arch_kwargs=ARCHS[args.arch],
        params=int(params),
        macs_per_forward=int(macs),
        mflops_per_face=round(2 * macs * (1 if args.no_tta else 2) / 1e6, 1),
        test_time_flip=not args.no_tta,
        epochs=args.epochs,
        seed=args.seed,
        batch_size=args.batch_size,
        lr=args.lr,
        weight_decay=args.wd,
        ema=args.ema,
        train_images=int(n_fit),
        warm_start=args.init,
        muxfe_train=bool(args.muxfe),
        muxfe_weight=args.muxfe_weight if args.muxfe else None,
        webcam_augmentation=args.webcam_aug,
        logit_adjust=args.logit_adjust,
        teacher=args.teacher,
        teacher_arch=teacher_arch,
        distill=args.distill if args.teacher else None,
        holdout_images=int(len(ho_idx)),
        train_time_s=round(train_time, 1),
        hardware=hardware(),
        torch=torch.__version__,
        onnx_parity_max_abs_diff=diff,
        negative_classes=[CLASSES[k] for k in NEGATIVE_CLASSES],
        negative_rule="predicted negative = argmax class is one of the negative classes",
        classes=list(CLASSES),
        holdout=ho_m,
        holdout_log=log,
        **va_m,  # valid metrics at top level
        dataset="FER+ valid (majority-labelled images)",
    )
    if args.save_weights:
        torch.save({k: v.cpu() for k, v in final.state_dict().items()}, out.with_suffix(".pt"))
    mpath = out.with_name(out.stem + ".metrics.json")
    mpath.write_text(json.dumps(metrics, indent=2) + "\n")
    print(
        f"valid: n {va_m['n']} acc {va_m['accuracy']:.4f} f1neg {va_m['f1_negative']:.4f} "
        f"P {va_m['precision_negative']:.4f} R {va_m['recall_negative']:.4f} | "
        + " ".join(f"{k}:{v['f1']:.3f}" for k, v in va_m["per_class"].items()),
        flush=True,
    )
    print(
        f"holdout: acc {ho_m['accuracy']:.4f} f1neg {ho_m['f1_negative']:.4f}; wrote {out} and {mpath}; "
        f"total {time.time() - t0:.0f}s",
        flush=True,
    )
    return metrics


if __name__ == "__main__":
    main()
