using System.Diagnostics;
using CalRec.Data.Splits;

namespace CalRec.Recommenders.MostPopular;

/// <summary>Counts item occurrences in the training sequences and recommends the most frequent items to everyone.</summary>
public sealed class MostPopularTrainer : RecommenderTrainer
{
    /// <summary>The kind of the models this trainer fits (<see cref="RecommenderModel.Kind"/>).</summary>
    public const string ModelKind = "mostpop";

    internal MostPopularTrainer()
    {
    }

    /// <inheritdoc />
    public override RecommenderModel Fit(LeaveOneOutSplit split, CancellationToken cancellation = default)
    {
        var clock = Stopwatch.StartNew();
        var scorer = new MostPopularScorer(split.Train, split.Data.ItemCount);
        return new RecommenderModel(ModelKind, scorer, split.Data.Items,
            new TrainingInfo(split.Data.Name, DateTimeOffset.UtcNow, clock.Elapsed.TotalSeconds, 0, null, new Dictionary<string, string>()));
    }
}
