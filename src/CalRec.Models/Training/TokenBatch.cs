namespace CalRec.Models.Training;

/// <summary>
/// One (micro-)batch of next-token training: <see cref="Ids"/> predicting <see cref="Targets"/> ([batch · seq], -100
/// skips), and the share of the optimizer step's counted targets it holds: the step's loss is the sum of its
/// micro-batches' mean losses times their shares, exactly the mean over the whole batch.
/// </summary>
/// <param name="Ids">Input token ids, row-major [batch · seq].</param>
/// <param name="Targets">Next-token targets, -100 where no loss is taken.</param>
/// <param name="Batch">Rows.</param>
/// <param name="Seq">Tokens per row.</param>
/// <param name="Share">This micro-batch's fraction of the step's counted targets (1 for a whole batch).</param>
public sealed record TokenBatch(int[] Ids, int[] Targets, int Batch, int Seq, float Share = 1f)
{
    /// <summary>The target value that takes no loss.</summary>
    public const int Ignore = -100;

    /// <summary>
    /// The batch as <paramref name="parts"/> micro-batches of (nearly) equal rows, in order, each with its share of the
    /// counted targets (parts with no counted target are left out; at most one part per row).
    /// </summary>
    public IReadOnlyList<TokenBatch> Split(int parts)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(parts, 1);
        parts = Math.Min(parts, Batch);
        if (parts == 1)
        {
            return [this];
        }

        int total = Targets.Count(t => t != Ignore);
        var result = new List<TokenBatch>(parts);
        for (int k = 0; k < parts; k++)
        {
            int from = Batch * k / parts, to = Batch * (k + 1) / parts;
            int[] targets = Targets[(from * Seq)..(to * Seq)];
            int counted = targets.Count(t => t != Ignore);
            if (counted > 0)
            {
                result.Add(new TokenBatch(Ids[(from * Seq)..(to * Seq)], targets, to - from, Seq, (float)counted / total));
            }
        }

        return result;
    }
}
