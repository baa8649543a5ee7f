#!/usr/bin/python3
"""Builds the Hugging Face parity fixtures used by HuggingFaceParityTests.

For each architecture: a tiny random-weight checkpoint folder (config.json + safetensors) and the logits a PyTorch
reference forward produces for fixed token ids (expected.json). The forward passes re-implement transformers'
LlamaForCausalLM, Qwen2ForCausalLM and GPT2LMHeadModel in plain PyTorch (transformers is not packaged by Debian),
following their modeling code: RMSNorm in float32 with rsqrt, rotate_half RoPE with float32 inv_freq, repeat_kv for
grouped-query attention, GPT-2's Conv1D ([in, out]) projections and gelu_new.

The checkpoints also exercise the loaders' traps: Qwen2 stored in BF16 with q/k/v biases and tied embeddings (no
lm_head.weight), GPT-2 stored in F16 without the "transformer." prefix and with attn.bias mask buffers, Llama split
over two shards with model.safetensors.index.json and an untied lm_head.

Run with Debian's python3-torch:  /usr/bin/python3 make_fixtures.py   (from this folder). Tests never need Python.
"""
import json, math, os, struct
import torch

torch.manual_seed(1234)
HERE = os.path.dirname(os.path.abspath(__file__))
IDS = [[1, 5, 9, 2, 60, 33, 7], [3, 3, 17, 42, 0, 8, 61]]

DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16"}


def write_safetensors(path, tensors, dtype):
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].to(dtype).contiguous()
        raw = t.view(torch.int16).numpy().tobytes() if dtype == torch.bfloat16 else t.numpy().tobytes()
        header[name] = {"dtype": DTYPES[dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def rounded(tensors, dtype):
    """The weights the loader will see: stored in dtype, read back as float32."""
    return {k: v.to(dtype).to(torch.float32) for k, v in tensors.items()}


def rms_norm(x, w, eps):
    variance = x.pow(2).mean(-1, keepdim=True)
    return w * (x * torch.rsqrt(variance + eps))


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def llama_forward(cfg, W, ids, bias):
    d, h, kvh = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd, eps, L = d // h, cfg["rms_norm_eps"], cfg["num_hidden_layers"]
    B, T = ids.shape
    x = W["model.embed_tokens.weight"][ids]
    inv_freq = 1.0 / (cfg["rope_theta"] ** (torch.arange(0, hd, 2, dtype=torch.int64).float() / hd))
    freqs = torch.outer(torch.arange(T).float(), inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos(), emb.sin()
    causal = torch.triu(torch.ones(T, T, dtype=torch.bool), 1)
    for i in range(L):
        p = f"model.layers.{i}."
        a = rms_norm(x, W[p + "input_layernorm.weight"], eps)
        def proj(name, n):
            y = a @ W[p + f"self_attn.{name}.weight"].T
            if bias:
                y = y + W[p + f"self_attn.{name}.bias"]
            return y.view(B, T, n, hd).transpose(1, 2)
        q, k, v = proj("q_proj", h), proj("k_proj", kvh), proj("v_proj", kvh)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        k, v = k.repeat_interleave(h // kvh, dim=1), v.repeat_interleave(h // kvh, dim=1)
        att = (q @ k.transpose(2, 3)) / math.sqrt(hd)
        att = att.masked_fill(causal, float("-inf")).softmax(-1)
        o = (att @ v).transpose(1, 2).reshape(B, T, d)
        x = x + o @ W[p + "self_attn.o_proj.weight"].T
        a = rms_norm(x, W[p + "post_attention_layernorm.weight"], eps)
        gate = a @ W[p + "mlp.gate_proj.weight"].T
        up = a @ W[p + "mlp.up_proj.weight"].T
        x = x + (torch.nn.functional.silu(gate) * up) @ W[p + "mlp.down_proj.weight"].T
    x = rms_norm(x, W["model.norm.weight"], eps)
    head = W["lm_head.weight"] if "lm_head.weight" in W else W["model.embed_tokens.weight"]
    return x @ head.T


def gpt2_forward(cfg, W, ids):
    d, h, L, eps = cfg["n_embd"], cfg["n_head"], cfg["n_layer"], cfg["layer_norm_epsilon"]
    hd = d // h
    B, T = ids.shape
    ln = lambda x, p: torch.nn.functional.layer_norm(x, (d,), W[p + ".weight"], W[p + ".bias"], eps)
    gelu_new = lambda x: 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))
    x = W["wte.weight"][ids] + W["wpe.weight"][torch.arange(T)]
    causal = torch.triu(torch.ones(T, T, dtype=torch.bool), 1)
    for i in range(L):
        p = f"h.{i}."
        qkv = ln(x, p + "ln_1") @ W[p + "attn.c_attn.weight"] + W[p + "attn.c_attn.bias"]
        q, k, v = (t.view(B, T, h, hd).transpose(1, 2) for t in qkv.split(d, dim=2))
        att = ((q @ k.transpose(-1, -2)) / math.sqrt(hd)).masked_fill(causal, float("-inf")).softmax(-1)
        o = (att @ v).transpose(1, 2).reshape(B, T, d)
        x = x + o @ W[p + "attn.c_proj.weight"] + W[p + "attn.c_proj.bias"]
        m = gelu_new(ln(x, p + "ln_2") @ W[p + "mlp.c_fc.weight"] + W[p + "mlp.c_fc.bias"])
        x = x + m @ W[p + "mlp.c_proj.weight"] + W[p + "mlp.c_proj.bias"]
    return ln(x, "ln_f") @ W["wte.weight"].T


def llama_weights(cfg, bias, tied):
    d, I, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    kv = cfg["num_key_value_heads"] * d // cfg["num_attention_heads"]
    r = lambda *s: torch.randn(*s) * 0.2
    W = {"model.embed_tokens.weight": r(V, d), "model.norm.weight": 1 + r(d)}
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        W[p + "input_layernorm.weight"] = 1 + r(d)
        W[p + "post_attention_layernorm.weight"] = 1 + r(d)
        for name, out in (("q_proj", d), ("k_proj", kv), ("v_proj", kv), ("o_proj", d)):
            W[p + f"self_attn.{name}.weight"] = r(out, d)
            if bias and name != "o_proj":
                W[p + f"self_attn.{name}.bias"] = r(out)
        W[p + "mlp.gate_proj.weight"] = r(I, d)
        W[p + "mlp.up_proj.weight"] = r(I, d)
        W[p + "mlp.down_proj.weight"] = r(d, I)
    if not tied:
        W["lm_head.weight"] = r(V, d)
    return W


def gpt2_weights(cfg):
    d, V, T = cfg["n_embd"], cfg["vocab_size"], cfg["n_positions"]
    r = lambda *s: torch.randn(*s) * 0.2
    W = {"wte.weight": r(V, d), "wpe.weight": r(T, d), "ln_f.weight": 1 + r(d), "ln_f.bias": r(d)}
    for i in range(cfg["n_layer"]):
        p = f"h.{i}."
        for ln in ("ln_1", "ln_2"):
            W[p + ln + ".weight"], W[p + ln + ".bias"] = 1 + r(d), r(d)
        W[p + "attn.c_attn.weight"], W[p + "attn.c_attn.bias"] = r(d, 3 * d), r(3 * d)
        W[p + "attn.c_proj.weight"], W[p + "attn.c_proj.bias"] = r(d, d), r(d)
        W[p + "mlp.c_fc.weight"], W[p + "mlp.c_fc.bias"] = r(d, 4 * d), r(4 * d)
        W[p + "mlp.c_proj.weight"], W[p + "mlp.c_proj.bias"] = r(4 * d, d), r(d)
    return W


def save(name, cfg, files, logits):
    folder = os.path.join(HERE, name)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    for fname, (tensors, dtype) in files.items():
        write_safetensors(os.path.join(folder, fname), tensors, dtype)
    if len(files) > 1:
        weight_map = {k: fname for fname, (t, _) in files.items() for k in t}
        with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {}, "weight_map": weight_map}, f, indent=2)
    with open(os.path.join(folder, "expected.json"), "w") as f:
        json.dump({"input_ids": IDS, "shape": list(logits.shape), "logits": [round(float(v), 7) for v in logits.flatten()]}, f)


ids = torch.tensor(IDS)
with torch.no_grad():
    llama = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 64, "hidden_size": 32,
             "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 48,
             "max_position_embeddings": 64, "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "tie_word_embeddings": False,
             "hidden_act": "silu", "torch_dtype": "float32"}
    W = llama_weights(llama, bias=False, tied=False)
    names = sorted(W)
    shard1 = {k: W[k] for k in names[: len(names) // 2]}
    shard2 = {k: W[k] for k in names[len(names) // 2:]}
    save("llama", llama, {"model-00001-of-00002.safetensors": (shard1, torch.float32),
                          "model-00002-of-00002.safetensors": (shard2, torch.float32)},
         llama_forward(llama, W, ids, bias=False))

    qwen = {"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "vocab_size": 64, "hidden_size": 32,
            "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 1, "intermediate_size": 40,
            "max_position_embeddings": 64, "rms_norm_eps": 1e-6, "rope_theta": 1000000.0, "tie_word_embeddings": True,
            "hidden_act": "silu", "torch_dtype": "bfloat16"}
    W = llama_weights(qwen, bias=True, tied=True)
    save("qwen2", qwen, {"model.safetensors": (W, torch.bfloat16)},
         llama_forward(qwen, rounded(W, torch.bfloat16), ids, bias=True))

    gpt2 = {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "vocab_size": 64, "n_embd": 32, "n_layer": 2,
            "n_head": 4, "n_positions": 16, "n_ctx": 16, "layer_norm_epsilon": 1e-5, "activation_function": "gelu_new",
            "torch_dtype": "float16"}
    W = gpt2_weights(gpt2)
    stored = dict(W)
    for i in range(gpt2["n_layer"]):
        stored[f"h.{i}.attn.bias"] = torch.tril(torch.ones(16, 16)).view(1, 1, 16, 16)
    save("gpt2", gpt2, {"model.safetensors": (stored, torch.float16)}, gpt2_forward(gpt2, rounded(W, torch.float16), ids))
print("fixtures written to", HERE)
