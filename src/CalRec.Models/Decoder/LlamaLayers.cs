using CalRec.Models.Configuration;
using CalRec.Models.Generation;
using CalRec.Tensors;
using CalRec.Tensors.NN;
using F = CalRec.Tensors.Functional;

namespace CalRec.Models.Decoder;

/// <summary>Grouped-query self-attention with rotary positions (Hugging Face <c>self_attn</c>).</summary>
public sealed class LlamaAttention : NeuralModule
{
    private readonly DecoderConfig _c;

    /// <summary>Creates the projections.</summary>
    public LlamaAttention(DecoderConfig c, SeededRandom g)
    {
        _c = c;
        int kv = c.NumKeyValueHeads * c.HeadDim;
        q_proj = RegisterModule("q_proj", new LinearLayer(c.HiddenSize, c.HiddenSize, c.AttentionBias, g, c.InitializerRange));
        k_proj = RegisterModule("k_proj", new LinearLayer(c.HiddenSize, kv, c.AttentionBias, g, c.InitializerRange));
        v_proj = RegisterModule("v_proj", new LinearLayer(c.HiddenSize, kv, c.AttentionBias, g, c.InitializerRange));
        o_proj = RegisterModule("o_proj", new LinearLayer(c.HiddenSize, c.HiddenSize, false, g, c.InitializerRange / MathF.Sqrt(2 * c.NumLayers)));
    }

    /// <summary>Query projection.</summary>
    public LinearLayer q_proj { get; }

    /// <summary>Key projection.</summary>
    public LinearLayer k_proj { get; }

    /// <summary>Value projection.</summary>
    public LinearLayer v_proj { get; }

    /// <summary>Output projection.</summary>
    public LinearLayer o_proj { get; }

    /// <summary>
    /// x [B, T, D] → [B, T, D]; see <see cref="DecoderLM.Hidden"/> for the position and mask arguments. With a
    /// <paramref name="cache"/>, the new keys/values are appended to it and attention covers everything cached.
    /// </summary>
    public ManagedTensor forward(ManagedTensor x, int b, int t, ManagedTensor? keyMask, int start, int[]? positions, KvCache? cache = null, int layer = 0)
    {
        ManagedTensor q = F.rope(q_proj.forward(x).reshape(b, t, _c.NumHeads, _c.HeadDim), _c.RopeTheta, start, positions);
        ManagedTensor k = F.rope(k_proj.forward(x).reshape(b, t, _c.NumKeyValueHeads, _c.HeadDim), _c.RopeTheta, start, positions);
        ManagedTensor v = v_proj.forward(x).reshape(b, t, _c.NumKeyValueHeads, _c.HeadDim);
        return o_proj.forward(KvCache.Attend(q, k, v, keyMask, cache, layer).reshape(b, t, _c.HiddenSize));
    }
}

/// <summary>SwiGLU feed-forward block (Hugging Face <c>mlp</c>).</summary>
public sealed class LlamaMlp : NeuralModule
{
    /// <summary>Creates the projections.</summary>
    public LlamaMlp(DecoderConfig c, SeededRandom g)
    {
        gate_proj = RegisterModule("gate_proj", new LinearLayer(c.HiddenSize, c.IntermediateSize, false, g, c.InitializerRange));
        up_proj = RegisterModule("up_proj", new LinearLayer(c.HiddenSize, c.IntermediateSize, false, g, c.InitializerRange));
        down_proj = RegisterModule("down_proj", new LinearLayer(c.IntermediateSize, c.HiddenSize, false, g, c.InitializerRange / MathF.Sqrt(2 * c.NumLayers)));
    }

    /// <summary>Gate projection.</summary>
    public LinearLayer gate_proj { get; }

    /// <summary>Up projection.</summary>
    public LinearLayer up_proj { get; }

    /// <summary>Down projection.</summary>
    public LinearLayer down_proj { get; }

    /// <summary>down(silu(gate(x)) · up(x)).</summary>
    public ManagedTensor forward(ManagedTensor x) => down_proj.forward(F.swiglu(gate_proj.forward(x), up_proj.forward(x)));
}

/// <summary>One pre-norm Llama block (Hugging Face <c>model.layers.N</c>).</summary>
public sealed class LlamaDecoderLayer : NeuralModule
{
    /// <summary>Creates the block.</summary>
    public LlamaDecoderLayer(DecoderConfig c, SeededRandom g)
    {
        input_layernorm = RegisterModule("input_layernorm", new RMSNorm(c.HiddenSize, c.NormEps));
        self_attn = RegisterModule("self_attn", new LlamaAttention(c, g));
        post_attention_layernorm = RegisterModule("post_attention_layernorm", new RMSNorm(c.HiddenSize, c.NormEps));
        mlp = RegisterModule("mlp", new LlamaMlp(c, g));
    }

    /// <summary>Norm before attention.</summary>
    public RMSNorm input_layernorm { get; }

    /// <summary>Attention.</summary>
    public LlamaAttention self_attn { get; }

    /// <summary>Norm before the MLP.</summary>
    public RMSNorm post_attention_layernorm { get; }

    /// <summary>Feed-forward.</summary>
    public LlamaMlp mlp { get; }

    /// <summary>Residual attention then residual MLP.</summary>
    public ManagedTensor forward(ManagedTensor x, int b, int t, ManagedTensor? keyMask, int start, int[]? positions, Func<ManagedTensor, ManagedTensor> dropout, KvCache? cache = null, int layer = 0)
    {
        x = x.add(dropout(self_attn.forward(input_layernorm.forward(x), b, t, keyMask, start, positions, cache, layer)));
        return x.add(dropout(mlp.forward(post_attention_layernorm.forward(x))));
    }
}

/// <summary>The Llama trunk (Hugging Face <c>model</c>): embeddings, blocks, final norm.</summary>
public sealed class LlamaModel : NeuralModule
{
    /// <summary>Creates the trunk.</summary>
    public LlamaModel(DecoderConfig c, SeededRandom g)
    {
        embed_tokens = RegisterModule("embed_tokens", new EmbeddingTable(c.VocabSize, c.HiddenSize, g, c.InitializerRange));
        layers = RegisterModule("layers", new NeuralModuleList<LlamaDecoderLayer>());
        for (int i = 0; i < c.NumLayers; i++)
        {
            layers.Add(new LlamaDecoderLayer(c, g));
        }

        norm = RegisterModule("norm", new RMSNorm(c.HiddenSize, c.NormEps));
    }

    /// <summary>Token embeddings.</summary>
    public EmbeddingTable embed_tokens { get; }

    /// <summary>Blocks.</summary>
    public NeuralModuleList<LlamaDecoderLayer> layers { get; }

    /// <summary>Final norm.</summary>
    public RMSNorm norm { get; }
}
