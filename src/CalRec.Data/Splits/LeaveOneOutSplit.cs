using CalRec.Data;

namespace CalRec.Data.Splits;

/// <summary>One evaluation case: a user's history before the target, and the target item.</summary>
/// <param name="User">User index.</param>
/// <param name="History">Item indices before the target, oldest first.</param>
/// <param name="Target">The item to predict.</param>
public sealed record EvaluationCase(int User, int[] History, int Target);

/// <summary>
/// Per-user leave-one-out: the last item of each history is the test target, the second to last the validation target,
/// and everything before that is training data. Users with fewer than three interactions are left out of validation and
/// test (their whole history is training data). Without a test hold-out (a model trained for production) the last item
/// is the validation target and users need two interactions.
/// </summary>
public sealed class LeaveOneOutSplit
{
    /// <summary>Splits <paramref name="data"/>; <paramref name="holdOutTest"/> false keeps no test targets.</summary>
    public LeaveOneOutSplit(InteractionDataset data, bool holdOutTest = true)
    {
        Data = data;
        var train = new int[data.Sequences.Count][];
        var valid = new List<EvaluationCase>();
        var test = new List<EvaluationCase>();
        for (int u = 0; u < data.Sequences.Count; u++)
        {
            int[] s = data.Sequences[u];
            if (!holdOutTest)
            {
                train[u] = s.Length < 2 ? s : s[..^1];
                if (s.Length >= 2)
                {
                    valid.Add(new EvaluationCase(u, s[..^1], s[^1]));
                }

                continue;
            }

            if (s.Length < 3)
            {
                train[u] = s;
                continue;
            }

            train[u] = s[..^2];
            valid.Add(new EvaluationCase(u, s[..^2], s[^2]));
            test.Add(new EvaluationCase(u, s[..^1], s[^1]));
        }

        Train = train;
        Validation = valid;
        Test = test;
    }

    /// <summary>The dataset.</summary>
    public InteractionDataset Data { get; }

    /// <summary>Training sequences per user (never contain a validation or test target).</summary>
    public IReadOnlyList<int[]> Train { get; }

    /// <summary>Validation cases: history = training sequence, target = second-to-last item.</summary>
    public IReadOnlyList<EvaluationCase> Validation { get; }

    /// <summary>Test cases: history = everything but the last item, target = last item.</summary>
    public IReadOnlyList<EvaluationCase> Test { get; }
}
