using CalRec.Models.Embeddings;
using CalRec.Recommenders.CalRec;
using CalRec.Torch.Decoder;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace CalRec.Torch.CalRec;

/// <summary>
/// CALRec's objective on TorchSharp, term for term as our engine computes it: L = w_lm·L_NIG + w_tt·L_TT + w_ut·L_UT
/// over a <see cref="HistoryBatch"/>, every target position trained in the same causal pass; the contrastive terms are
/// InfoNCE over L2-normalized representations divided by the temperature with the batch's distinct target items as
/// negatives (a repeated item is never its own negative), each key's logits shifted by the batch's
/// <see cref="HistoryBatch.KeyLogitOffsets"/> when it carries them.
/// </summary>
public static class TorchCalRecObjective
{
    /// <summary>The weighted loss (a scalar with gradients) and its terms.</summary>
    public static Tensor Loss(TorchDecoderLM model, HistoryBatch batch, LossWeights weights, Pooling pooling, float temperature, out LossValues values, Tensor? negatives = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(batch);
        Device device = model.TokenEmbedding.device;
        int d = model.Config.HiddenSize;
        Tensor mask = tensor(batch.Mask, [batch.Rows, batch.Length], device: device);
        Tensor flat = model.Hidden(Longs(batch.Ids, [batch.Rows, batch.Length], device), mask).reshape(-1, d);
        negatives ??= batch.Negatives is { } b ? tensor(b.Vectors, [b.Count, b.Dimension], device: device) : null;
        Tensor? total = null;
        float lm = float.NaN, tt = float.NaN, ut = float.NaN;
        if (weights.Lm != 0f)
        {
            Tensor? l = batch.Identities is { } id
                ? HybridLm(model, flat, batch, id, weights.TextLm, device)
                : F.cross_entropy(model.Logits(flat.index_select(0, Longs(batch.LmPositions, [batch.LmPositions.Length], device))), Longs(batch.LmTargets, [batch.LmTargets.Length], device));
            if (l is not null)
            {
                lm = l.item<float>();
                total = Add(total, l, weights.Lm);
            }
        }

        if (weights.ItemItem != 0f || weights.UserItem != 0f)
        {
            Tensor itemMask = tensor(batch.ItemMask, [batch.ItemRows, batch.ItemLength], device: device);
            Tensor itemHidden = model.Hidden(Longs(batch.ItemIds, [batch.ItemRows, batch.ItemLength], device), itemMask);
            Tensor items = pooling == Pooling.Mean
                ? (itemHidden * itemMask.unsqueeze(-1)).sum(1) / itemMask.sum(1, keepdim: true).clamp_min(1)
                : itemHidden[arange(batch.ItemRows, device: device), Longs(batch.ItemLast, [batch.ItemRows], device)];
            Tensor targetKeys = Longs(batch.TargetKeys, [batch.TargetKeys.Length], device);
            Tensor keys = F.normalize(items, p: 2, dim: -1, eps: 1e-12).index_select(0, targetKeys);
            Tensor duplicates = DuplicateMask(batch.TargetKeys, device);
            if (batch.KeyLogitOffsets.Length > 0)
            {
                // The logQ correction: -ln q of each key's item on its column (constants, like the mask).
                duplicates += tensor(batch.KeyLogitOffsets, [1, batch.KeyLogitOffsets.Length], device: device);
            }

            Tensor? bank = batch.Negatives is null ? null : BankLogitMask(batch, device);
            if (weights.UserItem != 0f)
            {
                Tensor user = F.normalize(Pool(flat, batch.UserStarts, batch.UserLengths, pooling, device), p: 2, dim: -1, eps: 1e-12);
                Tensor l = InfoNce(user, keys, temperature, duplicates, negatives, bank);
                ut = l.item<float>();
                total = Add(total, l, weights.UserItem);
            }

            if (weights.ItemItem != 0f)
            {
                Tensor inContext = F.normalize(Pool(flat, batch.TargetStarts, batch.TargetLengths, pooling, device), p: 2, dim: -1, eps: 1e-12);
                Tensor l = InfoNce(inContext, keys, temperature, duplicates, negatives, bank);
                tt = l.item<float>();
                total = Add(total, l, weights.ItemItem);
            }
        }

        if (total is null)
        {
            throw new ArgumentException("Nothing to train in this batch: every loss weight is zero, or w_tt = w_ut = 0 and L_NIG has no position (identity tokens only, in a batch without target items).");
        }

        values = new LossValues(total.item<float>(), lm, tt, ut, batch.TokenCount);
        return total;
    }

    // L_NIG of the item-ID hybrid: text positions over the text vocabulary (weighted, skipped at 0) plus identity
    // positions over the identity tokens; null when neither is present.
    private static Tensor? HybridLm(TorchDecoderLM model, Tensor flat, HistoryBatch batch, IdentityTokens id, float textWeight, Device device)
    {
        Tensor Term(int[] positions, int[] targets, long start, long count) => F.cross_entropy(
            model.Logits(flat.index_select(0, Longs(positions, [positions.Length], device)), start, count),
            Longs(targets, [targets.Length], device));
        Tensor? text = textWeight == 0f ? null : Term(batch.TextLmPositions, batch.TextLmTargets, 0, id.Base) * textWeight;
        if (batch.IdentityLmPositions.Length == 0)
        {
            return text;
        }

        Tensor identity = Term(batch.IdentityLmPositions, batch.IdentityLmTargets, id.Base, id.Count);
        return text is null ? identity : text + identity;
    }

    private static Tensor Longs(int[] values, long[] shape, Device device) => tensor(values.Select(v => (long)v).ToArray(), shape, device: device);

    // Segment s covers rows starts[s] .. starts[s] + lengths[s] - 1 of flat [N, D]: their mean (as one averaging matrix
    // product, which runs the same on every device) or the last row.
    private static Tensor Pool(Tensor flat, int[] starts, int[] lengths, Pooling pooling, Device device)
    {
        if (pooling == Pooling.LastToken)
        {
            return flat.index_select(0, Longs(starts.Select((s, i) => s + lengths[i] - 1).ToArray(), [starts.Length], device));
        }

        long n = flat.shape[0];
        float[] weights = new float[starts.Length * n];
        for (int s = 0; s < starts.Length; s++)
        {
            Array.Fill(weights, 1f / lengths[s], (int)((s * n) + starts[s]), lengths[s]);
        }

        return tensor(weights, [starts.Length, n], device: device).matmul(flat);
    }

    // -1e9 where two different rows are the same item, so that an item is never its own negative.
    private static Tensor DuplicateMask(int[] keys, Device device)
    {
        int b = keys.Length;
        float[] mask = new float[b * b];
        for (int i = 0; i < b; i++)
        {
            for (int j = 0; j < b; j++)
            {
                if (i != j && keys[i] == keys[j])
                {
                    mask[(i * b) + j] = -1e9f;
                }
            }
        }

        return tensor(mask, [b, b], device: device);
    }

    // -1e9 on the bank rows that hold the batch's own items (they are negatives through the batch already).
    private static Tensor BankLogitMask(HistoryBatch batch, Device device)
    {
        float[] mask = new float[batch.Negatives!.Count];
        foreach (int row in batch.ExcludedNegatives)
        {
            mask[row] = -1e9f;
        }

        return tensor(mask, [1, mask.Length], device: device);
    }

    private static Tensor InfoNce(Tensor queries, Tensor keys, float temperature, Tensor duplicates, Tensor? negatives, Tensor? bankMask)
    {
        Tensor logits = (queries.matmul(keys.t()) / temperature) + duplicates;
        if (negatives is not null)
        {
            logits = cat([logits, (queries.matmul(negatives.t()) / temperature) + bankMask!], 1);
        }

        return F.cross_entropy(logits, arange(queries.shape[0], dtype: int64, device: queries.device));
    }

    private static Tensor Add(Tensor? total, Tensor term, float weight)
    {
        Tensor weighted = weight == 1f ? term : term * weight;
        return total is null ? weighted : total + weighted;
    }
}
