using CalRec.Tensors.Autograd;

namespace CalRec.Tensors;

public static partial class Functional
{
    /// <summary>
    /// Looks up rows of <paramref name="weight"/> [V, D] for each id; the result has shape <paramref name="idsShape"/> + [D].
    /// The backward pass scatter-adds into the weight's gradient. <paramref name="ids"/> must not change before backward.
    /// </summary>
    public static ManagedTensor embedding(int[] ids, int[] idsShape, ManagedTensor weight)
    {
        if (weight.ndim != 2)
        {
            throw new ArgumentException($"embedding: weight must be [vocab, dim], got {ManagedTensor.FormatShape(weight.shape)}.");
        }

        int count = ManagedTensor.ShapeSize(idsShape);
        if (count > ids.Length)
        {
            throw new ArgumentException($"embedding: {ids.Length} ids do not fill shape {ManagedTensor.FormatShape(idsShape)}.");
        }

        int v = weight.shape[0], d = weight.shape[1];
        int[] outShape = [.. idsShape, d];
        ManagedTensor y = ManagedTensor.Result(outShape, clear: false, Tape.ShouldRecord(weight));
        ReadOnlySpan<float> w = weight.Data;
        Span<float> yv = y.Data;
        for (int i = 0; i < count; i++)
        {
            int id = ids[i];
            if ((uint)id >= (uint)v)
            {
                y.Dispose();
                throw new ArgumentOutOfRangeException(nameof(ids), $"embedding: id {id} at position {i} is outside the table of {v} rows.");
            }

            w.Slice(id * d, d).CopyTo(yv.Slice(i * d, d));
        }

        if (y.requires_grad)
        {
            Tape.Record(y, () =>
            {
                Span<float> gw = weight.GradSpan();
                ReadOnlySpan<float> g = y.grad!.Data;
                for (int i = 0; i < count; i++)
                {
                    Span<float> row = gw.Slice(ids[i] * d, d);
                    System.Numerics.Tensors.TensorPrimitives.Add(row, g.Slice(i * d, d), row);
                }
            });
        }

        return y;
    }

    /// <summary>Selects rows of a 2-D tensor (<c>index_select(0, idx)</c>); gradients scatter back.</summary>
    public static ManagedTensor gather_rows(ManagedTensor x, int[] rows)
    {
        if (x.ndim != 2)
        {
            throw new ArgumentException($"gather_rows: input must be 2-D, got {ManagedTensor.FormatShape(x.shape)}.");
        }

        int n = x.shape[0], d = x.shape[1];
        ManagedTensor y = ManagedTensor.Result([rows.Length, d], clear: false, Tape.ShouldRecord(x));
        ReadOnlySpan<float> xv = x.Data;
        Span<float> yv = y.Data;
        for (int i = 0; i < rows.Length; i++)
        {
            if ((uint)rows[i] >= (uint)n)
            {
                y.Dispose();
                throw new ArgumentOutOfRangeException(nameof(rows), $"gather_rows: row {rows[i]} at position {i} is outside [0, {n}).");
            }

            xv.Slice(rows[i] * d, d).CopyTo(yv.Slice(i * d, d));
        }

        if (y.requires_grad)
        {
            Tape.Record(y, () =>
            {
                Span<float> gx = x.GradSpan();
                ReadOnlySpan<float> g = y.grad!.Data;
                for (int i = 0; i < rows.Length; i++)
                {
                    Span<float> row = gx.Slice(rows[i] * d, d);
                    System.Numerics.Tensors.TensorPrimitives.Add(row, g.Slice(i * d, d), row);
                }
            });
        }

        return y;
    }

    /// <summary>Concatenates tensors along <paramref name="dim"/>; all other dimensions must agree.</summary>
    public static ManagedTensor concat(IReadOnlyList<ManagedTensor> tensors, int dim)
    {
        if (tensors.Count == 0)
        {
            throw new ArgumentException("concat: needs at least one tensor.");
        }

        ManagedTensor first = tensors[0];
        int axis = ManagedTensor.NormalizeDim(dim, first.ndim);
        int outer = 1, inner = 1;
        for (int i = 0; i < axis; i++)
        {
            outer *= first.shape[i];
        }

        for (int i = axis + 1; i < first.ndim; i++)
        {
            inner *= first.shape[i];
        }

        int total = 0;
        bool track = false;
        foreach (ManagedTensor t in tensors)
        {
            bool ok = t.ndim == first.ndim;
            for (int i = 0; ok && i < t.ndim; i++)
            {
                ok = i == axis || t.shape[i] == first.shape[i];
            }

            if (!ok)
            {
                throw new ArgumentException($"concat: shape {ManagedTensor.FormatShape(t.shape)} does not match {ManagedTensor.FormatShape(first.shape)} outside dimension {axis}.");
            }

            total += t.shape[axis];
            track |= Tape.IsGradEnabled && t.requires_grad;
        }

        int[] outShape = first.ShapeArray.ToArray();
        outShape[axis] = total;
        ManagedTensor y = ManagedTensor.Result(outShape, clear: false, track);
        Span<float> yv = y.Data;
        int offset = 0;
        foreach (ManagedTensor t in tensors)
        {
            int len = t.shape[axis] * inner;
            ReadOnlySpan<float> tv = t.Data;
            for (int o = 0; o < outer; o++)
            {
                tv.Slice(o * len, len).CopyTo(yv.Slice((o * total * inner) + offset, len));
            }

            offset += len;
        }

        if (track)
        {
            ManagedTensor[] inputs = [.. tensors];
            Tape.Record(y, () =>
            {
                ReadOnlySpan<float> g = y.grad!.Data;
                int off = 0;
                foreach (ManagedTensor t in inputs)
                {
                    int len = t.shape[axis] * inner;
                    if (t.requires_grad)
                    {
                        Span<float> gt = t.GradSpan();
                        for (int o = 0; o < outer; o++)
                        {
                            Span<float> dst = gt.Slice(o * len, len);
                            System.Numerics.Tensors.TensorPrimitives.Add(dst, g.Slice((o * total * inner) + off, len), dst);
                        }
                    }

                    off += len;
                }
            });
        }

        return y;
    }

    /// <summary>Takes <paramref name="length"/> entries starting at <paramref name="start"/> along <paramref name="dim"/> (a copy).</summary>
    public static ManagedTensor slice(ManagedTensor x, int dim, int start, int length)
    {
        int axis = ManagedTensor.NormalizeDim(dim, x.ndim);
        int size = x.shape[axis];
        if (start < 0 || length < 0 || start + length > size)
        {
            throw new ArgumentOutOfRangeException(nameof(start), $"slice: [{start}, {start + length}) is outside dimension {axis} of size {size} in {ManagedTensor.FormatShape(x.shape)}.");
        }

        int outer = 1, inner = 1;
        for (int i = 0; i < axis; i++)
        {
            outer *= x.shape[i];
        }

        for (int i = axis + 1; i < x.ndim; i++)
        {
            inner *= x.shape[i];
        }

        int[] outShape = x.ShapeArray.ToArray();
        outShape[axis] = length;
        ManagedTensor y = ManagedTensor.Result(outShape, clear: false, Tape.ShouldRecord(x));
        ReadOnlySpan<float> xv = x.Data;
        Span<float> yv = y.Data;
        int len = length * inner;
        for (int o = 0; o < outer; o++)
        {
            xv.Slice((((o * size) + start) * inner), len).CopyTo(yv.Slice(o * len, len));
        }

        if (y.requires_grad)
        {
            Tape.Record(y, () =>
            {
                Span<float> gx = x.GradSpan();
                ReadOnlySpan<float> g = y.grad!.Data;
                for (int o = 0; o < outer; o++)
                {
                    Span<float> dst = gx.Slice(((o * size) + start) * inner, len);
                    System.Numerics.Tensors.TensorPrimitives.Add(dst, g.Slice(o * len, len), dst);
                }
            });
        }

        return y;
    }

    /// <summary>
    /// Mean over the time axis of <paramref name="x"/> [B, T, D] counting only positions where
    /// <paramref name="mask"/> [B, T] is non-zero; rows with no valid position give zeros. Result [B, D].
    /// </summary>
    public static ManagedTensor masked_mean_pool(ManagedTensor x, ManagedTensor mask)
    {
        if (x.ndim != 3 || mask.ndim != 2 || mask.shape[0] != x.shape[0] || mask.shape[1] != x.shape[1])
        {
            throw new ArgumentException($"masked_mean_pool: expects x [B, T, D] and mask [B, T], got {ManagedTensor.FormatShape(x.shape)} and {ManagedTensor.FormatShape(mask.shape)}.");
        }

        int b = x.shape[0], t = x.shape[1], d = x.shape[2];
        ManagedTensor y = ManagedTensor.Result([b, d], clear: true, Tape.ShouldRecord(x));
        ReadOnlySpan<float> xv = x.Data, mv = mask.Data;
        Span<float> yv = y.Data;
        float[] inv = new float[b];
        for (int i = 0; i < b; i++)
        {
            float count = 0;
            Span<float> yr = yv.Slice(i * d, d);
            for (int j = 0; j < t; j++)
            {
                float m = mv[(i * t) + j];
                if (m != 0f)
                {
                    count += m;
                    System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(xv.Slice(((i * t) + j) * d, d), m, yr, yr);
                }
            }

            inv[i] = count > 0 ? 1f / count : 0f;
            System.Numerics.Tensors.TensorPrimitives.Multiply(yr, inv[i], yr);
        }

        if (y.requires_grad)
        {
            Tape.Record(y, () =>
            {
                Span<float> gx = x.GradSpan();
                ReadOnlySpan<float> g = y.grad!.Data, mk = mask.Data;
                for (int i = 0; i < b; i++)
                {
                    for (int j = 0; j < t; j++)
                    {
                        float m = mk[(i * t) + j];
                        if (m != 0f)
                        {
                            Span<float> dst = gx.Slice(((i * t) + j) * d, d);
                            System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(g.Slice(i * d, d), m * inv[i], dst, dst);
                        }
                    }
                }
            });
        }

        return y;
    }

    /// <summary>
    /// Mean of each segment of rows of <paramref name="x"/> [N, D]: segment s covers rows
    /// <c>starts[s] .. starts[s] + lengths[s] - 1</c> (segments may overlap; every length must be positive). Result [S, D].
    /// Used to pool one item's tokens inside a serialized history.
    /// </summary>
    public static ManagedTensor segment_mean(ManagedTensor x, int[] starts, int[] lengths)
    {
        if (x.ndim != 2 || starts.Length != lengths.Length)
        {
            throw new ArgumentException($"segment_mean: expects x [N, D] and as many starts as lengths, got {ManagedTensor.FormatShape(x.shape)}, {starts.Length} and {lengths.Length}.");
        }

        int n = x.shape[0], d = x.shape[1], segments = starts.Length;
        for (int s = 0; s < segments; s++)
        {
            if (lengths[s] <= 0 || starts[s] < 0 || starts[s] + lengths[s] > n)
            {
                throw new ArgumentOutOfRangeException(nameof(starts), $"segment_mean: segment {s} [{starts[s]}, {starts[s] + lengths[s]}) is empty or outside [0, {n}).");
            }
        }

        ManagedTensor y = ManagedTensor.Result([segments, d], clear: true, Tape.ShouldRecord(x));
        ReadOnlySpan<float> xv = x.Data;
        Span<float> yv = y.Data;
        for (int s = 0; s < segments; s++)
        {
            Span<float> yr = yv.Slice(s * d, d);
            for (int r = starts[s]; r < starts[s] + lengths[s]; r++)
            {
                System.Numerics.Tensors.TensorPrimitives.Add(yr, xv.Slice(r * d, d), yr);
            }

            System.Numerics.Tensors.TensorPrimitives.Multiply(yr, 1f / lengths[s], yr);
        }

        if (y.requires_grad)
        {
            Tape.Record(y, () =>
            {
                Span<float> gx = x.GradSpan();
                ReadOnlySpan<float> g = y.grad!.Data;
                for (int s = 0; s < segments; s++)
                {
                    float scale = 1f / lengths[s];
                    for (int r = starts[s]; r < starts[s] + lengths[s]; r++)
                    {
                        Span<float> dst = gx.Slice(r * d, d);
                        System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(g.Slice(s * d, d), scale, dst, dst);
                    }
                }
            });
        }

        return y;
    }

    /// <summary>Picks position <c>positions[b]</c> of each sequence in <paramref name="x"/> [B, T, D] (last-token pooling). Result [B, D].</summary>
    public static ManagedTensor last_token_pool(ManagedTensor x, int[] positions)
    {
        if (x.ndim != 3 || positions.Length != x.shape[0])
        {
            throw new ArgumentException($"last_token_pool: expects x [B, T, D] and B positions, got {ManagedTensor.FormatShape(x.shape)} and {positions.Length}.");
        }

        int t = x.shape[1];
        int[] rows = new int[positions.Length];
        for (int i = 0; i < rows.Length; i++)
        {
            if ((uint)positions[i] >= (uint)t)
            {
                throw new ArgumentOutOfRangeException(nameof(positions), $"last_token_pool: position {positions[i]} of sequence {i} is outside [0, {t}).");
            }

            rows[i] = (i * t) + positions[i];
        }

        return gather_rows(x.reshape(-1, x.shape[2]), rows);
    }
}
