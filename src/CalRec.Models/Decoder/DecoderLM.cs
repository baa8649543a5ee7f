using CalRec.Models.Configuration;
using CalRec.Models.Generation;
using CalRec.Tensors;
using CalRec.Tensors.NN;
using F = CalRec.Tensors.Functional;

namespace CalRec.Models.Decoder;

/// <summary>
/// A causal decoder language model, Llama or GPT-2 family, with Hugging Face parameter names
/// (<c>model.layers.0.self_attn.q_proj.weight</c>, <c>transformer.h.0.attn.c_attn.weight</c>, <c>lm_head.weight</c>).
/// </summary>
public sealed class DecoderLM : NeuralModule
{
    private readonly SeededRandom _dropoutGenerator;

    /// <summary>Creates a randomly initialized model; <paramref name="seed"/> fixes weights and dropout masks.</summary>
    public DecoderLM(DecoderConfig config, ulong seed = 0)
    {
        Config = config.Validate();
        var g = new SeededRandom(seed);
        _dropoutGenerator = new SeededRandom(seed ^ 0x5DEECE66DUL);
        if (config.Architecture == DecoderArchitecture.Gpt2)
        {
            Gpt2 = RegisterModule("transformer", new Gpt2Model(config, g));
        }
        else
        {
            Llama = RegisterModule("model", new LlamaModel(config, g));
            if (!config.TieWordEmbeddings)
            {
                LmHead = RegisterModule("lm_head", new LinearLayer(config.HiddenSize, config.VocabSize, false, g, config.InitializerRange));
            }
        }
    }

    /// <summary>The configuration.</summary>
    public DecoderConfig Config { get; }

    /// <summary>The generator of dropout masks (its state belongs in training checkpoints).</summary>
    public SeededRandom DropoutGenerator => _dropoutGenerator;

    /// <summary>The Llama trunk, or null for GPT-2.</summary>
    public LlamaModel? Llama { get; }

    /// <summary>The GPT-2 trunk, or null for Llama.</summary>
    public Gpt2Model? Gpt2 { get; }

    /// <summary>The untied output projection, or null when tied to the embeddings.</summary>
    public LinearLayer? LmHead { get; }

    /// <summary>The token embedding table [V, D].</summary>
    public ManagedTensor TokenEmbedding => Gpt2?.wte.weight ?? Llama!.embed_tokens.weight;

    /// <summary>The output projection [V, D] (the embedding table when tied).</summary>
    public ManagedTensor OutputWeight => LmHead?.weight ?? TokenEmbedding;

    /// <summary>
    /// Final hidden states [B, T, D] for token <paramref name="ids"/> [B·T]. <paramref name="attentionMask"/> [B, T]
    /// marks real tokens (1) and padding (0); token t sits at position <paramref name="startPosition"/> + t unless
    /// <paramref name="positions"/> [B·T] gives explicit positions. With a <paramref name="cache"/> (inference), the
    /// tokens continue the cached ones: positions start at the cache length, <paramref name="attentionMask"/> covers
    /// every cached key plus the new ones [B, cache.Length + T], and the cache grows by T.
    /// </summary>
    public ManagedTensor Hidden(int[] ids, int batch, int seq, ManagedTensor? attentionMask = null, int startPosition = 0, int[]? positions = null, KvCache? cache = null)
    {
        if (cache is not null)
        {
            if (cache.Batch != batch)
            {
                throw new ArgumentException($"KV cache holds {cache.Batch} rows, the input {batch}.");
            }

            startPosition = cache.Length;
        }

        if (startPosition + seq > Config.MaxPositions && Config.Architecture == DecoderArchitecture.Gpt2)
        {
            throw new ArgumentException($"Sequence of {startPosition + seq} positions exceeds n_positions = {Config.MaxPositions}.");
        }

        Func<ManagedTensor, ManagedTensor> dropout = x => F.dropout(x, Config.Dropout, training, _dropoutGenerator);
        if (Gpt2 is { } gpt)
        {
            ManagedTensor x = gpt.wte.forward(ids, batch, seq);
            int[] pos = positions ?? DefaultPositions(batch, seq, startPosition);
            x = dropout(x.add(F.embedding(pos, [batch, seq], gpt.wpe.weight)));
            for (int i = 0; i < gpt.h.Count; i++)
            {
                x = gpt.h[i].forward(x, batch, seq, attentionMask, dropout, cache, i);
            }

            cache?.Advance(seq);
            return gpt.ln_f.forward(x);
        }

        LlamaModel m = Llama!;
        ManagedTensor h = dropout(m.embed_tokens.forward(ids, batch, seq));
        for (int i = 0; i < m.layers.Count; i++)
        {
            h = m.layers[i].forward(h, batch, seq, attentionMask, startPosition, positions, dropout, cache, i);
        }

        cache?.Advance(seq);
        return m.norm.forward(h);
    }

    /// <summary>
    /// A copy of this model with <paramref name="count"/> more token ids after the vocabulary (ids
    /// <c>VocabSize .. VocabSize + count - 1</c>): every weight copied, and the new rows of the embedding table (and of an
    /// untied output projection) set to the mean of the rows of their <paramref name="initialTokens"/> (a row of zeros
    /// when a list is empty). The dropout generator starts from <paramref name="seed"/>.
    /// </summary>
    public DecoderLM WithAddedTokens(int count, Func<int, IReadOnlyList<int>> initialTokens, ulong seed = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        ArgumentNullException.ThrowIfNull(initialTokens);
        int v = Config.VocabSize, d = Config.HiddenSize;
        var grown = new DecoderLM(Config with { VocabSize = v + count }, seed);
        Dictionary<string, ManagedTensor> source = state_dict();
        foreach ((string name, ManagedTensor p) in grown.named_parameters())
        {
            ManagedTensor old = source[name];
            old.Data.CopyTo(p.Data);
            if (p.numel == old.numel)
            {
                continue;
            }

            // The embedding table or the untied output projection: [V + count, D].
            ReadOnlySpan<float> rows = old.Data;
            for (int t = 0; t < count; t++)
            {
                Span<float> row = p.Data.Slice((v + t) * d, d);
                row.Clear();
                IReadOnlyList<int> tokens = initialTokens(t);
                foreach (int token in tokens)
                {
                    System.Numerics.Tensors.TensorPrimitives.Add(row, rows.Slice(token * d, d), row);
                }

                if (tokens.Count > 1)
                {
                    System.Numerics.Tensors.TensorPrimitives.Multiply(row, 1f / tokens.Count, row);
                }
            }
        }

        return grown;
    }

    /// <summary>
    /// A copy of this model, every weight copied, whose embeddings and residual branches drop out with probability
    /// <paramref name="dropout"/> while training (the configuration's <see cref="DecoderConfig.Dropout"/>). The dropout
    /// generator starts from <paramref name="seed"/>.
    /// </summary>
    public DecoderLM WithDropout(float dropout, ulong seed = 0)
    {
        var copy = new DecoderLM(Config with { Dropout = dropout }, seed);
        Dictionary<string, ManagedTensor> source = state_dict();
        foreach ((string name, ManagedTensor p) in copy.named_parameters())
        {
            source[name].Data.CopyTo(p.Data);
        }

        return copy;
    }

    /// <summary>Vocabulary logits [N, V] for hidden states [..., D].</summary>
    public ManagedTensor Logits(ManagedTensor hidden) => hidden.reshape(-1, Config.HiddenSize).matmul(OutputWeight, transB: true);

    /// <summary>
    /// Mean next-token cross-entropy: position i of <paramref name="ids"/> predicts <paramref name="targets"/>[i]
    /// (use <see cref="Functional.IgnoreIndex"/> to skip positions).
    /// </summary>
    public ManagedTensor Loss(int[] ids, int[] targets, int batch, int seq, ManagedTensor? attentionMask = null, float labelSmoothing = 0f) =>
        F.cross_entropy(Logits(Hidden(ids, batch, seq, attentionMask)), targets, labelSmoothing: labelSmoothing);

    private static int[] DefaultPositions(int batch, int seq, int start)
    {
        int[] pos = new int[batch * seq];
        for (int b = 0; b < batch; b++)
        {
            for (int t = 0; t < seq; t++)
            {
                pos[(b * seq) + t] = start + t;
            }
        }

        return pos;
    }
}
