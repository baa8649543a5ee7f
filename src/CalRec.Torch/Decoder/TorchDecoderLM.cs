using CalRec.Models.Configuration;
using CalRec.Models.Decoder;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace CalRec.Torch.Decoder;

/// <summary>
/// The causal decoder language model of <see cref="DecoderLM"/> (Llama / Qwen2 or GPT-2 family) as a TorchSharp module,
/// with the same Hugging Face parameter names (<c>model.layers.0.self_attn.q_proj.weight</c>,
/// <c>transformer.h.0.attn.c_attn.weight</c>, <c>lm_head.weight</c>), so weights move between the two engines by name
/// (<see cref="TorchWeights"/>). Every operation runs on the device the module is on; nothing depends on the device
/// type.
/// </summary>
public sealed class TorchDecoderLM : nn.Module
{
    private readonly Gpt2Trunk? _gpt2;
    private readonly LlamaTrunk? _llama;
    private readonly TorchLinear? _lmHead;

    /// <summary>Creates a model with PyTorch's default initialization (load weights with <see cref="TorchWeights"/>).</summary>
    public TorchDecoderLM(DecoderConfig config)
        : base(nameof(TorchDecoderLM))
    {
        ArgumentNullException.ThrowIfNull(config);
        Config = config.Validate();
        if (config.Architecture == DecoderArchitecture.Gpt2)
        {
            _gpt2 = new Gpt2Trunk(config);
            register_module("transformer", _gpt2);
        }
        else
        {
            _llama = new LlamaTrunk(config);
            register_module("model", _llama);
            if (!config.TieWordEmbeddings)
            {
                _lmHead = new TorchLinear(config.HiddenSize, config.VocabSize, false);
                register_module("lm_head", _lmHead);
            }
        }
    }

    /// <summary>The configuration.</summary>
    public DecoderConfig Config { get; }

    /// <summary>The token embedding table [V, D].</summary>
    public Parameter TokenEmbedding => (_gpt2?.Wte ?? _llama!.EmbedTokens).weight!;

    /// <summary>The output projection [V, D] (the embedding table when tied).</summary>
    public Parameter OutputWeight => _lmHead?.Weight ?? TokenEmbedding;

    /// <summary>
    /// Final hidden states [B, T, D] for token <paramref name="ids"/> [B, T] (int64). <paramref name="keyMask"/> [B, S]
    /// marks real keys (non-zero) and padding (0), S being the cached plus new tokens; token t sits at position
    /// <paramref name="positions"/>[b, t] when given, else at the cache length + t. With a <paramref name="cache"/>
    /// (inference), the tokens continue the cached ones and the cache grows by T. A query that sees no key at all
    /// outputs zeros from attention (as our engine does).
    /// </summary>
    public Tensor Hidden(Tensor ids, Tensor? keyMask = null, Tensor? positions = null, TorchKvCache? cache = null)
    {
        ArgumentNullException.ThrowIfNull(ids);
        long b = ids.shape[0], t = ids.shape[1];
        int start = cache?.Length ?? 0;
        if (_gpt2 is not null && start + t > Config.MaxPositions)
        {
            throw new ArgumentException($"Sequence of {start + t} positions exceeds n_positions = {Config.MaxPositions}.");
        }

        using var scope = NewDisposeScope();
        positions ??= arange(start, start + t, dtype: int64, device: ids.device).unsqueeze(0).expand(b, t);
        Tensor? mask = AttentionMask(b, t, start + t, keyMask, ids.device);
        Tensor x;
        if (_gpt2 is not null)
        {
            x = Dropout(_gpt2.Wte.forward(ids) + _gpt2.Wpe.forward(positions));
            for (int i = 0; i < _gpt2.H.Count; i++)
            {
                x = _gpt2.H[i].Forward(x, mask, cache, i, Dropout);
            }

            x = _gpt2.LnF.forward(x);
        }
        else
        {
            x = Dropout(_llama!.EmbedTokens.forward(ids));
            // The angles in float32, then in the weights' precision (as Hugging Face's rotary embedding does).
            (Tensor cos, Tensor sin) = Rope.Angles(positions, Config.HeadDim, Config.RopeTheta);
            (cos, sin) = (cos.to(x.dtype), sin.to(x.dtype));
            for (int i = 0; i < _llama.Layers.Count; i++)
            {
                x = _llama.Layers[i].Forward(x, mask, cos, sin, cache, i, Dropout);
            }

            x = _llama.Norm.forward(x);
        }

        cache?.Advance((int)t);
        // A decoder in bfloat16 (mixed-precision training's working copy) hands float32 states on: losses, pooling and
        // the contrastive terms run in float32, as under autocast.
        return (x.dtype == float32 ? x : x.to(float32)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Logits [..., count] for hidden states [..., D] against output rows <paramref name="first"/> .. + <paramref name="count"/>
    /// (default: the whole vocabulary), computed in the weights' precision and returned in the states' (float32).
    /// </summary>
    public Tensor Logits(Tensor hidden, long first = 0, long count = -1)
    {
        ArgumentNullException.ThrowIfNull(hidden);
        Tensor weight = first == 0 && count < 0 ? OutputWeight : OutputWeight.narrow(0, first, count < 0 ? OutputWeight.shape[0] - first : count);
        return weight.dtype == hidden.dtype ? hidden.matmul(weight.t()) : hidden.to(weight.dtype).matmul(weight.t()).to(hidden.dtype);
    }

    /// <summary>
    /// Mean next-token cross-entropy: position i of <paramref name="ids"/> [B, T] predicts <paramref name="targets"/>
    /// [B, T] (-100 skips a position, as in PyTorch and our engine).
    /// </summary>
    public Tensor Loss(Tensor ids, Tensor targets, Tensor? keyMask = null, float labelSmoothing = 0f)
    {
        Tensor logits = Logits(Hidden(ids, keyMask));
        return F.cross_entropy(logits.reshape(-1, Config.VocabSize), targets.reshape(-1), ignore_index: -100, label_smoothing: labelSmoothing);
    }

    // [B, 1, T, S] booleans (true: attend): causal (query t at absolute position S - T + t sees keys 0..S-T+t) and the key
    // padding mask. Null when nothing is masked beyond causality and T = 1.
    private static Tensor? AttentionMask(long b, long t, long s, Tensor? keyMask, Device device)
    {
        Tensor causal = ones(t, s, dtype: @bool, device: device).tril(s - t).view(1, 1, t, s);
        return keyMask is null ? causal : causal.logical_and(keyMask.ne(0).view(b, 1, 1, s));
    }

    private Tensor Dropout(Tensor x) => Config.Dropout > 0 ? F.dropout(x, Config.Dropout, training) : x;
}

/// <summary>Grouped-query scaled dot-product attention shared by both families.</summary>
internal static class Attention
{
    /// <summary>q [B, T, Hq, D], k and v [B, S, Hkv, D], mask [B or 1, 1, T, S] → [B, T, Hq, D].</summary>
    internal static Tensor Attend(Tensor q, Tensor k, Tensor v, Tensor? mask)
    {
        long hq = q.shape[2], hkv = k.shape[2];
        q = q.transpose(1, 2);
        k = k.transpose(1, 2);
        v = v.transpose(1, 2);
        if (hq != hkv)
        {
            k = k.repeat_interleave(hq / hkv, dim: 1);
            v = v.repeat_interleave(hq / hkv, dim: 1);
        }

        if (mask is null)
        {
            return F.scaled_dot_product_attention(q, k, v).transpose(1, 2);
        }

        // A query with no visible key would be NaN in softmax; it attends to everything instead and outputs zeros.
        Tensor any = mask.any(-1, keepdim: true);
        Tensor output = F.scaled_dot_product_attention(q, k, v, attn_mask: mask.logical_or(any.logical_not()));
        return (output * any.to(output.dtype)).transpose(1, 2);
    }
}

/// <summary>Rotary position embedding in the Hugging Face Llama layout (<c>rotate_half</c>).</summary>
internal static class Rope
{
    /// <summary>cos and sin [B, T, 1, D] for integer positions [B, T].</summary>
    internal static (Tensor Cos, Tensor Sin) Angles(Tensor positions, int headDim, float theta)
    {
        Tensor inverse = pow(theta, arange(0, headDim, 2, dtype: float32, device: positions.device) / headDim).reciprocal();
        Tensor freqs = positions.to(float32).unsqueeze(-1) * inverse;
        Tensor emb = cat([freqs, freqs], -1).unsqueeze(2);
        return (emb.cos(), emb.sin());
    }

    /// <summary>x [B, T, H, D] rotated.</summary>
    internal static Tensor Apply(Tensor x, Tensor cos, Tensor sin)
    {
        long half = x.shape[3] / 2;
        Tensor rotated = cat([x[.., .., .., (int)half..].neg(), x[.., .., .., ..(int)half]], -1);
        return (x * cos) + (rotated * sin);
    }
}

/// <summary>The GPT-2 trunk (<c>transformer</c>).</summary>
internal sealed class Gpt2Trunk : nn.Module
{
    internal Gpt2Trunk(DecoderConfig c)
        : base("transformer")
    {
        Wte = nn.Embedding(c.VocabSize, c.HiddenSize);
        Wpe = nn.Embedding(c.MaxPositions, c.HiddenSize);
        H = nn.ModuleList(Enumerable.Range(0, c.NumLayers).Select(_ => new Gpt2Block(c)).ToArray());
        LnF = nn.LayerNorm(c.HiddenSize, c.NormEps);
        register_module("wte", Wte);
        register_module("wpe", Wpe);
        register_module("h", H);
        register_module("ln_f", LnF);
    }

    internal Embedding Wte { get; }

    internal Embedding Wpe { get; }

    internal ModuleList<Gpt2Block> H { get; }

    internal LayerNorm LnF { get; }
}

/// <summary>One GPT-2 block (<c>transformer.h.N</c>): pre-norm attention and MLP with GELU (tanh).</summary>
internal sealed class Gpt2Block : nn.Module
{
    private readonly DecoderConfig _c;
    private readonly LayerNorm _ln1;
    private readonly LayerNorm _ln2;
    private readonly TorchLinear _cAttn;
    private readonly TorchLinear _attnProj;
    private readonly TorchLinear _cFc;
    private readonly TorchLinear _mlpProj;

    internal Gpt2Block(DecoderConfig c)
        : base("block")
    {
        _c = c;
        _ln1 = nn.LayerNorm(c.HiddenSize, c.NormEps);
        _ln2 = nn.LayerNorm(c.HiddenSize, c.NormEps);
        _cAttn = new TorchLinear(c.HiddenSize, 3 * c.HiddenSize, true);
        _attnProj = new TorchLinear(c.HiddenSize, c.HiddenSize, true);
        _cFc = new TorchLinear(c.HiddenSize, c.IntermediateSize, true);
        _mlpProj = new TorchLinear(c.IntermediateSize, c.HiddenSize, true);
        var attn = new Holder("attn", ("c_attn", _cAttn), ("c_proj", _attnProj));
        var mlp = new Holder("mlp", ("c_fc", _cFc), ("c_proj", _mlpProj));
        register_module("ln_1", _ln1);
        register_module("attn", attn);
        register_module("ln_2", _ln2);
        register_module("mlp", mlp);
    }

    internal Tensor Forward(Tensor x, Tensor? mask, TorchKvCache? cache, int layer, Func<Tensor, Tensor> dropout)
    {
        long b = x.shape[0], t = x.shape[1];
        int d = _c.HiddenSize;
        Tensor[] qkv = _cAttn.forward(_ln1.forward(x)).split(d, -1);
        Tensor q = qkv[0].view(b, t, _c.NumHeads, _c.HeadDim);
        Tensor k = qkv[1].view(b, t, _c.NumHeads, _c.HeadDim);
        Tensor v = qkv[2].view(b, t, _c.NumHeads, _c.HeadDim);
        (k, v) = cache is null ? (k, v) : cache.Append(layer, k, v);
        x = x + dropout(_attnProj.forward(Attention.Attend(q, k, v, mask).reshape(b, t, d)));
        return x + dropout(_mlpProj.forward(F.gelu(_cFc.forward(_ln2.forward(x)), GELU.Approximate.tanh)));
    }
}

/// <summary>The Llama trunk (<c>model</c>).</summary>
internal sealed class LlamaTrunk : nn.Module
{
    internal LlamaTrunk(DecoderConfig c)
        : base("model")
    {
        EmbedTokens = nn.Embedding(c.VocabSize, c.HiddenSize);
        Layers = nn.ModuleList(Enumerable.Range(0, c.NumLayers).Select(_ => new LlamaLayer(c)).ToArray());
        Norm = new RmsNorm(c.HiddenSize, c.NormEps);
        register_module("embed_tokens", EmbedTokens);
        register_module("layers", Layers);
        register_module("norm", Norm);
    }

    internal Embedding EmbedTokens { get; }

    internal ModuleList<LlamaLayer> Layers { get; }

    internal RmsNorm Norm { get; }
}

/// <summary>One Llama / Qwen2 block (<c>model.layers.N</c>): RMSNorm, grouped-query attention with RoPE, SwiGLU MLP.</summary>
internal sealed class LlamaLayer : nn.Module
{
    private readonly DecoderConfig _c;
    private readonly RmsNorm _inputNorm;
    private readonly RmsNorm _postNorm;
    private readonly TorchLinear _q;
    private readonly TorchLinear _k;
    private readonly TorchLinear _v;
    private readonly TorchLinear _o;
    private readonly TorchLinear _gate;
    private readonly TorchLinear _up;
    private readonly TorchLinear _down;

    internal LlamaLayer(DecoderConfig c)
        : base("layer")
    {
        _c = c;
        int kv = c.NumKeyValueHeads * c.HeadDim;
        _inputNorm = new RmsNorm(c.HiddenSize, c.NormEps);
        _postNorm = new RmsNorm(c.HiddenSize, c.NormEps);
        _q = new TorchLinear(c.HiddenSize, c.HiddenSize, c.AttentionBias);
        _k = new TorchLinear(c.HiddenSize, kv, c.AttentionBias);
        _v = new TorchLinear(c.HiddenSize, kv, c.AttentionBias);
        _o = new TorchLinear(c.HiddenSize, c.HiddenSize, false);
        _gate = new TorchLinear(c.HiddenSize, c.IntermediateSize, false);
        _up = new TorchLinear(c.HiddenSize, c.IntermediateSize, false);
        _down = new TorchLinear(c.IntermediateSize, c.HiddenSize, false);
        register_module("input_layernorm", _inputNorm);
        register_module("self_attn", new Holder("self_attn", ("q_proj", _q), ("k_proj", _k), ("v_proj", _v), ("o_proj", _o)));
        register_module("post_attention_layernorm", _postNorm);
        register_module("mlp", new Holder("mlp", ("gate_proj", _gate), ("up_proj", _up), ("down_proj", _down)));
    }

    internal Tensor Forward(Tensor x, Tensor? mask, Tensor cos, Tensor sin, TorchKvCache? cache, int layer, Func<Tensor, Tensor> dropout)
    {
        long b = x.shape[0], t = x.shape[1];
        Tensor h = _inputNorm.forward(x);
        Tensor q = Rope.Apply(_q.forward(h).view(b, t, _c.NumHeads, _c.HeadDim), cos, sin);
        Tensor k = Rope.Apply(_k.forward(h).view(b, t, _c.NumKeyValueHeads, _c.HeadDim), cos, sin);
        Tensor v = _v.forward(h).view(b, t, _c.NumKeyValueHeads, _c.HeadDim);
        (k, v) = cache is null ? (k, v) : cache.Append(layer, k, v);
        x = x + dropout(_o.forward(Attention.Attend(q, k, v, mask).reshape(b, t, _c.HiddenSize)));
        h = _postNorm.forward(x);
        return x + dropout(_down.forward(F.silu(_gate.forward(h)) * _up.forward(h)));
    }
}

/// <summary>RMSNorm with a learned scale (Hugging Face <c>LlamaRMSNorm</c>): x / sqrt(mean(x²) + eps) · weight.</summary>
internal sealed class RmsNorm : nn.Module<Tensor, Tensor>
{
    private readonly float _eps;

    // Named as registered, so that Module.to(device or dtype) replaces the field and the registered parameter together.
    [TorchSharp.Utils.ComponentName(Name = "weight")]
    private Parameter _weight;

    internal RmsNorm(int size, float eps)
        : base("norm")
    {
        _eps = eps;
        _weight = new Parameter(ones(size));
        register_parameter("weight", _weight);
    }

    public override Tensor forward(Tensor x) => x * (x.pow(2).mean([-1], keepdim: true) + _eps).rsqrt() * _weight;
}

/// <summary>A named container of linear layers, so that parameter names follow Hugging Face's (<c>self_attn.q_proj</c>).</summary>
internal sealed class Holder : nn.Module
{
    internal Holder(string name, params (string Name, nn.Module Module)[] children)
        : base(name)
    {
        foreach ((string n, nn.Module m) in children)
        {
            register_module(n, m);
        }
    }
}
