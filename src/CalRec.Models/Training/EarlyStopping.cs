namespace CalRec.Models.Training;

/// <summary>
/// Model selection and early stopping on a validation metric, shared by every training loop (SASRec, CALRec's stages,
/// causal-LM pretraining): remembers the best value, counts validations since it, and says when to stop. Its state is
/// three numbers, so a checkpoint stores and restores it exactly.
/// </summary>
public sealed class EarlyStopping
{
    private readonly bool _higherIsBetter;

    /// <summary>Creates the record before the first validation.</summary>
    /// <param name="higherIsBetter">True for metrics such as NDCG, false for losses.</param>
    /// <param name="patience">Stop after this many validations without improvement (0: never stop early).</param>
    /// <param name="minValidations">Never stop before this many validations.</param>
    public EarlyStopping(bool higherIsBetter, int patience, int minValidations = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(patience);
        ArgumentOutOfRangeException.ThrowIfNegative(minValidations);
        _higherIsBetter = higherIsBetter;
        Patience = patience;
        MinValidations = minValidations;
    }

    /// <summary>Validations without improvement that stop training (0: never).</summary>
    public int Patience { get; }

    /// <summary>Validations before stopping is allowed.</summary>
    public int MinValidations { get; }

    /// <summary>The best value so far, or null before the first validation.</summary>
    public double? Best { get; private set; }

    /// <summary>Validations since the best one.</summary>
    public int Stale { get; private set; }

    /// <summary>Validations so far.</summary>
    public int Validations { get; private set; }

    /// <summary>Whether training should stop now.</summary>
    public bool ShouldStop => Patience > 0 && Stale >= Patience && Validations >= MinValidations;

    /// <summary>Records one validation; true when it is a new best (ties are not).</summary>
    public bool Offer(double value)
    {
        Validations++;
        if (Best is not double best || (_higherIsBetter ? value > best : value < best))
        {
            Best = value;
            Stale = 0;
            return true;
        }

        Stale++;
        return false;
    }

    /// <summary>Restores the state a checkpoint saved.</summary>
    public void Restore(double? best, int stale, int validations)
    {
        Best = best;
        Stale = stale;
        Validations = validations;
    }
}
