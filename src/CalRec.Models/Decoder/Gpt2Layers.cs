using CalRec.Models.Configuration;
using CalRec.Models.Generation;
using CalRec.Tensors;
using CalRec.Tensors.NN;
using F = CalRec.Tensors.Functional;

namespace CalRec.Models.Decoder;

/// <summary>GPT-2 attention with a fused qkv projection (<c>attn.c_attn</c>, <c>attn.c_proj</c>).</summary>
public sealed class Gpt2Attention : Module
{
    private readonly DecoderConfig _c;

    /// <summary>Creates the projections (stored [out, in]; Hugging Face's Conv1D layout [in, out] is handled on load/save).</summary>
    public Gpt2Attention(DecoderConfig c, Generator g)
    {
        _c = c;
        c_attn = RegisterModule("c_attn", new Linear(c.HiddenSize, 3 * c.HiddenSize, true, g, c.InitializerRange));
        c_proj = RegisterModule("c_proj", new Linear(c.HiddenSize, c.HiddenSize, true, g, c.InitializerRange / MathF.Sqrt(2 * c.NumLayers)));
    }

    /// <summary>Fused query/key/value projection.</summary>
    public Linear c_attn { get; }

    /// <summary>Output projection.</summary>
    public Linear c_proj { get; }

    /// <summary>x [B, T, D] → [B, T, D]; with a <paramref name="cache"/>, keys/values are appended and attention covers the cache.</summary>
    public Tensor forward(Tensor x, int b, int t, Tensor? keyMask, KvCache? cache = null, int layer = 0)
    {
        int d = _c.HiddenSize;
        Tensor qkv = c_attn.forward(x);
        Tensor q = F.slice(qkv, -1, 0, d).reshape(b, t, _c.NumHeads, _c.HeadDim);
        Tensor k = F.slice(qkv, -1, d, d).reshape(b, t, _c.NumHeads, _c.HeadDim);
        Tensor v = F.slice(qkv, -1, 2 * d, d).reshape(b, t, _c.NumHeads, _c.HeadDim);
        return c_proj.forward(KvCache.Attend(q, k, v, keyMask, cache, layer).reshape(b, t, d));
    }
}

/// <summary>GPT-2 feed-forward (<c>mlp.c_fc</c>, <c>mlp.c_proj</c>) with tanh-GELU.</summary>
public sealed class Gpt2Mlp : Module
{
    /// <summary>Creates the projections.</summary>
    public Gpt2Mlp(DecoderConfig c, Generator g)
    {
        c_fc = RegisterModule("c_fc", new Linear(c.HiddenSize, c.IntermediateSize, true, g, c.InitializerRange));
        c_proj = RegisterModule("c_proj", new Linear(c.IntermediateSize, c.HiddenSize, true, g, c.InitializerRange / MathF.Sqrt(2 * c.NumLayers)));
    }

    /// <summary>Up projection.</summary>
    public Linear c_fc { get; }

    /// <summary>Down projection.</summary>
    public Linear c_proj { get; }

    /// <summary>c_proj(gelu(c_fc(x))).</summary>
    public Tensor forward(Tensor x) => c_proj.forward(F.gelu(c_fc.forward(x)));
}

/// <summary>One GPT-2 block (<c>transformer.h.N</c>).</summary>
public sealed class Gpt2Block : Module
{
    /// <summary>Creates the block.</summary>
    public Gpt2Block(DecoderConfig c, Generator g)
    {
        ln_1 = RegisterModule("ln_1", new LayerNorm(c.HiddenSize, c.NormEps));
        attn = RegisterModule("attn", new Gpt2Attention(c, g));
        ln_2 = RegisterModule("ln_2", new LayerNorm(c.HiddenSize, c.NormEps));
        mlp = RegisterModule("mlp", new Gpt2Mlp(c, g));
    }

    /// <summary>Norm before attention.</summary>
    public LayerNorm ln_1 { get; }

    /// <summary>Attention.</summary>
    public Gpt2Attention attn { get; }

    /// <summary>Norm before the MLP.</summary>
    public LayerNorm ln_2 { get; }

    /// <summary>Feed-forward.</summary>
    public Gpt2Mlp mlp { get; }

    /// <summary>Residual attention then residual MLP.</summary>
    public Tensor forward(Tensor x, int b, int t, Tensor? keyMask, Func<Tensor, Tensor> dropout, KvCache? cache = null, int layer = 0)
    {
        x = x.add(dropout(attn.forward(ln_1.forward(x), b, t, keyMask, cache, layer)));
        return x.add(dropout(mlp.forward(ln_2.forward(x))));
    }
}

/// <summary>The GPT-2 trunk (<c>transformer</c>): token and position embeddings, blocks, final norm.</summary>
public sealed class Gpt2Model : Module
{
    /// <summary>Creates the trunk.</summary>
    public Gpt2Model(DecoderConfig c, Generator g)
    {
        wte = RegisterModule("wte", new Embedding(c.VocabSize, c.HiddenSize, g, c.InitializerRange));
        wpe = RegisterModule("wpe", new Embedding(c.MaxPositions, c.HiddenSize, g, c.InitializerRange / 2));
        h = RegisterModule("h", new ModuleList<Gpt2Block>());
        for (int i = 0; i < c.NumLayers; i++)
        {
            h.Add(new Gpt2Block(c, g));
        }

        ln_f = RegisterModule("ln_f", new LayerNorm(c.HiddenSize, c.NormEps));
    }

    /// <summary>Token embeddings.</summary>
    public Embedding wte { get; }

    /// <summary>Position embeddings.</summary>
    public Embedding wpe { get; }

    /// <summary>Blocks.</summary>
    public ModuleList<Gpt2Block> h { get; }

    /// <summary>Final norm.</summary>
    public LayerNorm ln_f { get; }
}
