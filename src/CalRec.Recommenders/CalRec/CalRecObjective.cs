using CalRec.Models.Decoder;
using CalRec.Models.Embeddings;
using CalRec.Recommenders.Evaluation;
using CalRec.Tensors;
using F = CalRec.Tensors.Functional;

namespace CalRec.Recommenders.CalRec;

/// <summary>The weights of CALRec's three loss terms.</summary>
/// <param name="Lm">w_lm: next-item generation (causal LM loss on the target items' tokens).</param>
/// <param name="ItemItem">w_tt: InfoNCE between the target item inside the history and the same item alone.</param>
/// <param name="UserItem">w_ut: InfoNCE between the history before the target and the target item alone.</param>
/// <param name="TextLm">
/// With the item-ID hybrid, the weight of L_NIG's text positions beside its identity positions (1: both count fully;
/// 0: only the identity tokens are predicted, and the text positions' vocabulary projection is not computed).
/// </param>
public readonly record struct LossWeights(float Lm, float ItemItem, float UserItem, float TextLm = 1f)
{
    /// <summary>
    /// The weights of one micro-batch of a step split into <paramref name="all"/>: each term scaled by the micro-batch's
    /// share of that term's positions (LM targets for w_lm, target items for w_tt and w_ut), so that the micro-batches'
    /// gradients add up to the mean over the whole step. For the LM term the sum equals one pass over all the examples;
    /// the contrastive terms rank each micro-batch against its own in-batch negatives.
    /// </summary>
    public LossWeights ShareOf(HistoryBatch micro, IReadOnlyList<HistoryBatch> all)
    {
        ArgumentNullException.ThrowIfNull(micro);
        ArgumentNullException.ThrowIfNull(all);
        if (all.Count == 1)
        {
            return this;
        }

        float lm = (float)micro.LmTargets.Length / Math.Max(1, all.Sum(b => b.LmTargets.Length));
        float targets = (float)micro.TargetKeys.Length / Math.Max(1, all.Sum(b => b.TargetKeys.Length));
        return new LossWeights(Lm * lm, ItemItem * targets, UserItem * targets, TextLm);
    }
}

/// <summary>The unweighted loss terms of one batch (NaN for a term whose weight is zero: it is not computed).</summary>
/// <param name="Total">The weighted sum that is minimized.</param>
/// <param name="Lm">L_NIG.</param>
/// <param name="ItemItem">L_TT.</param>
/// <param name="UserItem">L_UT.</param>
/// <param name="Tokens">Real tokens in the history pass.</param>
public readonly record struct LossValues(float Total, float Lm, float ItemItem, float UserItem, int Tokens)
{
    /// <summary>
    /// The terms of a step made of micro-batches: each term averaged with the micro-batches' shares of its positions
    /// (as <see cref="LossWeights.ShareOf"/>), the total recomputed with <paramref name="weights"/>, tokens summed.
    /// </summary>
    public static LossValues Combine(IReadOnlyList<LossValues> values, IReadOnlyList<HistoryBatch> batches, LossWeights weights)
    {
        ArgumentNullException.ThrowIfNull(values);
        ArgumentNullException.ThrowIfNull(batches);
        if (values.Count == 1)
        {
            return values[0];
        }

        double lmPositions = batches.Sum(b => b.LmTargets.Length), targets = batches.Sum(b => b.TargetKeys.Length);
        float Mean(Func<LossValues, float> term, Func<HistoryBatch, int> count, double all) =>
            float.IsNaN(term(values[0])) ? float.NaN : (float)values.Select((v, i) => term(v) * count(batches[i]) / Math.Max(1, all)).Sum();
        float lm = Mean(v => v.Lm, b => b.LmTargets.Length, lmPositions);
        float tt = Mean(v => v.ItemItem, b => b.TargetKeys.Length, targets);
        float ut = Mean(v => v.UserItem, b => b.TargetKeys.Length, targets);
        float total = (float.IsNaN(lm) ? 0 : weights.Lm * lm) + (float.IsNaN(tt) ? 0 : weights.ItemItem * tt) + (float.IsNaN(ut) ? 0 : weights.UserItem * ut);
        return new LossValues(total, lm, tt, ut, values.Sum(v => v.Tokens));
    }
}

/// <summary>
/// CALRec's objective L = w_lm·L_NIG + w_tt·L_TT + w_ut·L_UT over a <see cref="HistoryBatch"/>, with every target
/// position of every history trained in the same causal pass. The contrastive terms use cosine similarity over
/// L2-normalized representations divided by the temperature, with in-batch negatives: the distinct target items of
/// the batch (a repeated item is never its own negative), plus the batch's <see cref="HistoryBatch.Negatives"/> when
/// it carries a catalogue-wide bank; each key's logits shifted by <see cref="HistoryBatch.KeyLogitOffsets"/> when it carries
/// them (the logQ correction).
/// </summary>
internal static class CalRecObjective
{
    public static ManagedTensor Loss(DecoderLM model, HistoryBatch batch, LossWeights weights, Pooling pooling, float temperature, out LossValues values)
    {
        ManagedTensor hidden = model.Hidden(batch.Ids, batch.Rows, batch.Length, ManagedTensor.from(batch.Mask, batch.Rows, batch.Length));
        ManagedTensor flat = hidden.reshape(-1, model.Config.HiddenSize);
        ManagedTensor? total = null;
        float lm = float.NaN, tt = float.NaN, ut = float.NaN;
        if (weights.Lm != 0f)
        {
            ManagedTensor? l = batch.Identities is { } id ? HybridLm(model, flat, batch, id, weights.TextLm) : F.cross_entropy(model.Logits(F.gather_rows(flat, batch.LmPositions)), batch.LmTargets);
            if (l is not null)
            {
                lm = l.item();
                total = Add(total, l, weights.Lm);
            }
        }

        if (weights.ItemItem != 0f || weights.UserItem != 0f)
        {
            ManagedTensor items = F.l2_normalize(TwoTowerEncoder.EncodeItemRows(model, batch.ItemIds, batch.ItemMask, batch.ItemRows, batch.ItemLength, batch.ItemLast, pooling));
            ManagedTensor keys = F.gather_rows(items, batch.TargetKeys);
            ManagedTensor? bank = batch.Negatives is { } b ? ManagedTensor.from(b.Vectors, b.Count, b.Dimension) : null;
            if (weights.UserItem != 0f)
            {
                ManagedTensor user = F.l2_normalize(Pool(flat, batch.UserStarts, batch.UserLengths, pooling));
                ManagedTensor l = InfoNce(user, keys, bank, batch, temperature);
                ut = l.item();
                total = Add(total, l, weights.UserItem);
            }

            if (weights.ItemItem != 0f)
            {
                ManagedTensor inContext = F.l2_normalize(Pool(flat, batch.TargetStarts, batch.TargetLengths, pooling));
                ManagedTensor l = InfoNce(inContext, keys, bank, batch, temperature);
                tt = l.item();
                total = Add(total, l, weights.ItemItem);
            }
        }

        if (total is null)
        {
            throw new ArgumentException("Nothing to train in this batch: every loss weight is zero, or w_tt = w_ut = 0 and L_NIG has no position (identity tokens only, in a batch without target items).");
        }

        values = new LossValues(total.item(), lm, tt, ut, batch.TokenCount);
        return total;
    }

    /// <summary>
    /// L_NIG of the item-ID hybrid: text positions over the text vocabulary (weighted by <paramref name="textWeight"/>,
    /// skipped at 0), plus identity positions over the identity tokens (each a mean; the second absent when the batch has
    /// no identity target, as a batch of another domain of the stage-1 mixture). Null when neither part is present.
    /// </summary>
    private static ManagedTensor? HybridLm(DecoderLM model, ManagedTensor flat, HistoryBatch batch, IdentityTokens id, float textWeight)
    {
        ManagedTensor? text = textWeight == 0f ? null : F.cross_entropy(
            F.gather_rows(flat, batch.TextLmPositions).matmul(F.slice(model.OutputWeight, 0, 0, id.Base), transB: true), batch.TextLmTargets);
        if (text is not null && textWeight != 1f)
        {
            text = text.mul(textWeight);
        }

        if (batch.IdentityLmPositions.Length == 0)
        {
            return text;
        }

        ManagedTensor identity = F.cross_entropy(
            F.gather_rows(flat, batch.IdentityLmPositions).matmul(F.slice(model.OutputWeight, 0, id.Base, id.Count), transB: true), batch.IdentityLmTargets);
        return text is null ? identity : text.add(identity);
    }

    private static ManagedTensor InfoNce(ManagedTensor queries, ManagedTensor keys, ManagedTensor? bank, HistoryBatch batch, float temperature) => bank is null
        ? F.info_nce(queries, keys, temperature, batch.TargetKeys, keyLogitOffsets: batch.KeyLogitOffsets.Length > 0 ? batch.KeyLogitOffsets : null)
        : F.info_nce(queries, keys, bank, batch.ExcludedNegatives, temperature, batch.TargetKeys);

    /// <summary>Mean pooling over each span, or the state at each span's last position.</summary>
    private static ManagedTensor Pool(ManagedTensor flat, int[] starts, int[] lengths, Pooling pooling)
    {
        if (pooling == Pooling.Mean)
        {
            return F.segment_mean(flat, starts, lengths);
        }

        int[] rows = new int[starts.Length];
        for (int i = 0; i < rows.Length; i++)
        {
            rows[i] = starts[i] + lengths[i] - 1;
        }

        return F.gather_rows(flat, rows);
    }

    private static ManagedTensor Add(ManagedTensor? total, ManagedTensor term, float weight)
    {
        ManagedTensor weighted = weight == 1f ? term : term.mul(weight);
        return total is null ? weighted : total.add(weighted);
    }
}
