using CalRec.Tensors;
using CalRec.Tensors.Memory;
using CalRec.Tensors.Optim;

namespace CalRec.Recommenders.MetaLearning;

/// <summary>The meta-learning algorithm.</summary>
public enum MetaAlgorithm
{
    /// <summary>Reptile: adapt to a task with a few SGD steps, then move the initialization toward the adapted weights.</summary>
    Reptile,

    /// <summary>First-order MAML: adapt on a support batch, then step the initialization along the query-batch gradient at the adapted weights.</summary>
    [OptionValue("fomaml")]
    FirstOrderMaml,
}

/// <summary>How tasks (domains) are drawn for meta-learning.</summary>
public enum TaskSampling
{
    /// <summary>Every task equally often.</summary>
    Uniform,

    /// <summary>In proportion to the task's number of training examples.</summary>
    Proportional,
}

/// <summary>Settings of a meta-learning stage.</summary>
public sealed class MetaLearningOptions
{
    /// <summary>Reptile or first-order MAML.</summary>
    [TrainerOption("", "Stage 1 as meta-learning over the mixture's datasets.")]
    public MetaAlgorithm Algorithm { get; set; } = MetaAlgorithm.Reptile;

    /// <summary>How tasks are drawn.</summary>
    [TrainerOption("tasks", "How tasks (datasets) are drawn.")]
    public TaskSampling TaskSampling { get; set; } = TaskSampling.Proportional;

    /// <summary>SGD steps of the inner (task) adaptation.</summary>
    [TrainerOption("inner-steps", "Inner SGD steps per task.")]
    public int InnerSteps { get; set; } = 4;

    /// <summary>Learning rate of the inner SGD steps.</summary>
    [TrainerOption("inner-lr", "Inner SGD learning rate.")]
    public float InnerLearningRate { get; set; } = 1e-2f;

    /// <summary>
    /// Outer learning rate: Reptile's interpolation ε (θ ← θ + ε·(φ − θ)); FOMAML's AdamW step size on the query gradient.
    /// </summary>
    [TrainerOption("outer-lr", "Outer learning rate (Reptile's interpolation, FOMAML's AdamW step).")]
    public float OuterLearningRate { get; set; } = 0.5f;

    internal void Validate()
    {
        if (InnerSteps < 1 || InnerLearningRate <= 0 || OuterLearningRate <= 0)
        {
            throw new ArgumentException("Meta-learning options: InnerSteps must be at least 1 and both learning rates positive.");
        }
    }
}

/// <summary>
/// One meta-update at a time over a set of parameters, for any loss: the caller supplies the task's support batches
/// (and, for FOMAML, a query batch) as functions that build a scalar loss tensor. The inner loop is plain SGD on a copy
/// of the initialization; the initialization is then updated by Reptile's interpolation or by FOMAML's first-order
/// gradient (the query gradient at the adapted weights, applied with AdamW).
/// </summary>
public sealed class MetaLearner
{
    private readonly IReadOnlyList<ManagedTensor> _parameters;
    private readonly MetaLearningOptions _options;
    private readonly float[][] _initial;
    private readonly AdamWOptimizer? _outer;

    /// <summary>Meta-learns <paramref name="parameters"/> (those with <c>requires_grad</c>).</summary>
    public MetaLearner(IReadOnlyList<ManagedTensor> parameters, MetaLearningOptions options)
    {
        options.Validate();
        _parameters = parameters.Where(p => p.requires_grad).ToList();
        _options = options;
        _initial = _parameters.Select(p => new float[p.numel]).ToArray();
        if (options.Algorithm == MetaAlgorithm.FirstOrderMaml)
        {
            _outer = new AdamWOptimizer([new ParameterGroup(_parameters, 0f)], options.OuterLearningRate, 0.9f, 0.999f);
        }
    }

    /// <summary>Meta-updates taken.</summary>
    public int Steps { get; private set; }

    /// <summary>First-order MAML's outer optimizer (its moments go into checkpoints); null for Reptile, which has none.</summary>
    internal AdamWOptimizer? Outer => _outer;

    /// <summary>
    /// Adapts to one task with <see cref="MetaLearningOptions.InnerSteps"/> SGD steps on <paramref name="support"/>
    /// (cycled), then updates the initialization. Returns the mean support loss of the inner steps and, for FOMAML, the
    /// query loss at the adapted weights.
    /// </summary>
    public (float SupportLoss, float? QueryLoss) Step(IReadOnlyList<Func<ManagedTensor>> support, Func<ManagedTensor>? query = null, float outerScale = 1f)
    {
        if (support.Count == 0)
        {
            throw new ArgumentException("Meta-learning needs at least one support batch per task.");
        }

        if (_options.Algorithm == MetaAlgorithm.FirstOrderMaml && query is null)
        {
            throw new ArgumentException("First-order MAML needs a query batch per task.");
        }

        for (int i = 0; i < _parameters.Count; i++)
        {
            _parameters[i].Data.CopyTo(_initial[i]);
        }

        double supportLoss = 0;
        for (int s = 0; s < _options.InnerSteps; s++)
        {
            supportLoss += Sgd(support[s % support.Count]);
        }

        float? queryLoss = null;
        if (_options.Algorithm == MetaAlgorithm.Reptile)
        {
            // θ ← θ + ε·(φ − θ), written in place over φ.
            float eps = _options.OuterLearningRate * outerScale;
            for (int i = 0; i < _parameters.Count; i++)
            {
                Span<float> phi = _parameters[i].Data;
                float[] theta = _initial[i];
                for (int j = 0; j < phi.Length; j++)
                {
                    phi[j] = theta[j] + (eps * (phi[j] - theta[j]));
                }
            }
        }
        else
        {
            using (TensorScope.Begin())
            {
                ZeroGrad();
                ManagedTensor loss = query!();
                loss.backward();
                queryLoss = loss.item();
            }

            // The query gradient was taken at φ; apply it to θ.
            for (int i = 0; i < _parameters.Count; i++)
            {
                _initial[i].CopyTo(_parameters[i].Data);
            }

            _outer!.LearningRate = _options.OuterLearningRate * outerScale;
            _outer.step();
        }

        Steps++;
        return ((float)(supportLoss / _options.InnerSteps), queryLoss);
    }

    private float Sgd(Func<ManagedTensor> batch)
    {
        using TensorScope scope = TensorScope.Begin();
        ZeroGrad();
        ManagedTensor loss = batch();
        loss.backward();
        float lr = _options.InnerLearningRate;
        foreach (ManagedTensor p in _parameters)
        {
            if (p.grad is { } g)
            {
                System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(g.Data, -lr, p.Data, p.Data);
            }
        }

        return loss.item();
    }

    private void ZeroGrad()
    {
        foreach (ManagedTensor p in _parameters)
        {
            p.zero_grad();
        }
    }
}
