"""PyTorch CPU reference for bench/engine: the same Llama-style model (shared with the engine's
parity test), fwd+bwd timing and a torch.optim.AdamW step, same shapes and threads.

Usage: torch_train.py '<json: config, batch, sequence, repeats, threads>'
Prints one JSON line: fwd_bwd_seconds, optimizer_seconds, tokens_per_s, peak_rss_mb.
"""
import json
import os
import resource
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "packages", "engine", "src", "test"))

import torch  # noqa: E402
from llama_reference import hidden_states, init_parameters, logits_of, masked_mean_loss  # noqa: E402


def main():
    spec = json.loads(sys.argv[1])
    torch.set_num_threads(spec["threads"])
    c = spec["config"]
    c.setdefault("num_key_value_heads", c["num_attention_heads"])
    c.setdefault("head_dim", c["hidden_size"] // c["num_attention_heads"])
    b, t = spec["batch"], spec["sequence"]
    P = init_parameters(c, seed=0)
    optimizer = torch.optim.AdamW(list(P.values()), lr=1e-4, weight_decay=0.0)
    generator = torch.Generator().manual_seed(1)
    input_ids = torch.randint(0, c["vocab_size"], (b, t), generator=generator)
    labels = torch.randint(0, c["vocab_size"], (b, t), generator=generator)
    positions = torch.arange(t)[None].expand(b, t)
    segments = torch.zeros(b, t, dtype=torch.long)
    mask = torch.ones(b, t)

    def forward_backward():
        optimizer.zero_grad(set_to_none=True)
        logits = logits_of(c, P, hidden_states(c, P, input_ids, positions, segments))
        loss = masked_mean_loss(logits, labels, mask)
        loss.backward()
        return loss.item()

    forward_backward()
    optimizer.step()
    fwd_bwd, steps = [], []
    for _ in range(spec["repeats"]):
        start = time.perf_counter()
        forward_backward()
        middle = time.perf_counter()
        optimizer.step()
        end = time.perf_counter()
        fwd_bwd.append(middle - start)
        steps.append(end - middle)
    fb = statistics.median(fwd_bwd)
    print(
        json.dumps(
            {
                "fwd_bwd_seconds": fb,
                "optimizer_seconds": statistics.median(steps),
                "tokens_per_s": b * t / fb,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "torch": torch.__version__,
                "threads": torch.get_num_threads(),
            }
        )
    )


if __name__ == "__main__":
    main()
