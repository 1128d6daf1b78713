"""PyTorch eager reference for bench/generate: prefill + greedy decode with a KV cache.

Loads the Hugging Face folder the benchmark wrote (same weights as the engine) with the plain
torch implementation in packages/engine/src/test/hf_reference.py (transformers is not
installed with Debian's torch 1.13), then times prefill of a [batch, prompt] block and
`steps` single-token decode steps, each a forward over the new token with the cache
(keys/values concatenated per step, as transformers' DynamicCache does).

Usage: torch_generate.py DIR BATCH PROMPT STEPS REPEATS  → one JSON line.
"""
import json
import os
import statistics
import sys
import time

import torch

sys.path.insert(
    0,
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "packages", "engine", "src", "test"),
)
from hf_reference import Reference, load_folder  # noqa: E402


def main():
    directory, batch, prompt, steps, repeats = sys.argv[1], *map(int, sys.argv[2:6])
    torch.set_grad_enabled(False)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    config, weights = load_folder(directory)
    model = Reference(config, weights)
    vocab = config["vocab_size"]
    ids = torch.tensor([[(row * 31 + index * 17 + 3) % vocab for index in range(prompt)] for row in range(batch)])
    positions = torch.arange(prompt)[None].expand(batch, prompt)
    prefill_times, decode_times, tokens = [], [], None
    for repeat in range(repeats + 1):
        start = time.perf_counter()
        logits, cache = model.forward(ids, positions)
        prefill = time.perf_counter() - start
        out = []
        start = time.perf_counter()
        for step in range(steps):
            token = torch.argmax(logits[:, -1], dim=-1)
            out.append(token.tolist())
            if step == steps - 1:
                break
            logits, cache = model.forward(token[:, None], torch.full((batch, 1), prompt + step), cache)
        decode = time.perf_counter() - start
        if repeat > 0:  # the first run warms up
            prefill_times.append(prefill)
            decode_times.append(decode)
        tokens = [[step[row] for step in out] for row in range(batch)]
    prefill_seconds = statistics.median(prefill_times)
    decode_seconds = statistics.median(decode_times)
    print(
        json.dumps(
            {
                "prefill_seconds": prefill_seconds,
                "decode_seconds": decode_seconds,
                "prefill_tokens_per_second": batch * prompt / prefill_seconds,
                "decode_tokens_per_second": batch * (steps - 1) / decode_seconds,
                "greedy_tokens": tokens,
                "torch": torch.__version__,
            }
        )
    )


if __name__ == "__main__":
    main()
