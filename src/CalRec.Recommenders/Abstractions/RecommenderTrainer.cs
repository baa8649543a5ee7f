using CalRec.Data;
using CalRec.Data.Splits;

namespace CalRec.Recommenders;

/// <summary>
/// A recommender trainer (ML.NET's estimator): <see cref="Fit(InteractionDataset, CancellationToken)"/> trains on a
/// dataset's leave-one-out training part, uses its validation targets for model selection, never sees its test
/// targets, and returns the fitted <see cref="RecommenderModel"/>. Get trainers from <see cref="RecContext.Trainers"/>.
/// </summary>
public abstract class RecommenderTrainer
{
    private protected RecommenderTrainer()
    {
    }

    /// <summary>Splits <paramref name="data"/> leave-one-out and trains on it.</summary>
    public RecommenderModel Fit(InteractionDataset data, CancellationToken cancellation = default) => Fit(new LeaveOneOutSplit(data), cancellation);

    /// <summary>Trains on <paramref name="split"/>'s training sequences, selecting on its validation cases.</summary>
    public abstract RecommenderModel Fit(LeaveOneOutSplit split, CancellationToken cancellation = default);
}
