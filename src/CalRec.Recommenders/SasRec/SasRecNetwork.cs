using CalRec.Tensors;
using CalRec.Tensors.NN;
using F = CalRec.Tensors.Functional;

namespace CalRec.Recommenders.SasRec;

/// <summary>
/// SASRec (Kang and McAuley, 2018) as in the public PyTorch implementation: item embeddings scaled by √d plus learned
/// positions, blocks of [LayerNorm query → multi-head causal attention over the un-normalized sequence → residual →
/// LayerNorm → ReLU point-wise feed-forward with residual], a final LayerNorm, and scores against the item table.
/// Item index i is embedding row i + 1; row 0 is padding. Every matrix starts Xavier-normal (std √(2 / (rows + cols))),
/// as the public implementation initializes it: a large catalogue gets small item vectors next to the positions.
/// </summary>
internal sealed class SasRecNetwork : NeuralModule
{
    private readonly int _d, _heads, _maxLength;
    private readonly float _dropout;
    private readonly SeededRandom _dropoutGenerator;

    public SasRecNetwork(int itemCount, int hidden, int blocks, int heads, int maxLength, float dropout, ulong seed)
    {
        var g = new SeededRandom(seed);
        _d = hidden;
        _heads = heads;
        _maxLength = maxLength;
        _dropout = dropout;
        _dropoutGenerator = new SeededRandom(seed ^ 0x9E3779B97F4A7C15UL);
        ItemCount = itemCount;
        item_emb = RegisterModule("item_emb", new EmbeddingTable(itemCount + 1, hidden, g, XavierStd(itemCount + 1, hidden)));
        pos_emb = RegisterModule("pos_emb", new EmbeddingTable(maxLength, hidden, g, XavierStd(maxLength, hidden)));
        Blocks = RegisterModule("blocks", new NeuralModuleList<SasRecBlock>());
        for (int i = 0; i < blocks; i++)
        {
            Blocks.Add(new SasRecBlock(hidden, g));
        }

        last_layernorm = RegisterModule("last_layernorm", new LayerNormalization(hidden, 1e-8f));
    }

    public int ItemCount { get; }

    /// <summary>The generator of dropout masks (its state belongs in training checkpoints).</summary>
    internal SeededRandom DropoutGenerator => _dropoutGenerator;

    /// <summary>The standard deviation the item table is initialized with.</summary>
    public float ItemInitStd => XavierStd(ItemCount + 1, _d);

    public int MaxLength => _maxLength;

    public int Hidden => _d;

    public int Heads => _heads;

    public float Dropout => _dropout;

    public EmbeddingTable item_emb { get; }

    public EmbeddingTable pos_emb { get; }

    public NeuralModuleList<SasRecBlock> Blocks { get; }

    public LayerNormalization last_layernorm { get; }

    /// <summary>
    /// Hidden states [B, T, d] for left-padded item rows <paramref name="rows"/> [B·T] (0 = padding, item i = i + 1),
    /// T at most <see cref="MaxLength"/>. Positions count back from the end of the full window (the last item is always
    /// at position MaxLength - 1), so a batch padded only to its longest history computes exactly what a full-length
    /// window would.
    /// </summary>
    public ManagedTensor Forward(int[] rows, int b, int t)
    {
        if (t > _maxLength)
        {
            throw new ArgumentOutOfRangeException(nameof(t), $"Window of {t} items exceeds the model's {_maxLength}.");
        }

        float[] maskData = new float[b * t];
        int[] positions = new int[b * t];
        for (int i = 0; i < b * t; i++)
        {
            maskData[i] = rows[i] != 0 ? 1f : 0f;
            positions[i] = _maxLength - t + (i % t);
        }

        ManagedTensor mask = ManagedTensor.from(maskData, b, t);
        ManagedTensor timeline = mask.reshape(b, t, 1);
        ManagedTensor x = item_emb.forward(rows, b, t).mul(MathF.Sqrt(_d)).add(F.embedding(positions, [b, t], pos_emb.weight));
        x = F.dropout(x, _dropout, training, _dropoutGenerator).mul(timeline);
        foreach (SasRecBlock block in Enumerable.Range(0, Blocks.Count).Select(i => Blocks[i]))
        {
            x = block.Forward(x, b, t, _heads, mask, _dropout, training, _dropoutGenerator).mul(timeline);
        }

        return last_layernorm.forward(x);
    }

    /// <summary>Xavier-normal (Glorot) standard deviation of a [rows, cols] matrix.</summary>
    internal static float XavierStd(int rows, int cols) => MathF.Sqrt(2f / (rows + cols));

    /// <summary>Scores of every real item (rows 1..N of the table) for hidden states [n, d]: [n, N].</summary>
    public ManagedTensor Scores(ManagedTensor hidden) => hidden.matmul(F.slice(item_emb.weight, 0, 1, ItemCount), transB: true);
}

/// <summary>One SASRec block (parameter names follow the PyTorch implementation).</summary>
internal sealed class SasRecBlock : NeuralModule
{
    public SasRecBlock(int d, SeededRandom g)
    {
        float std = SasRecNetwork.XavierStd(d, d);
        attention_layernorm = RegisterModule("attention_layernorm", new LayerNormalization(d, 1e-8f));
        q_proj = RegisterModule("q_proj", new LinearLayer(d, d, true, g, std));
        k_proj = RegisterModule("k_proj", new LinearLayer(d, d, true, g, std));
        v_proj = RegisterModule("v_proj", new LinearLayer(d, d, true, g, std));
        out_proj = RegisterModule("out_proj", new LinearLayer(d, d, true, g, std));
        forward_layernorm = RegisterModule("forward_layernorm", new LayerNormalization(d, 1e-8f));
        conv1 = RegisterModule("conv1", new LinearLayer(d, d, true, g, std));
        conv2 = RegisterModule("conv2", new LinearLayer(d, d, true, g, std));
    }

    public LayerNormalization attention_layernorm { get; }

    public LinearLayer q_proj { get; }

    public LinearLayer k_proj { get; }

    public LinearLayer v_proj { get; }

    public LinearLayer out_proj { get; }

    public LayerNormalization forward_layernorm { get; }

    public LinearLayer conv1 { get; }

    public LinearLayer conv2 { get; }

    public ManagedTensor Forward(ManagedTensor x, int b, int t, int heads, ManagedTensor keyMask, float dropout, bool training, SeededRandom g)
    {
        int d = x.shape[2], hd = d / heads;
        ManagedTensor q = attention_layernorm.forward(x);
        ManagedTensor att = F.scaled_dot_product_attention(
            q_proj.forward(q).reshape(b, t, heads, hd), k_proj.forward(x).reshape(b, t, heads, hd), v_proj.forward(x).reshape(b, t, heads, hd),
            causal: true, keyMask);
        x = q.add(F.dropout(out_proj.forward(att.reshape(b, t, d)), dropout, training, g));
        x = forward_layernorm.forward(x);
        ManagedTensor h = F.dropout(F.relu(conv1.forward(x)), dropout, training, g);
        return x.add(F.dropout(conv2.forward(h), dropout, training, g));
    }
}
