using CalRec.Data;

namespace CalRec.Data.Splits;

/// <summary>
/// Global temporal split: interactions are ordered by timestamp across all users; the cut points at the given
/// fractions separate training, validation and test time ranges. A user's validation (test) cases are their
/// interactions inside that range, each with everything earlier as history.
/// </summary>
public sealed class TemporalSplit
{
    /// <summary>Splits <paramref name="data"/>, which must carry timestamps.</summary>
    public TemporalSplit(InteractionDataset data, double trainFraction = 0.8, double validationFraction = 0.1)
    {
        IReadOnlyList<long[]> timestamps = data.Timestamps
            ?? throw new ArgumentException($"{data.Name} has no timestamps (order only); use the leave-one-out split.");

        if (trainFraction <= 0 || validationFraction < 0 || trainFraction + validationFraction >= 1)
        {
            throw new ArgumentOutOfRangeException(nameof(trainFraction), "Fractions must satisfy 0 < train, 0 <= validation, train + validation < 1.");
        }

        long[] all = timestamps.SelectMany(t => t).Order().ToArray();
        TrainEnd = all[(int)Math.Min(all.Length - 1, Math.Floor(trainFraction * all.Length))];
        ValidationEnd = all[(int)Math.Min(all.Length - 1, Math.Floor((trainFraction + validationFraction) * all.Length))];
        var train = new int[data.Sequences.Count][];
        var valid = new List<EvaluationCase>();
        var test = new List<EvaluationCase>();
        for (int u = 0; u < data.Sequences.Count; u++)
        {
            int[] s = data.Sequences[u];
            long[] ts = timestamps[u];
            int cut = 0;
            while (cut < s.Length && ts[cut] < TrainEnd)
            {
                cut++;
            }

            train[u] = s[..cut];
            for (int j = Math.Max(cut, 1); j < s.Length; j++)
            {
                (ts[j] < ValidationEnd ? valid : test).Add(new EvaluationCase(u, s[..j], s[j]));
            }
        }

        Train = train;
        Validation = valid;
        Test = test;
    }

    /// <summary>First timestamp of the validation range.</summary>
    public long TrainEnd { get; }

    /// <summary>First timestamp of the test range.</summary>
    public long ValidationEnd { get; }

    /// <summary>Training interactions per user (before <see cref="TrainEnd"/>).</summary>
    public IReadOnlyList<int[]> Train { get; }

    /// <summary>Cases with targets in [TrainEnd, ValidationEnd).</summary>
    public IReadOnlyList<EvaluationCase> Validation { get; }

    /// <summary>Cases with targets at or after ValidationEnd.</summary>
    public IReadOnlyList<EvaluationCase> Test { get; }
}
