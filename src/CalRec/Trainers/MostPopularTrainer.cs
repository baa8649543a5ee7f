using System.Diagnostics;
using CalRec.Baselines;
using CalRec.Data.Splits;
using CalRec.Prediction;

namespace CalRec.Trainers;

/// <summary>Counts item occurrences in the training sequences and recommends the most frequent items to everyone.</summary>
public sealed class MostPopularTrainer : RecommenderTrainer
{
    internal MostPopularTrainer()
    {
    }

    /// <inheritdoc />
    public override RecommenderModel Fit(LeaveOneOutSplit split, CancellationToken cancellation = default)
    {
        var clock = Stopwatch.StartNew();
        var scorer = new MostPopularScorer(split.Train, split.Data.ItemCount);
        return new RecommenderModel("mostpop", scorer, split.Data.Items,
            new TrainingInfo(split.Data.Name, DateTimeOffset.UtcNow, clock.Elapsed.TotalSeconds, 0, null, new Dictionary<string, string>()));
    }
}
