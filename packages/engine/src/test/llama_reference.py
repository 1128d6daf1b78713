"""PyTorch reference of the engine's Llama-style decoder (test/benchmark reference only).

Weights are [in, out] like the engine's layout. Used by the parity test (logits and every
parameter gradient) and by bench/src/engine. Run with Debian's /usr/bin/python3 (python3-torch).
"""
import json
import math
import sys

import numpy as np
import torch


def rms_norm(x, weight, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def parameter_specs(c):
    d, hd = c["hidden_size"], c["head_dim"]
    specs = [("model.embed_tokens.weight", [c["vocab_size"], d])]
    for layer in range(c["num_hidden_layers"]):
        p = f"model.layers.{layer}"
        specs += [
            (f"{p}.input_layernorm.weight", [d]),
            (f"{p}.self_attn.q_proj.weight", [d, c["num_attention_heads"] * hd]),
            (f"{p}.self_attn.k_proj.weight", [d, c["num_key_value_heads"] * hd]),
            (f"{p}.self_attn.v_proj.weight", [d, c["num_key_value_heads"] * hd]),
            (f"{p}.self_attn.o_proj.weight", [c["num_attention_heads"] * hd, d]),
            (f"{p}.post_attention_layernorm.weight", [d]),
            (f"{p}.mlp.gate_proj.weight", [d, c["intermediate_size"]]),
            (f"{p}.mlp.up_proj.weight", [d, c["intermediate_size"]]),
            (f"{p}.mlp.down_proj.weight", [c["intermediate_size"], d]),
        ]
    specs.append(("model.norm.weight", [d]))
    if not c["tie_word_embeddings"]:
        specs.append(("lm_head.weight", [d, c["vocab_size"]]))
    return specs


def init_parameters(c, seed=0):
    generator = torch.Generator().manual_seed(seed)
    params = {}
    for name, shape in parameter_specs(c):
        if len(shape) == 1:
            params[name] = torch.ones(shape)
        else:
            params[name] = torch.randn(shape, generator=generator) * 0.02
        params[name].requires_grad_(True)
    return params


def hidden_states(c, P, input_ids, position_ids, segment_ids):
    b, t = input_ids.shape
    h, kv, hd = c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]
    groups = h // kv
    inverse_frequency = torch.tensor(
        [1.0 / c["rope_theta"] ** (2 * i / hd) for i in range(hd // 2)], dtype=torch.float64
    ).float()
    angles = position_ids.float()[:, :, None] * inverse_frequency[None, None, :]
    emb = torch.cat((angles, angles), dim=-1)[:, None]  # [b, 1, t, hd]
    cos, sin = emb.cos(), emb.sin()
    allowed = (segment_ids[:, :, None] == segment_ids[:, None, :]) & (position_ids[:, None, :] <= position_ids[:, :, None])
    bias = torch.where(allowed, torch.tensor(0.0), torch.tensor(-1e9))[:, None]  # [b, 1, t, t]
    scale = 1.0 / math.sqrt(hd)
    x = P["model.embed_tokens.weight"][input_ids]
    for layer in range(c["num_hidden_layers"]):
        p = f"model.layers.{layer}"
        n = rms_norm(x, P[f"{p}.input_layernorm.weight"], c["rms_norm_eps"])
        q = (n @ P[f"{p}.self_attn.q_proj.weight"]).view(b, t, h, hd).transpose(1, 2)
        k = (n @ P[f"{p}.self_attn.k_proj.weight"]).view(b, t, kv, hd).transpose(1, 2)
        v = (n @ P[f"{p}.self_attn.v_proj.weight"]).view(b, t, kv, hd).transpose(1, 2)
        q = (q * cos + rotate_half(q) * sin) * scale
        k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(groups, dim=1)
        v = v.repeat_interleave(groups, dim=1)
        attention = torch.softmax(q @ k.transpose(-1, -2) + bias, dim=-1)
        o = (attention @ v).transpose(1, 2).reshape(b, t, h * hd)
        x = x + o @ P[f"{p}.self_attn.o_proj.weight"]
        n = rms_norm(x, P[f"{p}.post_attention_layernorm.weight"], c["rms_norm_eps"])
        gate = n @ P[f"{p}.mlp.gate_proj.weight"]
        up = n @ P[f"{p}.mlp.up_proj.weight"]
        x = x + (torch.nn.functional.silu(gate) * up) @ P[f"{p}.mlp.down_proj.weight"]
    return rms_norm(x, P["model.norm.weight"], c["rms_norm_eps"])


def logits_of(c, P, hidden):
    if c["tie_word_embeddings"]:
        return hidden @ P["model.embed_tokens.weight"].t()
    return hidden @ P["lm_head.weight"]


def masked_mean_loss(logits, labels, mask):
    log_probs = torch.log_softmax(logits, dim=-1).gather(-1, labels[..., None])[..., 0]
    return -(log_probs * mask).sum() / mask.sum().clamp(min=1)


def parity(directory):
    """Reads meta.json + *.bin written by the parity test, writes logits.bin and grads.bin."""
    with open(f"{directory}/meta.json") as handle:
        meta = json.load(handle)
    c = meta["config"]
    flat = torch.from_numpy(np.fromfile(f"{directory}/parameters.bin", dtype=np.float32))
    P = {}
    for entry in meta["layout"]:
        value = flat[entry["offset"] : entry["offset"] + entry["size"]].clone().view(entry["shape"])
        P[entry["name"]] = value.requires_grad_(True)
    shape = (meta["batch"], meta["sequence"])

    def ints(name):
        return torch.from_numpy(np.fromfile(f"{directory}/{name}.bin", dtype=np.int64)).view(shape)

    mask = torch.from_numpy(np.fromfile(f"{directory}/loss_mask.bin", dtype=np.float32)).view(shape)
    hidden = hidden_states(c, P, ints("input_ids"), ints("position_ids"), ints("segment_ids"))
    logits = logits_of(c, P, hidden)
    loss = masked_mean_loss(logits, ints("labels"), mask)
    loss.backward()
    logits.detach().numpy().astype(np.float32).tofile(f"{directory}/torch_logits.bin")
    grads = np.zeros(flat.shape[0], dtype=np.float32)
    for entry in meta["layout"]:
        grads[entry["offset"] : entry["offset"] + entry["size"]] = P[entry["name"]].grad.numpy().reshape(-1)
    grads.tofile(f"{directory}/torch_grads.bin")
    print(json.dumps({"loss": loss.item()}))


if __name__ == "__main__":
    torch.set_num_threads(1)
    parity(sys.argv[1])
