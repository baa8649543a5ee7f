namespace CalRec.Tensors;

/// <summary>NumPy-style broadcasting: shape resolution, expansion to the output shape, and gradient reduction back.</summary>
internal static class Broadcast
{
    public static int[] ResolveShape(int[] a, int[] b, string op)
    {
        int nd = Math.Max(a.Length, b.Length);
        int[] result = new int[nd];
        for (int i = 0; i < nd; i++)
        {
            int da = i - (nd - a.Length) >= 0 ? a[i - (nd - a.Length)] : 1;
            int db = i - (nd - b.Length) >= 0 ? b[i - (nd - b.Length)] : 1;
            if (da != db && da != 1 && db != 1)
            {
                throw new ArgumentException($"{op}: shapes {ManagedTensor.FormatShape(a)} and {ManagedTensor.FormatShape(b)} cannot be broadcast together.");
            }

            result[i] = da == 1 ? db : da;
        }

        return result;
    }

    /// <summary>Writes <paramref name="src"/> (shape <paramref name="srcShape"/>) repeated to fill <paramref name="outShape"/>.</summary>
    public static void Expand(ReadOnlySpan<float> src, int[] srcShape, Span<float> dst, int[] outShape)
    {
        if (src.Length == dst.Length)
        {
            src.CopyTo(dst);
            return;
        }

        if (src.Length == 1)
        {
            dst.Fill(src[0]);
            return;
        }

        if (IsSuffix(srcShape, outShape))
        {
            for (int off = 0; off < dst.Length; off += src.Length)
            {
                src.CopyTo(dst.Slice(off, src.Length));
            }

            return;
        }

        if (TrailingRepeat(srcShape, outShape) is int repeat)
        {
            // [..., 1] against [..., d]: each value fills d consecutive outputs (masks over the feature axis).
            for (int i = 0; i < src.Length; i++)
            {
                dst.Slice(i * repeat, repeat).Fill(src[i]);
            }

            return;
        }

        int[] strides = SourceStrides(srcShape, outShape);
        int[] index = new int[outShape.Length];
        for (int i = 0; i < dst.Length; i++)
        {
            int s = 0;
            for (int d = 0; d < index.Length; d++)
            {
                s += index[d] * strides[d];
            }

            dst[i] = src[s];
            Increment(index, outShape);
        }
    }

    /// <summary>Adds <paramref name="full"/> (shape <paramref name="outShape"/>) into <paramref name="dst"/>, summing over broadcast dimensions.</summary>
    public static void ReduceAdd(ReadOnlySpan<float> full, int[] outShape, Span<float> dst, int[] dstShape, float sign = 1f)
    {
        if (full.Length == dst.Length)
        {
            if (sign == 1f)
            {
                System.Numerics.Tensors.TensorPrimitives.Add(dst, full, dst);
            }
            else
            {
                System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(full, sign, dst, dst);
            }

            return;
        }

        if (dst.Length == 1)
        {
            dst[0] += sign * System.Numerics.Tensors.TensorPrimitives.Sum(full);
            return;
        }

        if (IsSuffix(dstShape, outShape))
        {
            for (int off = 0; off < full.Length; off += dst.Length)
            {
                System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(full.Slice(off, dst.Length), sign, dst, dst);
            }

            return;
        }

        if (TrailingRepeat(dstShape, outShape) is int repeat)
        {
            for (int i = 0; i < dst.Length; i++)
            {
                dst[i] += sign * System.Numerics.Tensors.TensorPrimitives.Sum(full.Slice(i * repeat, repeat));
            }

            return;
        }

        int[] strides = SourceStrides(dstShape, outShape);
        int[] index = new int[outShape.Length];
        for (int i = 0; i < full.Length; i++)
        {
            int s = 0;
            for (int d = 0; d < index.Length; d++)
            {
                s += index[d] * strides[d];
            }

            dst[s] += sign * full[i];
            Increment(index, outShape);
        }
    }

    /// <summary>When <paramref name="small"/> equals <paramref name="big"/> except for a last dimension of 1, the size of that dimension in <paramref name="big"/>.</summary>
    private static int? TrailingRepeat(int[] small, int[] big)
    {
        if (small.Length != big.Length || small.Length == 0 || small[^1] != 1)
        {
            return null;
        }

        for (int i = 0; i < small.Length - 1; i++)
        {
            if (small[i] != big[i])
            {
                return null;
            }
        }

        return big[^1];
    }

    private static bool IsSuffix(int[] small, int[] big)
    {
        int lead = 0;
        while (lead < small.Length && small[lead] == 1 && small.Length - lead > 0)
        {
            lead++;
        }

        int len = small.Length - lead;
        if (len > big.Length)
        {
            return false;
        }

        for (int i = 0; i < len; i++)
        {
            if (small[lead + i] != big[big.Length - len + i])
            {
                return false;
            }
        }

        return true;
    }

    private static int[] SourceStrides(int[] srcShape, int[] outShape)
    {
        int[] strides = new int[outShape.Length];
        int stride = 1;
        for (int d = outShape.Length - 1; d >= 0; d--)
        {
            int sd = d - (outShape.Length - srcShape.Length);
            if (sd >= 0)
            {
                strides[d] = srcShape[sd] == 1 ? 0 : stride;
                stride *= srcShape[sd];
            }
        }

        return strides;
    }

    private static void Increment(int[] index, int[] shape)
    {
        for (int d = index.Length - 1; d >= 0; d--)
        {
            if (++index[d] < shape[d])
            {
                return;
            }

            index[d] = 0;
        }
    }
}
