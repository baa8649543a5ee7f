namespace CalRec.Tensors.NN;

/// <summary>
/// Low-rank adapter on a <see cref="LinearLayer"/> layer (Hu et al., LoRA): the layer computes
/// <c>x·Wᵀ + b + (alpha / r)·dropout(x)·Aᵀ·Bᵀ</c> with A [r, in] random and B [out, r] zero at the start, so a fresh
/// adapter changes nothing. Parameter names follow PEFT (<c>lora_A.weight</c>, <c>lora_B.weight</c>).
/// </summary>
public sealed class LoraAdapter : NeuralModule
{
    private readonly SeededRandom _dropoutGenerator;

    internal LoraAdapter(int inFeatures, int outFeatures, int rank, float alpha, float dropout, SeededRandom generator)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rank);
        Rank = rank;
        Alpha = alpha;
        Dropout = dropout;
        Scale = alpha / rank;
        // PEFT initializes A with Kaiming-uniform(a = sqrt(5)), i.e. U(-1/sqrt(in), 1/sqrt(in)), and B with zeros.
        float bound = 1f / MathF.Sqrt(inFeatures);
        lora_A = RegisterModule("lora_A", new LinearLayer(inFeatures, rank, false, generator));
        ManagedTensor.rand(generator, -bound, bound, rank, inFeatures).Data.CopyTo(lora_A.weight.Data);
        lora_B = RegisterModule("lora_B", new LinearLayer(rank, outFeatures, false, generator));
        lora_B.weight.Data.Clear();
        _dropoutGenerator = new SeededRandom(generator.NextUInt64());
    }

    /// <summary>Down projection A [r, in].</summary>
    public LinearLayer lora_A { get; }

    /// <summary>Up projection B [out, r].</summary>
    public LinearLayer lora_B { get; }

    /// <summary>Rank r.</summary>
    public int Rank { get; }

    /// <summary>Scaling numerator alpha.</summary>
    public float Alpha { get; }

    /// <summary>Dropout on the adapter input while training.</summary>
    public float Dropout { get; }

    /// <summary>alpha / r.</summary>
    public float Scale { get; }

    /// <summary>The adapter's contribution for input x [..., in].</summary>
    public ManagedTensor forward(ManagedTensor x, bool training) =>
        lora_B.forward(lora_A.forward(Functional.dropout(x, Dropout, training, _dropoutGenerator))).mul(Scale);
}
