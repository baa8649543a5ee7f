namespace CalRec.Tensors.NN;

/// <summary>Affine layer <c>y = x·Wᵀ + b</c>, weight [out, in] as in PyTorch.</summary>
public sealed class Linear : Module
{
    /// <summary>Creates the layer with weights drawn from N(0, <paramref name="initStd"/>²) and a zero bias.</summary>
    public Linear(int inFeatures, int outFeatures, bool bias, Generator generator, float initStd = 0.02f)
    {
        weight = RegisterParameter("weight", Tensor.randn(generator, initStd, outFeatures, inFeatures));
        this.bias = bias ? RegisterParameter("bias", Tensor.zeros(outFeatures)) : null;
    }

    /// <summary>Weight [out, in].</summary>
    public Tensor weight { get; }

    /// <summary>Bias [out], or null.</summary>
    public Tensor? bias { get; }

    /// <summary>The attached low-rank adapter, or null.</summary>
    public LoraAdapter? Lora { get; private set; }

    /// <summary>Applies the layer (and its adapter, if any) to [..., in].</summary>
    public Tensor forward(Tensor x)
    {
        Tensor y = Functional.linear(x, weight, bias);
        return Lora is { } lora ? y.add(lora.forward(x, training)) : y;
    }

    /// <summary>Attaches a fresh LoRA adapter (registered as <c>lora_A</c>/<c>lora_B</c> under this layer).</summary>
    public LoraAdapter AttachLora(int rank, float alpha, float dropout, Generator generator)
    {
        if (Lora is not null)
        {
            throw new InvalidOperationException("This layer already has a LoRA adapter.");
        }

        Lora = new LoraAdapter(weight.shape[1], weight.shape[0], rank, alpha, dropout, generator);
        foreach ((string name, Module m) in Lora.Children())
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

    private static float[] Scaled(Tensor t, float scale)
    {
        float[] result = t.ToArray();
        System.Numerics.Tensors.TensorPrimitives.Multiply(result, scale, result);
        return result;
    }
}

/// <summary>Lookup table from ids to vectors, weight [num, dim].</summary>
public sealed class Embedding : Module
{
    /// <summary>Creates the table with entries drawn from N(0, <paramref name="initStd"/>²).</summary>
    public Embedding(int count, int dim, Generator generator, float initStd = 0.02f)
    {
        weight = RegisterParameter("weight", Tensor.randn(generator, initStd, count, dim));
    }

    /// <summary>Weight [num, dim].</summary>
    public Tensor weight { get; }

    /// <summary>Looks up <paramref name="ids"/> arranged as <paramref name="idsShape"/>.</summary>
    public Tensor forward(int[] ids, params int[] idsShape) => Functional.embedding(ids, idsShape, weight);
}

/// <summary>Root-mean-square normalization with a learned scale (Llama).</summary>
public sealed class RMSNorm : Module
{
    private readonly float _eps;

    /// <summary>Creates the layer with unit scale.</summary>
    public RMSNorm(int dim, float eps = 1e-6f)
    {
        _eps = eps;
        weight = RegisterParameter("weight", Tensor.ones(dim));
    }

    /// <summary>Scale [dim].</summary>
    public Tensor weight { get; }

    /// <summary>Normalizes the last dimension.</summary>
    public Tensor forward(Tensor x) => Functional.rms_norm(x, weight, _eps);
}

/// <summary>Layer normalization with learned scale and shift.</summary>
public sealed class LayerNorm : Module
{
    private readonly float _eps;

    /// <summary>Creates the layer with unit scale and zero shift.</summary>
    public LayerNorm(int dim, float eps = 1e-5f)
    {
        _eps = eps;
        weight = RegisterParameter("weight", Tensor.ones(dim));
        bias = RegisterParameter("bias", Tensor.zeros(dim));
    }

    /// <summary>Scale [dim].</summary>
    public Tensor weight { get; }

    /// <summary>Shift [dim].</summary>
    public Tensor bias { get; }

    /// <summary>Normalizes the last dimension.</summary>
    public Tensor forward(Tensor x) => Functional.layer_norm(x, weight, bias, _eps);
}

/// <summary>An indexed list of modules named "0", "1", ... (PyTorch's ModuleList).</summary>
/// <typeparam name="T">Element type.</typeparam>
public sealed class ModuleList<T> : Module
    where T : Module
{
    private readonly List<T> _items = [];

    /// <summary>Appends a module.</summary>
    public void Add(T module) => _items.Add(RegisterModule(_items.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), module));

    /// <summary>Number of modules.</summary>
    public int Count => _items.Count;

    /// <summary>The module at <paramref name="index"/>.</summary>
    public T this[int index] => _items[index];
}
