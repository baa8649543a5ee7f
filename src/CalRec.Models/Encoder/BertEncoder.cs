using CalRec.Models.Checkpoints;
using CalRec.Tensors;
using CalRec.Tensors.NN;
using F = CalRec.Tensors.Functional;

namespace CalRec.Models.Encoder;

/// <summary>
/// A BERT-style bidirectional encoder on our engine with Hugging Face parameter names (<c>embeddings.word_embeddings.weight</c>,
/// <c>encoder.layer.0.attention.self.query.weight</c>, ...): word + position + token-type embeddings and LayerNorm, then
/// post-norm blocks of bidirectional self-attention over the real tokens and an exact-GELU feed-forward. Trainable
/// (every operation has its gradient); <see cref="FromOnnx"/> loads pretrained weights such as MiniLM's.
/// </summary>
public sealed class BertEncoder : NeuralModule
{
    /// <summary>Creates a randomly initialized encoder (N(0, 0.02²) weights, unit LayerNorms).</summary>
    public BertEncoder(BertConfig config, ulong seed = 0)
    {
        Config = config.Validate();
        var g = new SeededRandom(seed);
        embeddings = RegisterModule("embeddings", new BertEmbeddings(config, g));
        encoder = RegisterModule("encoder", new BertLayers(config, g));
    }

    /// <summary>The configuration.</summary>
    public BertConfig Config { get; }

    /// <summary>Embeddings and their LayerNorm.</summary>
    public BertEmbeddings embeddings { get; }

    /// <summary>The blocks (<c>encoder.layer.N</c>).</summary>
    public BertLayers encoder { get; }

    /// <summary>
    /// Token states [B, T, D] for <paramref name="ids"/> [B·T] (token type 0, positions 0..T-1); <paramref name="mask"/>
    /// [B, T] marks real tokens (non-zero) and padding (zero), which no token attends to.
    /// </summary>
    public ManagedTensor forward(int[] ids, int batch, int seq, ManagedTensor mask)
    {
        ArgumentNullException.ThrowIfNull(ids);
        if (ids.Length != batch * seq)
        {
            throw new ArgumentException($"{ids.Length} ids for a [{batch}, {seq}] batch.");
        }

        if (seq > Config.MaxPositions)
        {
            throw new ArgumentException($"{seq} tokens exceed the encoder's {Config.MaxPositions} positions.");
        }

        ManagedTensor x = embeddings.forward(ids, batch, seq);
        for (int i = 0; i < encoder.layer.Count; i++)
        {
            x = encoder.layer[i].forward(x, batch, seq, mask);
        }

        return x;
    }

    /// <summary>
    /// Mean of the real tokens' states, L2-normalized: [B, D] (sentence-transformers' pooling for MiniLM).
    /// </summary>
    public ManagedTensor Embed(int[] ids, int batch, int seq, ManagedTensor mask) => F.l2_normalize(F.masked_mean_pool(forward(ids, batch, seq, mask), mask));

    /// <summary>
    /// An encoder of <paramref name="config"/> with the weights of an ONNX export of a Hugging Face <c>BertModel</c>.
    /// Named initializers load by name; the linear layers' weights, which PyTorch's exporter stores as anonymous
    /// <c>MatMul</c> constants [in, out], are recognised by the bias the <c>MatMul</c>'s output is added to
    /// (<c>X.bias</c> gives <c>X.weight</c>) and transposed. Unused initializers (the pooler, position ids) are ignored.
    /// </summary>
    /// <exception cref="InvalidDataException">A weight is missing or of another shape.</exception>
    public static BertEncoder FromOnnx(OnnxGraph graph, BertConfig config, string source = "model.onnx")
    {
        ArgumentNullException.ThrowIfNull(graph);
        var weights = new Dictionary<string, ManagedTensor>(StringComparer.Ordinal);
        foreach ((string name, OnnxTensor t) in graph.Initializers)
        {
            weights[name] = ManagedTensor.from(t.Data, t.Dims);
        }

        var consumers = new Dictionary<string, List<OnnxNode>>(StringComparer.Ordinal);
        foreach (OnnxNode node in graph.Nodes)
        {
            foreach (string input in node.Inputs)
            {
                (consumers.TryGetValue(input, out List<OnnxNode>? list) ? list : consumers[input] = []).Add(node);
            }
        }

        foreach (OnnxNode matmul in graph.Nodes.Where(n => n.OpType == "MatMul" && n.Inputs.Count == 2 && graph.Initializers.ContainsKey(n.Inputs[1])))
        {
            OnnxTensor w = graph.Initializers[matmul.Inputs[1]];
            string? bias = consumers.GetValueOrDefault(matmul.Outputs[0])?.Where(n => n.OpType == "Add")
                .SelectMany(n => n.Inputs).FirstOrDefault(i => i.EndsWith(".bias", StringComparison.Ordinal) && graph.Initializers.ContainsKey(i));
            if (bias is not null && w.Dims.Length == 2)
            {
                weights[bias[..^".bias".Length] + ".weight"] = Transposed(w);
            }
        }

        var model = new BertEncoder(config);
        LoadStateDictResult result;
        try
        {
            result = model.load_state_dict(weights, strict: false);
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"{source}: {e.Message}", e);
        }

        if (result.MissingKeys.Count > 0)
        {
            throw new InvalidDataException($"{source}: no weight for {string.Join(", ", result.MissingKeys.Take(5))}{(result.MissingKeys.Count > 5 ? $" and {result.MissingKeys.Count - 5} more" : string.Empty)}.");
        }

        return model;
    }

    private static ManagedTensor Transposed(OnnxTensor w)
    {
        int rows = w.Dims[0], cols = w.Dims[1];
        float[] t = new float[w.Data.Length];
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < cols; c++)
            {
                t[(c * rows) + r] = w.Data[(r * cols) + c];
            }
        }

        return ManagedTensor.from(t, cols, rows);
    }
}

/// <summary>Word, position and token-type embeddings, summed and normalized (Hugging Face <c>embeddings</c>).</summary>
public sealed class BertEmbeddings : NeuralModule
{
    /// <summary>Creates the tables.</summary>
    public BertEmbeddings(BertConfig c, SeededRandom g)
    {
        word_embeddings = RegisterModule("word_embeddings", new EmbeddingTable(c.VocabSize, c.HiddenSize, g));
        position_embeddings = RegisterModule("position_embeddings", new EmbeddingTable(c.MaxPositions, c.HiddenSize, g));
        token_type_embeddings = RegisterModule("token_type_embeddings", new EmbeddingTable(c.TypeVocabSize, c.HiddenSize, g));
        LayerNorm = RegisterModule("LayerNorm", new LayerNormalization(c.HiddenSize, c.NormEps));
    }

    /// <summary>Word pieces.</summary>
    public EmbeddingTable word_embeddings { get; }

    /// <summary>Absolute positions.</summary>
    public EmbeddingTable position_embeddings { get; }

    /// <summary>Token types (segments).</summary>
    public EmbeddingTable token_type_embeddings { get; }

    /// <summary>The norm after the sum.</summary>
    public LayerNormalization LayerNorm { get; }

    /// <summary>[B, T, D] for ids [B·T], positions 0..T-1 and token type 0.</summary>
    public ManagedTensor forward(int[] ids, int batch, int seq)
    {
        int[] positions = new int[batch * seq];
        for (int i = 0; i < positions.Length; i++)
        {
            positions[i] = i % seq;
        }

        ManagedTensor x = word_embeddings.forward(ids, batch, seq)
            .add(position_embeddings.forward(positions, batch, seq))
            .add(token_type_embeddings.forward(new int[batch * seq], batch, seq));
        return LayerNorm.forward(x);
    }
}

/// <summary>The stack of blocks (Hugging Face <c>encoder</c>).</summary>
public sealed class BertLayers : NeuralModule
{
    /// <summary>Creates the blocks.</summary>
    public BertLayers(BertConfig c, SeededRandom g)
    {
        layer = RegisterModule("layer", new NeuralModuleList<BertLayer>());
        for (int i = 0; i < c.NumLayers; i++)
        {
            layer.Add(new BertLayer(c, g));
        }
    }

    /// <summary>The blocks, first to last.</summary>
    public NeuralModuleList<BertLayer> layer { get; }
}

/// <summary>One post-norm block: x = LN(x + attention(x)); x = LN(x + FFN(x)) (Hugging Face <c>encoder.layer.N</c>).</summary>
public sealed class BertLayer : NeuralModule
{
    private readonly BertConfig _c;

    /// <summary>Creates the block.</summary>
    public BertLayer(BertConfig c, SeededRandom g)
    {
        _c = c;
        attention = RegisterModule("attention", new BertAttention(c, g));
        intermediate = RegisterModule("intermediate", new BertDense(c.HiddenSize, c.IntermediateSize, null, g));
        output = RegisterModule("output", new BertDense(c.IntermediateSize, c.HiddenSize, c.NormEps, g));
    }

    /// <summary>Self-attention and its output projection.</summary>
    public BertAttention attention { get; }

    /// <summary>The feed-forward's first layer.</summary>
    public BertDense intermediate { get; }

    /// <summary>The feed-forward's second layer and the block's last norm.</summary>
    public BertDense output { get; }

    /// <summary>x [B, T, D] → [B, T, D].</summary>
    public ManagedTensor forward(ManagedTensor x, int b, int t, ManagedTensor mask)
    {
        BertSelfAttention self = attention.self;
        ManagedTensor q = self.query.forward(x).reshape(b, t, _c.NumHeads, _c.HeadDim);
        ManagedTensor k = self.key.forward(x).reshape(b, t, _c.NumHeads, _c.HeadDim);
        ManagedTensor v = self.value.forward(x).reshape(b, t, _c.NumHeads, _c.HeadDim);
        ManagedTensor a = F.scaled_dot_product_attention(q, k, v, causal: false, mask).reshape(b, t, _c.HiddenSize);
        x = attention.output.forward(a, x);
        return output.forward(F.gelu_erf(intermediate.forward(x)), x);
    }
}

/// <summary>Self-attention (<c>attention.self</c>) and its output projection with the residual norm (<c>attention.output</c>).</summary>
public sealed class BertAttention : NeuralModule
{
    /// <summary>Creates the projections.</summary>
    public BertAttention(BertConfig c, SeededRandom g)
    {
        self = RegisterModule("self", new BertSelfAttention(c, g));
        output = RegisterModule("output", new BertDense(c.HiddenSize, c.HiddenSize, c.NormEps, g));
    }

    /// <summary>Query, key and value projections.</summary>
    public BertSelfAttention self { get; }

    /// <summary>Output projection, residual and norm.</summary>
    public BertDense output { get; }
}

/// <summary>The query, key and value projections (Hugging Face <c>attention.self</c>).</summary>
public sealed class BertSelfAttention : NeuralModule
{
    /// <summary>Creates the projections.</summary>
    public BertSelfAttention(BertConfig c, SeededRandom g)
    {
        query = RegisterModule("query", new LinearLayer(c.HiddenSize, c.HiddenSize, true, g));
        key = RegisterModule("key", new LinearLayer(c.HiddenSize, c.HiddenSize, true, g));
        value = RegisterModule("value", new LinearLayer(c.HiddenSize, c.HiddenSize, true, g));
    }

    /// <summary>Query projection.</summary>
    public LinearLayer query { get; }

    /// <summary>Key projection.</summary>
    public LinearLayer key { get; }

    /// <summary>Value projection.</summary>
    public LinearLayer value { get; }
}

/// <summary>
/// A linear layer (<c>dense</c>), and for a block's output layers the residual sum and its norm (<c>LayerNorm</c>):
/// Hugging Face's <c>BertIntermediate</c>, <c>BertSelfOutput</c> and <c>BertOutput</c>.
/// </summary>
public sealed class BertDense : NeuralModule
{
    /// <summary>Creates the layer; with <paramref name="normEps"/>, the residual norm too.</summary>
    public BertDense(int inFeatures, int outFeatures, float? normEps, SeededRandom g)
    {
        dense = RegisterModule("dense", new LinearLayer(inFeatures, outFeatures, true, g));
        LayerNorm = normEps is float eps ? RegisterModule("LayerNorm", new LayerNormalization(outFeatures, eps)) : null;
    }

    /// <summary>The linear layer.</summary>
    public LinearLayer dense { get; }

    /// <summary>The residual norm, or null for the intermediate layer.</summary>
    public LayerNormalization? LayerNorm { get; }

    /// <summary>dense(x).</summary>
    public ManagedTensor forward(ManagedTensor x) => dense.forward(x);

    /// <summary>LayerNorm(dense(x) + residual).</summary>
    public ManagedTensor forward(ManagedTensor x, ManagedTensor residual) =>
        (LayerNorm ?? throw new InvalidOperationException("The intermediate layer has no residual norm.")).forward(dense.forward(x).add(residual));
}
