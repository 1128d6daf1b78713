"""OpenBLAS side of the honest-peak probe (bench/src/peak): chained fp32 GEMMs through PyTorch
(Debian python3-torch, OpenBLAS), the same shapes and chain lengths as the onnxruntime side,
outputs written into preallocated buffers (`torch.mm(..., out=)`), best of `repeats` timed runs
after one warm-up.

Usage: gemm_peak.py '<json: {"threads": 2, "repeats": 5, "shapes": [{"name", "m", "k", "n", "chain"}]}>'
Prints one JSON line: {"torch": version, "threads": n, "seconds": {name: [run seconds...]}}.
"""
import json
import sys
import time

import torch


def main():
    spec = json.loads(sys.argv[1])
    torch.set_num_threads(spec["threads"])
    torch.set_grad_enabled(False)
    generator = torch.Generator().manual_seed(0)
    seconds = {}
    for shape in spec["shapes"]:
        m, k, n, chain = shape["m"], shape["k"], shape["n"], shape["chain"]
        # Scaled so the chain's values stay O(1) (no overflow, no denormals).
        a = torch.rand(m, k, generator=generator) * 2 - 1
        forward = (torch.rand(k, n, generator=generator) * 2 - 1) / k**0.5
        back = (torch.rand(n, k, generator=generator) * 2 - 1) / n**0.5
        wide = torch.empty(m, n)
        narrow = torch.empty(m, k)

        def run():
            torch.mm(a, forward, out=wide)
            for link in range(1, chain):
                if link % 2 == 1:
                    torch.mm(wide, back, out=narrow)
                else:
                    torch.mm(narrow, forward, out=wide)

        run()
        samples = []
        for _ in range(spec["repeats"]):
            start = time.perf_counter()
            run()
            samples.append(time.perf_counter() - start)
        seconds[shape["name"]] = samples
        del a, forward, back, wide, narrow
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "seconds": seconds}))


if __name__ == "__main__":
    main()
