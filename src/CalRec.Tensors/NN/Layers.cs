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

    /// <summary>Applies the layer to [..., in].</summary>
    public Tensor forward(Tensor x) => Functional.linear(x, weight, bias);
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
