namespace CalRec.Tensors.NN;

/// <summary>Affine layer <c>y = x·Wᵀ + b</c>, weight [out, in] as in PyTorch.</summary>
public sealed class LinearLayer : NeuralModule
{
    /// <summary>Creates the layer with weights drawn from N(0, <paramref name="initStd"/>²) and a zero bias.</summary>
    public LinearLayer(int inFeatures, int outFeatures, bool bias, SeededRandom generator, float initStd = 0.02f)
    {
        weight = RegisterParameter("weight", ManagedTensor.randn(generator, initStd, outFeatures, inFeatures));
        this.bias = bias ? RegisterParameter("bias", ManagedTensor.zeros(outFeatures)) : null;
    }

    /// <summary>Weight [out, in].</summary>
    public ManagedTensor weight { get; }

    /// <summary>Bias [out], or null.</summary>
    public ManagedTensor? bias { get; }

    /// <summary>The attached low-rank adapter, or null.</summary>
    public LoraAdapter? Lora { get; private set; }

    /// <summary>Applies the layer (and its adapter, if any) to [..., in].</summary>
    public ManagedTensor forward(ManagedTensor x)
    {
        ManagedTensor y = Functional.linear(x, weight, bias);
        return Lora is { } lora ? y.add(lora.forward(x, training)) : y;
    }

    /// <summary>Attaches a fresh LoRA adapter (registered as <c>lora_A</c>/<c>lora_B</c> under this layer).</summary>
    public LoraAdapter AttachLora(int rank, float alpha, float dropout, SeededRandom generator)
    {
        if (Lora is not null)
        {
            throw new InvalidOperationException("This layer already has a LoRA adapter.");
        }

        Lora = new LoraAdapter(weight.shape[1], weight.shape[0], rank, alpha, dropout, generator);
        foreach ((string name, NeuralModule m) in Lora.Children())
        {
            RegisterModule(name, m);
        }

        return Lora;
    }

    /// <summary>Folds the adapter into the weight (W += (alpha/r)·B·A) and detaches it.</summary>
    public void MergeLora()
    {
        if (Lora is not { } lora)
        {
            throw new InvalidOperationException("This layer has no LoRA adapter to merge.");
        }

        using (Autograd.Tape.no_grad())
        {
            int outF = weight.shape[0], inF = weight.shape[1];
            Kernels.Gemm.Multiply(Scaled(lora.lora_B.weight, lora.Scale), lora.lora_A.weight.Data, weight.Data, outF, inF, lora.Rank, accumulate: true);
        }

        UnregisterModule("lora_A");
        UnregisterModule("lora_B");
        Lora = null;
    }

    private static float[] Scaled(ManagedTensor t, float scale)
    {
        float[] result = t.ToArray();
        System.Numerics.Tensors.TensorPrimitives.Multiply(result, scale, result);
        return result;
    }
}

/// <summary>Lookup table from ids to vectors, weight [num, dim].</summary>
public sealed class EmbeddingTable : NeuralModule
{
    /// <summary>Creates the table with entries drawn from N(0, <paramref name="initStd"/>²).</summary>
    public EmbeddingTable(int count, int dim, SeededRandom generator, float initStd = 0.02f)
    {
        weight = RegisterParameter("weight", ManagedTensor.randn(generator, initStd, count, dim));
    }

    /// <summary>Weight [num, dim].</summary>
    public ManagedTensor weight { get; }

    /// <summary>Looks up <paramref name="ids"/> arranged as <paramref name="idsShape"/>.</summary>
    public ManagedTensor forward(int[] ids, params int[] idsShape) => Functional.embedding(ids, idsShape, weight);
}

/// <summary>Root-mean-square normalization with a learned scale (Llama).</summary>
public sealed class RMSNorm : NeuralModule
{
    private readonly float _eps;

    /// <summary>Creates the layer with unit scale.</summary>
    public RMSNorm(int dim, float eps = 1e-6f)
    {
        _eps = eps;
        weight = RegisterParameter("weight", ManagedTensor.ones(dim));
    }

    /// <summary>Scale [dim].</summary>
    public ManagedTensor weight { get; }

    /// <summary>Normalizes the last dimension.</summary>
    public ManagedTensor forward(ManagedTensor x) => Functional.rms_norm(x, weight, _eps);
}

/// <summary>Layer normalization with learned scale and shift.</summary>
public sealed class LayerNormalization : NeuralModule
{
    private readonly float _eps;

    /// <summary>Creates the layer with unit scale and zero shift.</summary>
    public LayerNormalization(int dim, float eps = 1e-5f)
    {
        _eps = eps;
        weight = RegisterParameter("weight", ManagedTensor.ones(dim));
        bias = RegisterParameter("bias", ManagedTensor.zeros(dim));
    }

    /// <summary>Scale [dim].</summary>
    public ManagedTensor weight { get; }

    /// <summary>Shift [dim].</summary>
    public ManagedTensor bias { get; }

    /// <summary>Normalizes the last dimension.</summary>
    public ManagedTensor forward(ManagedTensor x) => Functional.layer_norm(x, weight, bias, _eps);
}

/// <summary>An indexed list of modules named "0", "1", ... (PyTorch's ModuleList).</summary>
/// <typeparam name="T">Element type.</typeparam>
public sealed class NeuralModuleList<T> : NeuralModule
    where T : NeuralModule
{
    private readonly List<T> _items = [];

    /// <summary>Appends a module.</summary>
    public void Add(T module) => _items.Add(RegisterModule(_items.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), module));

    /// <summary>Number of modules.</summary>
    public int Count => _items.Count;

    /// <summary>The module at <paramref name="index"/>.</summary>
    public T this[int index] => _items[index];
}
