using CalRec.Tensors.Autograd;
using CalRec.Tensors.Memory;
using CalRec.Tensors.Threading;

namespace CalRec.Tensors;

public static partial class Functional
{
    /// <summary>Targets equal to this value are skipped by <see cref="cross_entropy"/> (PyTorch's default).</summary>
    public const int IgnoreIndex = -100;

    /// <summary>
    /// Mean cross-entropy of <paramref name="logits"/> [N, C] against class <paramref name="targets"/> [N], skipping
    /// targets equal to <paramref name="ignoreIndex"/>. With label smoothing ε the target distribution is
    /// (1-ε)·onehot + ε/C, as in PyTorch. Returns 0 (with zero gradient) when every target is ignored.
    /// </summary>
    public static ManagedTensor cross_entropy(ManagedTensor logits, int[] targets, int ignoreIndex = IgnoreIndex, float labelSmoothing = 0f)
    {
        if (logits.ndim != 2 || targets.Length != logits.shape[0])
        {
            throw new ArgumentException($"cross_entropy: expects logits [N, C] and N targets, got {ManagedTensor.FormatShape(logits.shape)} and {targets.Length} targets.");
        }

        if (labelSmoothing is < 0f or > 1f)
        {
            throw new ArgumentOutOfRangeException(nameof(labelSmoothing), $"cross_entropy: label smoothing must be in [0, 1], got {labelSmoothing}.");
        }

        int n = logits.shape[0], c = logits.shape[1];
        int count = 0;
        for (int i = 0; i < n; i++)
        {
            int target = targets[i];
            if (target == ignoreIndex)
            {
                continue;
            }

            if ((uint)target >= (uint)c)
            {
                throw new ArgumentOutOfRangeException(nameof(targets), $"cross_entropy: target {target} at row {i} is outside [0, {c}).");
            }

            count++;
        }

        float[] rowLoss = BufferPool.Rent(n, clear: false);
        float[] lse = BufferPool.Rent(n, clear: false);
        var work = new CrossEntropyWork(logits, targets, ignoreIndex, labelSmoothing, n, c, rowLoss, lse);
        WorkerPool.Shared.Run(work, Math.Min(n, 4 * WorkerPool.Shared.ThreadCount));
        double total = 0;
        for (int i = 0; i < n; i++)
        {
            total += rowLoss[i];
        }

        ManagedTensor y = ManagedTensor.Result([], clear: false, Tape.ShouldRecord(logits));
        y.Data[0] = count == 0 ? 0f : (float)(total / count);
        BufferPool.Return(rowLoss);
        if (!y.requires_grad)
        {
            BufferPool.Return(lse);
            return y;
        }

        Tape.Record(y, () =>
        {
            logits.GradTensor();
            work.Scale = count == 0 ? 0f : y.grad!.Data[0] / count;
            work.Backward = true;
            WorkerPool.Shared.Run(work, Math.Min(n, 4 * WorkerPool.Shared.ThreadCount));
            BufferPool.Return(lse);
        });
        return y;
    }

    /// <summary>
    /// In-batch InfoNCE: row i of <paramref name="queries"/> [B, D] should match row i of <paramref name="keys"/> [B, D]
    /// against every other row. Logits are dot products divided by <paramref name="temperature"/> (normalize the inputs
    /// first for cosine similarity). Rows whose <paramref name="groupIds"/> are equal (the same item appearing twice in a
    /// batch) are not used as each other's negatives. With <paramref name="symmetric"/> the key-to-query direction is
    /// averaged in. <paramref name="keyLogitOffsets"/> (one per key row, constants) are added to every logit of their
    /// column after the temperature: -ln q_j corrects the bias of negatives drawn with probabilities q_j (Yi et al., 2019).
    /// </summary>
    public static ManagedTensor info_nce(ManagedTensor queries, ManagedTensor keys, float temperature, int[]? groupIds = null, bool symmetric = false, float[]? keyLogitOffsets = null)
    {
        if (queries.ndim != 2 || !queries.shape.SequenceEqual(keys.shape))
        {
            throw new ArgumentException($"info_nce: expects two [B, D] tensors of equal shape, got {ManagedTensor.FormatShape(queries.shape)} and {ManagedTensor.FormatShape(keys.shape)}.");
        }

        if (temperature <= 0f)
        {
            throw new ArgumentOutOfRangeException(nameof(temperature), $"info_nce: temperature must be positive, got {temperature}.");
        }

        int b = queries.shape[0];
        if (groupIds is not null && groupIds.Length != b)
        {
            throw new ArgumentException($"info_nce: {groupIds.Length} group ids for a batch of {b}.");
        }

        if (keyLogitOffsets is not null && (keyLogitOffsets.Length != b || symmetric))
        {
            throw new ArgumentException(symmetric
                ? "info_nce: key logit offsets apply to the query-to-key direction only, not to a symmetric loss."
                : $"info_nce: {keyLogitOffsets.Length} key logit offsets for a batch of {b}.");
        }

        int[] labels = new int[b];
        for (int i = 0; i < b; i++)
        {
            labels[i] = i;
        }

        ManagedTensor logits = queries.matmul(keys, transB: true).mul(1f / temperature);
        if (keyLogitOffsets is not null)
        {
            logits = logits.add(ManagedTensor.from(keyLogitOffsets, 1, b));
        }

        ManagedTensor loss = cross_entropy(MaskDuplicates(logits, groupIds), labels);
        if (!symmetric)
        {
            return loss;
        }

        ManagedTensor reverse = cross_entropy(MaskDuplicates(keys.matmul(queries, transB: true).mul(1f / temperature), groupIds), labels);
        return loss.add(reverse).mul(0.5f);
    }

    /// <summary>
    /// InfoNCE against the batch and a bank of extra negatives: row i of <paramref name="queries"/> [B, D] should match
    /// row i of <paramref name="keys"/> [B, D] against every other key row (rows with equal <paramref name="groupIds"/>
    /// excepted, as in the in-batch form) and against every row of <paramref name="negatives"/> [N, D] except the rows
    /// listed in <paramref name="excludedNegatives"/> (the batch's own items, which are already among the keys). The bank
    /// is a constant: gradients flow into the queries and keys only, as with a cached item index.
    /// </summary>
    public static ManagedTensor info_nce(ManagedTensor queries, ManagedTensor keys, ManagedTensor negatives, ReadOnlySpan<int> excludedNegatives, float temperature, int[]? groupIds = null)
    {
        if (queries.ndim != 2 || !queries.shape.SequenceEqual(keys.shape))
        {
            throw new ArgumentException($"info_nce: expects two [B, D] tensors of equal shape, got {ManagedTensor.FormatShape(queries.shape)} and {ManagedTensor.FormatShape(keys.shape)}.");
        }

        if (negatives.ndim != 2 || negatives.shape[1] != queries.shape[1])
        {
            throw new ArgumentException($"info_nce: the negatives must be [N, {queries.shape[1]}], got {ManagedTensor.FormatShape(negatives.shape)}.");
        }

        if (temperature <= 0f)
        {
            throw new ArgumentOutOfRangeException(nameof(temperature), $"info_nce: temperature must be positive, got {temperature}.");
        }

        int b = queries.shape[0], n = negatives.shape[0];
        if (groupIds is not null && groupIds.Length != b)
        {
            throw new ArgumentException($"info_nce: {groupIds.Length} group ids for a batch of {b}.");
        }

        int[] labels = new int[b];
        for (int i = 0; i < b; i++)
        {
            labels[i] = i;
        }

        ManagedTensor inBatch = MaskDuplicates(queries.matmul(keys, transB: true).mul(1f / temperature), groupIds);
        ManagedTensor bank = queries.matmul(negatives.detach(), transB: true).mul(1f / temperature);
        if (excludedNegatives.Length > 0)
        {
            var mask = ManagedTensor.zeros(1, n);
            foreach (int column in excludedNegatives)
            {
                if ((uint)column >= (uint)n)
                {
                    throw new ArgumentOutOfRangeException(nameof(excludedNegatives), $"info_nce: excluded negative {column} is outside the bank of {n}.");
                }

                mask.Data[column] = -1e9f;
            }

            bank = bank.add(mask);
        }

        return cross_entropy(concat([inBatch, bank], 1), labels);
    }

    private static ManagedTensor MaskDuplicates(ManagedTensor logits, int[]? groupIds)
    {
        if (groupIds is null)
        {
            return logits;
        }

        int b = groupIds.Length;
        ManagedTensor? mask = null;
        for (int i = 0; i < b; i++)
        {
            for (int j = 0; j < b; j++)
            {
                if (i != j && groupIds[i] == groupIds[j])
                {
                    mask ??= ManagedTensor.zeros(b, b);
                    mask.Data[(i * b) + j] = -1e9f;
                }
            }
        }

        return mask is null ? logits : logits.add(mask);
    }

    private sealed class CrossEntropyWork(ManagedTensor logits, int[] targets, int ignoreIndex, float smoothing, int n, int c, float[] rowLoss, float[] lse)
        : IParallelWork
    {
        [ThreadStatic]
        private static float[]? t_row;

        public bool Backward;
        public float Scale;

        public void Execute(int part, int parts)
        {
            int begin = (int)((long)n * part / parts), end = (int)((long)n * (part + 1) / parts);
            ReadOnlySpan<float> x = logits.Data;
            float[] scratch = t_row is { } r && r.Length >= c ? r : t_row = new float[c];
            Span<float> tmp = scratch.AsSpan(0, c);
            if (!Backward)
            {
                for (int i = begin; i < end; i++)
                {
                    ReadOnlySpan<float> row = x.Slice(i * c, c);
                    float max = System.Numerics.Tensors.TensorPrimitives.Max(row);
                    System.Numerics.Tensors.TensorPrimitives.Subtract(row, max, tmp);
                    System.Numerics.Tensors.TensorPrimitives.Exp(tmp, tmp);
                    float l = max + MathF.Log(System.Numerics.Tensors.TensorPrimitives.Sum(tmp));
                    lse[i] = l;
                    int target = targets[i];
                    if (target == ignoreIndex)
                    {
                        rowLoss[i] = 0f;
                        continue;
                    }

                    float nll = l - row[target];
                    if (smoothing > 0f)
                    {
                        float meanNll = l - (System.Numerics.Tensors.TensorPrimitives.Sum(row) / c);
                        nll = ((1f - smoothing) * nll) + (smoothing * meanNll);
                    }

                    rowLoss[i] = nll;
                }

                return;
            }

            Span<float> gx = logits.grad!.Data;
            float uniform = smoothing / c;
            for (int i = begin; i < end; i++)
            {
                int target = targets[i];
                if (target == ignoreIndex)
                {
                    continue;
                }

                // g += Scale · (softmax - uniform) ; g[target] -= Scale · (1 - smoothing)
                System.Numerics.Tensors.TensorPrimitives.Subtract(x.Slice(i * c, c), lse[i], tmp);
                System.Numerics.Tensors.TensorPrimitives.Exp(tmp, tmp);
                System.Numerics.Tensors.TensorPrimitives.Subtract(tmp, uniform, tmp);
                Span<float> g = gx.Slice(i * c, c);
                System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(tmp, Scale, g, g);
                g[target] -= Scale * (1f - smoothing);
            }
        }
    }
}
