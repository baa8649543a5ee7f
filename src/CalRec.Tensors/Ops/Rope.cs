using System.Collections.Concurrent;
using CalRec.Tensors.Autograd;

namespace CalRec.Tensors;

public static partial class Functional
{
    private static readonly ConcurrentDictionary<(float Theta, int HeadDim), RopeTable> s_ropeTables = new();

    /// <summary>
    /// Rotary position embedding in the Hugging Face Llama layout (<c>rotate_half</c>: dimension i pairs with i + D/2)
    /// on <paramref name="x"/> [B, T, H, D]. Token t of sequence b sits at position
    /// <c>positions[b·T + t]</c> when given, else <c>startPosition + t</c>.
    /// </summary>
    public static ManagedTensor rope(ManagedTensor x, float theta, int startPosition = 0, int[]? positions = null)
    {
        if (x.ndim != 4 || (x.shape[3] & 1) != 0)
        {
            throw new ArgumentException($"rope: expects [B, T, H, D] with even D, got {ManagedTensor.FormatShape(x.shape)}.");
        }

        int b = x.shape[0], t = x.shape[1], h = x.shape[2], d = x.shape[3], half = d / 2;
        if (positions is not null && positions.Length < b * t)
        {
            throw new ArgumentException($"rope: {positions.Length} positions for {b}x{t} tokens.");
        }

        int maxPos = startPosition + t;
        if (positions is not null)
        {
            foreach (int p in positions.AsSpan(0, b * t))
            {
                if (p < 0)
                {
                    throw new ArgumentOutOfRangeException(nameof(positions), $"rope: negative position {p}.");
                }

                maxPos = Math.Max(maxPos, p + 1);
            }
        }

        RopeTable table = s_ropeTables.GetOrAdd((theta, d), static key => new RopeTable(key.Theta, key.HeadDim));
        (float[] cos, float[] sin) = table.Get(maxPos);
        ManagedTensor y = ManagedTensor.Result(x.ShapeArray, clear: false, Tape.ShouldRecord(x));
        Apply(x.Data, y.Data, cos, sin, b, t, h, d, half, startPosition, positions, inverse: false, accumulate: false);
        if (y.requires_grad)
        {
            Tape.Record(y, () => Apply(y.grad!.Data, x.GradSpan(), cos, sin, b, t, h, d, half, startPosition, positions, inverse: true, accumulate: true));
        }

        return y;
    }

    private static void Apply(ReadOnlySpan<float> src, Span<float> dst, float[] cos, float[] sin, int b, int t, int h, int d, int half,
        int start, int[]? positions, bool inverse, bool accumulate)
    {
        float sign = inverse ? -1f : 1f;
        for (int bi = 0; bi < b; bi++)
        {
            for (int ti = 0; ti < t; ti++)
            {
                int pos = positions is null ? start + ti : positions[(bi * t) + ti];
                ReadOnlySpan<float> c = cos.AsSpan(pos * half, half), s = sin.AsSpan(pos * half, half);
                for (int hi = 0; hi < h; hi++)
                {
                    int off = (((bi * t) + ti) * h + hi) * d;
                    ReadOnlySpan<float> x = src.Slice(off, d);
                    Span<float> y = dst.Slice(off, d);
                    for (int i = 0; i < half; i++)
                    {
                        float x1 = x[i], x2 = x[i + half], si = sign * s[i];
                        float y1 = (x1 * c[i]) - (x2 * si);
                        float y2 = (x2 * c[i]) + (x1 * si);
                        if (accumulate)
                        {
                            y[i] += y1;
                            y[i + half] += y2;
                        }
                        else
                        {
                            y[i] = y1;
                            y[i + half] = y2;
                        }
                    }
                }
            }
        }
    }

    private sealed class RopeTable(float theta, int headDim)
    {
        private float[] _cos = [];
        private float[] _sin = [];
        private int _positions;

        public (float[] Cos, float[] Sin) Get(int positions)
        {
            lock (this)
            {
                if (positions > _positions)
                {
                    int n = Math.Max(positions, Math.Max(64, _positions * 2));
                    int half = headDim / 2;
                    float[] cos = new float[n * half], sin = new float[n * half];
                    for (int p = 0; p < n; p++)
                    {
                        for (int i = 0; i < half; i++)
                        {
                            double invFreq = 1.0 / Math.Pow(theta, 2.0 * i / headDim);
                            double angle = p * invFreq;
                            cos[(p * half) + i] = (float)Math.Cos(angle);
                            sin[(p * half) + i] = (float)Math.Sin(angle);
                        }
                    }

                    (_cos, _sin, _positions) = (cos, sin, n);
                }

                return (_cos, _sin);
            }
        }
    }
}
