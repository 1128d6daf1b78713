"""PyTorch reference of the Hugging Face decoder architectures the engine reads (test and
benchmark reference only; Debian /usr/bin/python3 with python3-torch, no transformers).

Written from the semantics of transformers' modeling_llama / modeling_qwen2 / modeling_olmo2:
- Llama (incl. SmolLM2): pre-norm blocks, RoPE rotate-half, GQA, SwiGLU; rope_scaling
  "llama3" rescales inv_freq (transformers' _compute_llama3_parameters).
- Qwen2/2.5: bias on q/k/v (not o).
- OLMo 2: no input norm; post_attention_layernorm on the attention output and
  post_feedforward_layernorm on the MLP output before each residual add; q_norm/k_norm are
  RMSNorms over the full projected width (heads * head_dim), applied before RoPE.
Weights are read from the folder's safetensors with a small independent parser (json + numpy),
in Hugging Face layout ([out, in], lm_head absent when tied).

Usage: hf_reference.py < requests.json > responses.json: a JSON list of requests
{"directory", "input_ids": [[...]], "greedy_steps": n}, answered in order by
{"logits": full logits of every row, "greedy": n greedy tokens per row (KV cache)}.
"""
import json
import math
import os
import struct
import sys

import numpy as np
import torch


def read_safetensors(path):
    with open(path, "rb") as handle:
        data = handle.read()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    start = 8 + length
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        raw = data[start + begin : start + end]
        if entry["dtype"] == "F32":
            array = np.frombuffer(raw, dtype="<f4")
        elif entry["dtype"] == "BF16":
            array = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        elif entry["dtype"] == "F16":
            array = np.frombuffer(raw, dtype="<f2").astype(np.float32)
        else:
            raise ValueError(entry["dtype"])
        tensors[name] = torch.from_numpy(array.copy().reshape(entry["shape"]))
    return tensors


def load_folder(directory):
    with open(os.path.join(directory, "config.json")) as handle:
        config = json.load(handle)
    index = os.path.join(directory, "model.safetensors.index.json")
    files = (
        sorted(set(json.load(open(index))["weight_map"].values()))
        if os.path.exists(index)
        else ["model.safetensors"]
    )
    weights = {}
    for name in files:
        weights.update(read_safetensors(os.path.join(directory, name)))
    return config, weights


def inverse_frequencies(config, head_dim):
    base = config.get("rope_theta", 10000.0)
    inv_freq = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))
    scaling = config.get("rope_scaling")
    if scaling:
        factor = scaling["factor"]
        low, high = scaling["low_freq_factor"], scaling["high_freq_factor"]
        old = scaling["original_max_position_embeddings"]
        low_wavelen, high_wavelen = old / low, old / high
        wavelen = 2 * math.pi / inv_freq
        scaled = torch.where(wavelen > low_wavelen, inv_freq / factor, inv_freq)
        smooth = (old / wavelen - low) / (high - low)
        smoothed = (1 - smooth) * scaled / factor + smooth * scaled
        medium = ~(wavelen < high_wavelen) * ~(wavelen > low_wavelen)
        inv_freq = torch.where(medium, smoothed, scaled)
    return inv_freq


def rms_norm(x, weight, eps):
    variance = x.pow(2).mean(-1, keepdim=True)
    return weight * (x * torch.rsqrt(variance + eps))


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class Reference:
    def __init__(self, config, weights):
        self.c = config
        self.w = weights
        self.kind = (config.get("architectures") or [config.get("model_type")])[0]
        self.heads = config["num_attention_heads"]
        self.kv = config.get("num_key_value_heads") or self.heads
        self.head_dim = config.get("head_dim") or config["hidden_size"] // self.heads
        self.eps = config.get("rms_norm_eps", 1e-6)
        self.inv_freq = inverse_frequencies(config, self.head_dim)
        self.post_norm = self.kind in ("Olmo2ForCausalLM", "olmo2")
        tied = config.get("tie_word_embeddings", False)
        self.head = weights["model.embed_tokens.weight"] if tied else weights["lm_head.weight"]

    def linear(self, x, name):
        y = x @ self.w[name + ".weight"].T
        bias = self.w.get(name + ".bias")
        return y if bias is None else y + bias

    def forward(self, input_ids, positions, cache=None):
        """input_ids/positions [b, t]; cache: list of (k, v) per layer [b, kv, past, hd] or None."""
        b, t = input_ids.shape
        h = self.w["model.embed_tokens.weight"][input_ids]
        freqs = positions[..., None].float() * self.inv_freq
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos()[:, None], emb.sin()[:, None]
        new_cache = []
        for layer in range(self.c["num_hidden_layers"]):
            p = f"model.layers.{layer}"
            residual = h
            x = h if self.post_norm else rms_norm(h, self.w[f"{p}.input_layernorm.weight"], self.eps)
            q = self.linear(x, f"{p}.self_attn.q_proj")
            k = self.linear(x, f"{p}.self_attn.k_proj")
            v = self.linear(x, f"{p}.self_attn.v_proj")
            if self.post_norm:
                q = rms_norm(q, self.w[f"{p}.self_attn.q_norm.weight"], self.eps)
                k = rms_norm(k, self.w[f"{p}.self_attn.k_norm.weight"], self.eps)
            q = q.view(b, t, self.heads, self.head_dim).transpose(1, 2)
            k = k.view(b, t, self.kv, self.head_dim).transpose(1, 2)
            v = v.view(b, t, self.kv, self.head_dim).transpose(1, 2)
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            if cache is not None:
                k = torch.cat((cache[layer][0], k), dim=2)
                v = torch.cat((cache[layer][1], v), dim=2)
            new_cache.append((k, v))
            groups = self.heads // self.kv
            kr = k.repeat_interleave(groups, dim=1)
            vr = v.repeat_interleave(groups, dim=1)
            total = kr.shape[2]
            scores = q @ kr.transpose(2, 3) / math.sqrt(self.head_dim)
            query_index = torch.arange(total - t, total)[:, None]
            mask = torch.arange(total)[None, :] > query_index
            scores = scores.masked_fill(mask, float("-inf"))
            attended = torch.softmax(scores, dim=-1) @ vr
            o = self.linear(attended.transpose(1, 2).reshape(b, t, -1), f"{p}.self_attn.o_proj")
            if self.post_norm:
                h = residual + rms_norm(o, self.w[f"{p}.post_attention_layernorm.weight"], self.eps)
                m = self.mlp(h, p)
                h = h + rms_norm(m, self.w[f"{p}.post_feedforward_layernorm.weight"], self.eps)
            else:
                h = residual + o
                h = h + self.mlp(rms_norm(h, self.w[f"{p}.post_attention_layernorm.weight"], self.eps), p)
        h = rms_norm(h, self.w["model.norm.weight"], self.eps)
        return h @ self.head.T, new_cache

    def mlp(self, x, p):
        gate = self.linear(x, f"{p}.mlp.gate_proj")
        up = self.linear(x, f"{p}.mlp.up_proj")
        return self.linear(torch.nn.functional.silu(gate) * up, f"{p}.mlp.down_proj")

    def greedy(self, prompt, steps):
        """Greedy decoding of one row with a KV cache."""
        ids = torch.tensor([prompt])
        logits, cache = self.forward(ids, torch.arange(len(prompt))[None])
        out = []
        for step in range(steps):
            token = int(torch.argmax(logits[0, -1]))
            out.append(token)
            position = torch.tensor([[len(prompt) + step]])
            logits, cache = self.forward(torch.tensor([[token]]), position, cache)
        return out


def answer(request):
    config, weights = load_folder(request["directory"])
    model = Reference(config, weights)
    rows = request["input_ids"]
    logits = []
    for row in rows:
        ids = torch.tensor([row])
        value, _ = model.forward(ids, torch.arange(len(row))[None])
        logits.append(value[0].reshape(-1).tolist())
    greedy = [model.greedy(row, request.get("greedy_steps", 0)) for row in rows]
    return {"logits": logits, "greedy": greedy}


def main():
    torch.set_grad_enabled(False)
    torch.set_num_threads(1)
    json.dump([answer(request) for request in json.load(sys.stdin)], sys.stdout)


if __name__ == "__main__":
    main()
