using CalRec.Tensors.Autograd;

namespace CalRec.Tensors.Tests;

/// <summary>
/// Compares analytic gradients with central finite differences. The probe loss is Σ out·R for a fixed random R,
/// accumulated in double from the float32 forward. With step h = 1e-2 the truncation error is O(h²·f''') ≈ 1e-4 for the
/// smooth ops tested, and float32 rounding of the outputs contributes about 1e-7·Σ|out|/h; the tolerance
/// (2e-3 absolute + 2e-2 relative) sits well above both and far below the error of a wrong gradient.
/// </summary>
internal static class GradCheck
{
    public static void Check(Func<ManagedTensor[], ManagedTensor> f, ManagedTensor[] inputs, float h = 1e-2f, double atol = 2e-3, double rtol = 2e-2, int seed = 7)
    {
        foreach (ManagedTensor t in inputs)
        {
            t.requires_grad = true;
        }

        ManagedTensor probeOut;
        using (Tape.no_grad())
        {
            probeOut = f(inputs);
        }

        var gen = new SeededRandom((ulong)seed);
        float[] r = new float[probeOut.numel];
        gen.FillUniform(r, -1f, 1f);
        int[] outShape = probeOut.shape.ToArray();

        ManagedTensor output = f(inputs);
        ManagedTensor loss = output.mul(ManagedTensor.from(r, outShape)).sum();
        loss.backward();

        for (int which = 0; which < inputs.Length; which++)
        {
            ManagedTensor x = inputs[which];
            float[] analytic = x.grad?.ToArray() ?? new float[x.numel];
            Span<float> data = x.Data;
            for (int i = 0; i < x.numel; i++)
            {
                float orig = data[i];
                data[i] = orig + h;
                double plus = Probe(f, inputs, r);
                data[i] = orig - h;
                double minus = Probe(f, inputs, r);
                data[i] = orig;
                double numeric = (plus - minus) / (2 * h);
                double diff = Math.Abs(numeric - analytic[i]);
                if (diff > atol + (rtol * Math.Abs(numeric)))
                {
                    Assert.Fail($"input {which} element {i}: analytic {analytic[i]:G6} vs numeric {numeric:G6} (diff {diff:G3})");
                }
            }

            x.grad?.Dispose();
            x.grad = null;
        }
    }

    private static double Probe(Func<ManagedTensor[], ManagedTensor> f, ManagedTensor[] inputs, float[] r)
    {
        using (Tape.no_grad())
        {
            ManagedTensor o = f(inputs);
            ReadOnlySpan<float> v = o.Data;
            double s = 0;
            for (int i = 0; i < v.Length; i++)
            {
                s += (double)v[i] * r[i];
            }

            return s;
        }
    }

    public static ManagedTensor Rand(int seed, params int[] shape) => ManagedTensor.rand(new SeededRandom((ulong)seed), -1f, 1f, shape);
}
