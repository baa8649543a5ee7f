using System.Buffers;
using System.Numerics.Tensors;

namespace CalRec.Recommenders.CalRec;

/// <summary>
/// The scores of a CALRec model trained as several members (<see cref="CalRecTrainer.Options.Members"/>): each item's
/// score is the mean of the members' dense scores, so it keeps a single member's scale (a cosine plus the weighted
/// identity logit and popularity prior) while the members' errors partly cancel.
/// </summary>
internal sealed class CalRecEnsemble : IRecommenderScorer
{
    private readonly IReadOnlyList<CalRecScorer> _members;

    public CalRecEnsemble(IReadOnlyList<CalRecScorer> members)
    {
        if (members.Count < 2 || members.Any(m => m.ItemCount != members[0].ItemCount))
        {
            throw new ArgumentException($"An ensemble needs two or more members over the same catalogue; got {members.Count} member(s).");
        }

        _members = members;
    }

    /// <inheritdoc />
    public int ItemCount => _members[0].ItemCount;

    /// <inheritdoc />
    public void Score(IReadOnlyList<int[]> histories, Span<float> scores)
    {
        Span<float> all = scores[..(histories.Count * ItemCount)];
        _members[0].Score(histories, all);
        float[] rented = ArrayPool<float>.Shared.Rent(all.Length);
        try
        {
            Span<float> member = rented.AsSpan(0, all.Length);
            for (int m = 1; m < _members.Count; m++)
            {
                _members[m].Score(histories, member);
                TensorPrimitives.Add(all, member, all);
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(rented);
        }

        TensorPrimitives.Multiply(all, 1f / _members.Count, all);
    }
}
