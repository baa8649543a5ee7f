using CalRec.Models.Configuration;
using CalRec.Models.Generation;
using CalRec.Tensors;
using CalRec.Tensors.NN;
using F = CalRec.Tensors.Functional;

namespace CalRec.Models.Decoder;

/// <summary>GPT-2 attention with a fused qkv projection (<c>attn.c_attn</c>, <c>attn.c_proj</c>).</summary>
public sealed class Gpt2Attention : NeuralModule
{
    private readonly DecoderConfig _c;

    /// <summary>Creates the projections (stored [out, in]; Hugging Face's Conv1D layout [in, out] is handled on load/save).</summary>
    public Gpt2Attention(DecoderConfig c, SeededRandom g)
    {
        _c = c;
        c_attn = RegisterModule("c_attn", new LinearLayer(c.HiddenSize, 3 * c.HiddenSize, true, g, c.InitializerRange));
        c_proj = RegisterModule("c_proj", new LinearLayer(c.HiddenSize, c.HiddenSize, true, g, c.InitializerRange / MathF.Sqrt(2 * c.NumLayers)));
    }

    /// <summary>Fused query/key/value projection.</summary>
    public LinearLayer c_attn { get; }

    /// <summary>Output projection.</summary>
    public LinearLayer c_proj { get; }

    /// <summary>x [B, T, D] → [B, T, D]; with a <paramref name="cache"/>, keys/values are appended and attention covers the cache.</summary>
    public ManagedTensor forward(ManagedTensor x, int b, int t, ManagedTensor? keyMask, KvCache? cache = null, int layer = 0)
    {
        int d = _c.HiddenSize;
        ManagedTensor qkv = c_attn.forward(x);
        ManagedTensor q = F.slice(qkv, -1, 0, d).reshape(b, t, _c.NumHeads, _c.HeadDim);
        ManagedTensor k = F.slice(qkv, -1, d, d).reshape(b, t, _c.NumHeads, _c.HeadDim);
        ManagedTensor v = F.slice(qkv, -1, 2 * d, d).reshape(b, t, _c.NumHeads, _c.HeadDim);
        return c_proj.forward(KvCache.Attend(q, k, v, keyMask, cache, layer).reshape(b, t, d));
    }
}

/// <summary>GPT-2 feed-forward (<c>mlp.c_fc</c>, <c>mlp.c_proj</c>) with tanh-GELU.</summary>
public sealed class Gpt2Mlp : NeuralModule
{
    /// <summary>Creates the projections.</summary>
    public Gpt2Mlp(DecoderConfig c, SeededRandom g)
    {
        c_fc = RegisterModule("c_fc", new LinearLayer(c.HiddenSize, c.IntermediateSize, true, g, c.InitializerRange));
        c_proj = RegisterModule("c_proj", new LinearLayer(c.IntermediateSize, c.HiddenSize, true, g, c.InitializerRange / MathF.Sqrt(2 * c.NumLayers)));
    }

    /// <summary>Up projection.</summary>
    public LinearLayer c_fc { get; }

    /// <summary>Down projection.</summary>
    public LinearLayer c_proj { get; }

    /// <summary>c_proj(gelu(c_fc(x))).</summary>
    public ManagedTensor forward(ManagedTensor x) => c_proj.forward(F.gelu(c_fc.forward(x)));
}

/// <summary>One GPT-2 block (<c>transformer.h.N</c>).</summary>
public sealed class Gpt2Block : NeuralModule
{
    /// <summary>Creates the block.</summary>
    public Gpt2Block(DecoderConfig c, SeededRandom g)
    {
        ln_1 = RegisterModule("ln_1", new LayerNormalization(c.HiddenSize, c.NormEps));
        attn = RegisterModule("attn", new Gpt2Attention(c, g));
        ln_2 = RegisterModule("ln_2", new LayerNormalization(c.HiddenSize, c.NormEps));
        mlp = RegisterModule("mlp", new Gpt2Mlp(c, g));
    }

    /// <summary>Norm before attention.</summary>
    public LayerNormalization ln_1 { get; }

    /// <summary>Attention.</summary>
    public Gpt2Attention attn { get; }

    /// <summary>Norm before the MLP.</summary>
    public LayerNormalization ln_2 { get; }

    /// <summary>Feed-forward.</summary>
    public Gpt2Mlp mlp { get; }

    /// <summary>Residual attention then residual MLP.</summary>
    public ManagedTensor forward(ManagedTensor x, int b, int t, ManagedTensor? keyMask, Func<ManagedTensor, ManagedTensor> dropout, KvCache? cache = null, int layer = 0)
    {
        x = x.add(dropout(attn.forward(ln_1.forward(x), b, t, keyMask, cache, layer)));
        return x.add(dropout(mlp.forward(ln_2.forward(x))));
    }
}

/// <summary>The GPT-2 trunk (<c>transformer</c>): token and position embeddings, blocks, final norm.</summary>
public sealed class Gpt2Model : NeuralModule
{
    /// <summary>Creates the trunk.</summary>
    public Gpt2Model(DecoderConfig c, SeededRandom g)
    {
        wte = RegisterModule("wte", new EmbeddingTable(c.VocabSize, c.HiddenSize, g, c.InitializerRange));
        wpe = RegisterModule("wpe", new EmbeddingTable(c.MaxPositions, c.HiddenSize, g, c.InitializerRange / 2));
        h = RegisterModule("h", new NeuralModuleList<Gpt2Block>());
        for (int i = 0; i < c.NumLayers; i++)
        {
            h.Add(new Gpt2Block(c, g));
        }

        ln_f = RegisterModule("ln_f", new LayerNormalization(c.HiddenSize, c.NormEps));
    }

    /// <summary>Token embeddings.</summary>
    public EmbeddingTable wte { get; }

    /// <summary>Position embeddings.</summary>
    public EmbeddingTable wpe { get; }

    /// <summary>Blocks.</summary>
    public NeuralModuleList<Gpt2Block> h { get; }

    /// <summary>Final norm.</summary>
    public LayerNormalization ln_f { get; }
}
