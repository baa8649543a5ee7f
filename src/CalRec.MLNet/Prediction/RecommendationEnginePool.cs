using Microsoft.Extensions.ObjectPool;
using Microsoft.ML;

namespace CalRec.MLNet;

/// <summary>The output row of a recommender: what a PredictionEngine fills.</summary>
public sealed class RecommendationRow
{
    /// <summary>Recommended item ids, best first.</summary>
    public string[] PredictedItemIds { get; set; } = [];

    /// <summary>Their scores, aligned with the ids.</summary>
    public float[] Scores { get; set; } = [];
}

/// <summary>
/// A thread-safe pool of <see cref="PredictionEngine{TSrc, TDst}"/>s over one model, for servers handling concurrent
/// requests (as <c>PredictionEnginePool</c> of Microsoft.Extensions.ML does): a PredictionEngine reuses its buffers and
/// is not thread-safe, so each call borrows one and returns it.
/// </summary>
/// <typeparam name="TInput">The input class (for example <see cref="HistoryRow"/>).</typeparam>
/// <typeparam name="TOutput">The output class (for example <see cref="RecommendationRow"/>).</typeparam>
public sealed class RecommendationEnginePool<TInput, TOutput>
    where TInput : class
    where TOutput : class, new()
{
    private readonly ObjectPool<PredictionEngine<TInput, TOutput>> _pool;

    /// <summary>Creates an empty pool over <paramref name="model"/>; engines are made on demand and reused.</summary>
    public RecommendationEnginePool(MLContext mlContext, ITransformer model)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        ArgumentNullException.ThrowIfNull(model);
        Model = model;
        _pool = new DefaultObjectPool<PredictionEngine<TInput, TOutput>>(new Policy(mlContext, model), Environment.ProcessorCount * 2);
    }

    /// <summary>The model.</summary>
    public ITransformer Model { get; }

    /// <summary>Thread-safe single prediction: borrows an engine, predicts, returns it to the pool.</summary>
    public TOutput Predict(TInput input)
    {
        PredictionEngine<TInput, TOutput> engine = _pool.Get();
        try
        {
            return engine.Predict(input);
        }
        finally
        {
            _pool.Return(engine);
        }
    }

    private sealed class Policy(MLContext mlContext, ITransformer model) : PooledObjectPolicy<PredictionEngine<TInput, TOutput>>
    {
        public override PredictionEngine<TInput, TOutput> Create() => mlContext.Model.CreatePredictionEngine<TInput, TOutput>(model);

        public override bool Return(PredictionEngine<TInput, TOutput> obj) => true;
    }
}
