#!/usr/bin/env python3
"""Check the pre-download speed estimate against real runs.

The estimate (app/library/speed.py) comes from a copy-bandwidth probe and the
starter model's measured speed. To check it on more than the point it was
calibrated on, this script re-quantizes the starter model with llama.cpp's own
quantizer into larger files (Q8_0, F16: more bytes per token), then measures
each through Hearth's worker and prints estimate against measurement.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HEARTH_HOME", tempfile.mkdtemp(prefix="hearth-bench-"))

from app.library import speed  # noqa: E402
from app.gguf.header import human_bytes, read_gguf  # noqa: E402
from app.library.registry import starter_model_path  # noqa: E402
from app.library.shape import shape_from_header  # noqa: E402

FTYPES = {"Q8_0": 7, "F16": 1}


def quantize(source: Path, target: Path, ftype: int) -> None:
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    params.allow_requantize = True
    params.nthread = 2
    result = llama_cpp.llama_model_quantize(str(source).encode(), str(target).encode(), params)
    if result != 0:
        raise SystemExit(f"quantizing to {target.name} failed ({result})")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    starter = starter_model_path()
    profile = speed.machine_profile()
    print(f"machine profile: {profile.threads} generation thread(s), copy bandwidth {profile.bandwidth_gbs} GB/s, "
          f"starter {profile.starter_tps} tok/s = {profile.seconds_per_param * 1e12:.0f} ps per parameter per token")
    folder = Path(tempfile.mkdtemp(prefix="hearth-quants-"))
    files = {"Q4_1 (starter)": starter}
    for name, ftype in FTYPES.items():
        files[name] = folder / f"starter-{name}.gguf"
        quantize(starter, files[name], ftype)
    print(f"{'file':16} {'size':>10} {'estimate':>10} {'measured':>10} {'ratio':>7}   (estimate from size + type only)")
    ratios = []
    from app.library.shape import params_of_model, shape_for_file

    model_params = params_of_model([(path.stat().st_size, name.split()[0]) for name, path in files.items()])
    for name, path in files.items():
        measured = statistics.median(speed.measure_starter(path, profile.threads) for _ in range(args.rounds))
        quant = name.split()[0]
        estimate = profile.tokens_per_s(path.stat().st_size, quant)
        ratios.append(estimate / measured)
        from_header = profile.shape_tokens_per_s(shape_from_header(read_gguf(path)))
        one_count = profile.shape_tokens_per_s(shape_for_file(path.stat().st_size, quant, params=model_params))
        print(f"{name:16} {human_bytes(path.stat().st_size):>10} {estimate:>8.1f}/s {measured:>8.1f}/s "
              f"{estimate / measured:>7.2f}   (one parameter count for the model: {one_count / measured:.2f}; "
              f"from the header's shape: {from_header / measured:.2f})")
    print(f"estimate / measured: worst {max(ratios, key=lambda r: abs(r - 1)):.2f} (1.00 is exact)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
