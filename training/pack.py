"""Re-encode FER+ train.npz + valid.npz into one compact, lossless file.

The GPU machine only sees the working tree (<= 64 MiB), so the raw ~74 MB of
uint8 pixels are stored as MED-predictor residuals compressed with lzma
(~68 % of raw). ``data.load_split`` reads the result transparently.

    python -m training.pack --src /work/shared/data/ferplus --dst .traindata

The destination ``.traindata/`` must never be committed (it is listed in
``.git/info/exclude``); FER2013 pixels have no open licence.
"""

from __future__ import annotations

import argparse
import lzma
from pathlib import Path

import numpy as np

from .data import PACKED_NAME, load_split, med_decode, med_encode


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--src", default="/work/shared/data/ferplus")
    ap.add_argument("--dst", default=".traindata")
    ap.add_argument("--splits", default="train,valid")
    args = ap.parse_args(argv)

    out = {}
    for split in args.splits.split(","):
        images, votes = load_split(args.src, split)
        res = med_encode(images)
        assert np.array_equal(med_decode(res[:64]), images[:64]), "MED round trip failed"
        blob = lzma.compress(res.tobytes(), preset=9 | lzma.PRESET_EXTREME)
        out[f"{split}_images_medlzma"] = np.frombuffer(blob, np.uint8)
        out[f"{split}_shape"] = np.array(images.shape, np.int64)
        out[f"{split}_votes"] = votes
        print(f"{split}: {images.shape[0]} images, {images.nbytes / 1e6:.1f} MB raw -> {len(blob) / 1e6:.1f} MB")
    dst = Path(args.dst)
    dst.mkdir(parents=True, exist_ok=True)
    path = dst / PACKED_NAME
    np.savez(path, **out)  # payload already compressed
    print(f"wrote {path} ({path.stat().st_size / 2**20:.1f} MiB)")
    # full verification
    for split in args.splits.split(","):
        a, v = load_split(args.src, split)
        b, w = load_split(dst, split)
        assert np.array_equal(a, b) and np.array_equal(v, w), split
    print("verified lossless")


if __name__ == "__main__":
    main()
