using CalRec.Tensors.Kernels;

namespace CalRec.Tensors.LinearAlgebra;

/// <summary>
/// Principal component analysis of row vectors: the top-k eigenvectors of the covariance matrix, found by subspace
/// iteration with Gram-Schmidt re-orthonormalization and ordered by eigenvalue (Rayleigh quotient).
/// </summary>
public sealed class Pca
{
    private readonly float[] _mean;
    private readonly float[] _components;

    private Pca(float[] mean, float[] components, double[] variances, int dim, int k)
    {
        _mean = mean;
        _components = components;
        ExplainedVariance = variances;
        Dimension = dim;
        Components = k;
    }

    /// <summary>Input dimension.</summary>
    public int Dimension { get; }

    /// <summary>Number of components kept.</summary>
    public int Components { get; }

    /// <summary>Variance along each component, largest first.</summary>
    public IReadOnlyList<double> ExplainedVariance { get; }

    /// <summary>Fits <paramref name="k"/> components to <paramref name="rows"/> (row-major [n, dim]).</summary>
    public static Pca Fit(ReadOnlySpan<float> rows, int dim, int k, int iterations = 100, ulong seed = 1)
    {
        int n = rows.Length / dim;
        if (n < 2 || rows.Length != n * dim || k <= 0 || k > dim)
        {
            throw new ArgumentException($"PCA needs at least 2 rows of dimension {dim} and 0 < k <= {dim}; got {rows.Length} values, k = {k}.");
        }

        float[] mean = new float[dim];
        for (int i = 0; i < n; i++)
        {
            System.Numerics.Tensors.TensorPrimitives.Add(mean, rows.Slice(i * dim, dim), mean);
        }

        System.Numerics.Tensors.TensorPrimitives.Multiply(mean, 1f / n, mean);
        float[] centered = new float[n * dim];
        for (int i = 0; i < n; i++)
        {
            System.Numerics.Tensors.TensorPrimitives.Subtract(rows.Slice(i * dim, dim), mean, centered.AsSpan(i * dim, dim));
        }

        float[] cov = new float[dim * dim];
        Gemm.Multiply(centered, centered, cov, dim, dim, n, transA: true);
        System.Numerics.Tensors.TensorPrimitives.Multiply(cov, 1f / (n - 1), cov);

        // Subspace iteration: Q ← orth(C·Q), k columns stored as rows of q [k, dim].
        var g = new SeededRandom(seed);
        float[] q = new float[k * dim], next = new float[k * dim];
        g.FillNormal(q, 0f, 1f);
        Orthonormalize(q, k, dim);
        for (int it = 0; it < iterations; it++)
        {
            Gemm.Multiply(q, cov, next, k, dim, dim);
            Orthonormalize(next, k, dim);
            (q, next) = (next, q);
        }

        // Order by Rayleigh quotient qᵀCq.
        Gemm.Multiply(q, cov, next, k, dim, dim);
        double[] lambda = new double[k];
        for (int c = 0; c < k; c++)
        {
            lambda[c] = System.Numerics.Tensors.TensorPrimitives.Dot(q.AsSpan(c * dim, dim), next.AsSpan(c * dim, dim));
        }

        int[] order = Enumerable.Range(0, k).OrderByDescending(c => lambda[c]).ToArray();
        float[] components = new float[k * dim];
        for (int c = 0; c < k; c++)
        {
            q.AsSpan(order[c] * dim, dim).CopyTo(components.AsSpan(c * dim, dim));
        }

        return new Pca(mean, components, order.Select(c => lambda[c]).ToArray(), dim, k);
    }

    /// <summary>Projects rows (row-major [n, Dimension]) onto the components: [n, Components].</summary>
    public float[] Transform(ReadOnlySpan<float> rows)
    {
        int n = rows.Length / Dimension;
        float[] centered = new float[n * Dimension];
        for (int i = 0; i < n; i++)
        {
            System.Numerics.Tensors.TensorPrimitives.Subtract(rows.Slice(i * Dimension, Dimension), _mean, centered.AsSpan(i * Dimension, Dimension));
        }

        float[] result = new float[n * Components];
        Gemm.Multiply(centered, _components, result, n, Components, Dimension, transB: true);
        return result;
    }

    /// <summary>Component c as a unit vector of length <see cref="Dimension"/>.</summary>
    public ReadOnlySpan<float> Component(int c) => _components.AsSpan(c * Dimension, Dimension);

    private static void Orthonormalize(float[] m, int k, int dim)
    {
        for (int c = 0; c < k; c++)
        {
            Span<float> v = m.AsSpan(c * dim, dim);
            for (int p = 0; p < c; p++)
            {
                ReadOnlySpan<float> u = m.AsSpan(p * dim, dim);
                System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(u, -System.Numerics.Tensors.TensorPrimitives.Dot(u, v), v, v);
            }

            float norm = System.Numerics.Tensors.TensorPrimitives.Norm(v);
            System.Numerics.Tensors.TensorPrimitives.Multiply(v, norm > 0 ? 1f / norm : 0f, v);
        }
    }
}
