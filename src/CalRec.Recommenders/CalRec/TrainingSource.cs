using CalRec.Data;
using CalRec.Data.Splits;

namespace CalRec.Recommenders.CalRec;

/// <summary>
/// A dataset's contribution to training: its catalogue, its user ids and the training part of a split (never a
/// validation or test target). Build one with <see cref="FromSplit(LeaveOneOutSplit)"/> or
/// <see cref="FromSplit(TemporalSplit, InteractionDataset)"/>, so that held-out items cannot reach training by construction.
/// </summary>
/// <param name="Name">The dataset's name (for messages and domain labels).</param>
/// <param name="Items">The catalogue, indexed like the sequences.</param>
/// <param name="Users">User ids, indexed like <paramref name="Train"/>.</param>
/// <param name="Train">Training sequences per user (item indices, oldest first).</param>
public sealed record TrainingSource(string Name, IReadOnlyList<CatalogItem> Items, IReadOnlyList<string> Users, IReadOnlyList<int[]> Train)
{
    /// <summary>The training part of a leave-one-out split (everything before each user's validation item).</summary>
    public static TrainingSource FromSplit(LeaveOneOutSplit split) => new(split.Data.Name, split.Data.Items, split.Data.Users, split.Train);

    /// <summary>The training part of a temporal split of <paramref name="data"/> (interactions before the cut).</summary>
    public static TrainingSource FromSplit(TemporalSplit split, InteractionDataset data) => new(data.Name, data.Items, data.Users, split.Train);
}
