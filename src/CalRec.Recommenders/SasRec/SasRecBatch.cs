namespace CalRec.Recommenders.SasRec;

/// <summary>
/// One (micro-)batch of SASRec's training step: left-padded windows of item table rows and the positions trained, with
/// the share of the step's positions it holds: the step's loss is the sum of its micro-batches' mean losses times their
/// shares, exactly the mean over the whole batch.
/// </summary>
/// <param name="Rows">Item table rows [batch · length] (item + 1, 0 = padding), left padded.</param>
/// <param name="Batch">Windows (users).</param>
/// <param name="Length">Window length.</param>
/// <param name="Positions">The flat positions trained, by window.</param>
/// <param name="Targets">Their next items (item indices).</param>
/// <param name="Negatives">With binary cross-entropy, per sample a table row for every position; null for cross-entropy.</param>
/// <param name="Share">This micro-batch's fraction of the step's positions (1 for a whole batch).</param>
public sealed record SasRecBatch(int[] Rows, int Batch, int Length, int[] Positions, int[] Targets, int[][]? Negatives, float Share = 1f)
{
    /// <summary>
    /// The batch as <paramref name="parts"/> micro-batches of (nearly) equal windows, in order, each with its positions
    /// renumbered and its share (parts without a position are left out; at most one part per window).
    /// </summary>
    public IReadOnlyList<SasRecBatch> Split(int parts)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(parts, 1);
        parts = Math.Min(parts, Batch);
        if (parts == 1)
        {
            return [this];
        }

        var result = new List<SasRecBatch>(parts);
        int first = 0;
        for (int k = 0; k < parts; k++)
        {
            int from = Batch * k / parts, to = Batch * (k + 1) / parts;
            // Positions are ordered by window, so a part's positions are one run of the arrays.
            int end = first;
            while (end < Positions.Length && Positions[end] < to * Length)
            {
                end++;
            }

            if (end > first)
            {
                int offset = from * Length;
                result.Add(new SasRecBatch(Rows[offset..(to * Length)], to - from, Length, Positions[first..end].Select(p => p - offset).ToArray(), Targets[first..end],
                    Negatives?.Select(n => n[first..end]).ToArray(), (float)(end - first) / Positions.Length));
            }

            first = end;
        }

        return result;
    }
}
