using CalRec.MLNet.Evaluation;
using CalRec.MLNet.Persistence;
using CalRec.Recommenders;
using CalRec.Recommenders.Evaluation;
using Microsoft.ML;

namespace CalRec.MLNet;

/// <summary>The entry point: <c>mlContext.SequentialRecommendation()</c>, as <c>mlContext.Recommendation()</c> is for matrix factorization.</summary>
public static class MLContextExtensions
{
    /// <summary>Sequential ("what will this user pick next") recommendation: trainers, tables, evaluation and model files.</summary>
    public static SequentialRecommendationCatalog SequentialRecommendation(this MLContext mlContext)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        return new SequentialRecommendationCatalog(mlContext);
    }
}

/// <summary>
/// Sequential recommendation on an <see cref="MLContext"/>: <see cref="Trainers"/> (estimators over interactions
/// tables), <see cref="Data"/> (history and evaluation tables), <see cref="Evaluate"/> (metrics from a scored table),
/// and <see cref="SaveModel"/>/<see cref="LoadModel"/> (the zip <c>mlContext.Model.Save</c> writes, with the
/// recommenders' weights inside it).
/// </summary>
public sealed class SequentialRecommendationCatalog
{
    internal SequentialRecommendationCatalog(MLContext mlContext)
    {
        MLContext = mlContext;
        Trainers = new SequentialRecommendationTrainers(mlContext);
        Data = new SequentialRecommendationData(mlContext);
        Transforms = new SequentialRecommendationTransforms(mlContext);
    }

    /// <summary>The context.</summary>
    public MLContext MLContext { get; }

    /// <summary>The recommender trainers.</summary>
    public SequentialRecommendationTrainers Trainers { get; }

    /// <summary>History and evaluation tables made from interactions tables.</summary>
    public SequentialRecommendationData Data { get; }

    /// <summary>Transforms over fitted recommenders (grounding CALRec's generated texts).</summary>
    public SequentialRecommendationTransforms Transforms { get; }

    /// <summary>
    /// Writes <paramref name="model"/> (a recommender, or a pipeline holding recommenders and ML.NET's own transforms)
    /// to <paramref name="path"/>: ML.NET's model zip with the recommenders' components as extra entries, replaced
    /// atomically. Plain <c>mlContext.Model.Save</c> cannot write the components and refuses such a model.
    /// </summary>
    public void SaveModel(ITransformer model, DataViewSchema inputSchema, string path) => ModelZip.Save(MLContext, model, inputSchema, path);

    /// <summary>
    /// Loads a model written by <see cref="SaveModel"/> (also a plain ML.NET model, or a model zip of the library's
    /// earlier format, which loads as one recommender with the default columns).
    /// </summary>
    public ITransformer LoadModel(string path, out DataViewSchema inputSchema) => ModelZip.Load(MLContext, path, out inputSchema);

    /// <summary>
    /// A transformer over a model fitted with the library's trainers directly (<c>RecContext</c>) or loaded from the
    /// library's model archive; <paramref name="columns"/> defaults to <see cref="RecommendationColumns.Default"/>.
    /// </summary>
    public SequentialRecommendationTransformer CreateTransformer(RecommenderModel model, RecommendationColumns? columns = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        return new SequentialRecommendationTransformer(MLContext, model, columns ?? RecommendationColumns.Default);
    }

    /// <summary>The last recommender of a pipeline (or the model itself when it is one), or null when it holds none.</summary>
    public static SequentialRecommendationTransformer? FindRecommender(ITransformer model) => model switch
    {
        SequentialRecommendationTransformer t => t,
        IEnumerable<ITransformer> chain => chain.Select(FindRecommender).LastOrDefault(t => t is not null),
        _ => null,
    };

    /// <summary>
    /// Ranking metrics (NDCG, HR and MRR at each K, with bootstrap intervals; coverage when
    /// <paramref name="catalogSize"/> is given) of a scored table: the output of a recommender's <c>Transform</c> on
    /// an evaluation table such as <c>Data.LeaveOneOutTestSet</c>. Equal to the
    /// library's full-ranking evaluator for every K up to the scored lists' length.
    /// </summary>
    public RecommendationMetrics Evaluate(IDataView data, string labelColumnName = DefaultColumnNames.Label, string predictedItemIdsColumnName = DefaultColumnNames.PredictedItemIds,
        IReadOnlyList<int>? ks = null, int? catalogSize = null, int bootstrapSamples = 1000, ulong seed = 7) =>
        ScoredTableEvaluator.Evaluate(data, labelColumnName, predictedItemIdsColumnName, ks ?? [1, 5, 10], catalogSize, null, bootstrapSamples, seed).Metrics;

    /// <summary>
    /// <see cref="Evaluate"/> per value of <paramref name="groupColumnName"/> (for example the domain of each label), in
    /// order of first appearance, after the metrics of the whole table.
    /// </summary>
    public IReadOnlyList<(string Group, RecommendationMetrics Metrics)> EvaluateByGroup(IDataView data, string groupColumnName, string labelColumnName = DefaultColumnNames.Label,
        string predictedItemIdsColumnName = DefaultColumnNames.PredictedItemIds, IReadOnlyList<int>? ks = null, int bootstrapSamples = 1000, ulong seed = 7)
    {
        (RecommendationMetrics all, List<string?> groups) = ScoredTableEvaluator.Evaluate(data, labelColumnName, predictedItemIdsColumnName, ks ?? [1, 5, 10], null, groupColumnName, bootstrapSamples, seed);
        return [("all", all), .. all.BreakDown(i => groups[i] ?? "")];
    }
}
