
namespace CalRec.Recommenders.Grounding;

/// <summary>
/// BIGRec's re-weighting of grounding distances by a collaborative signal: D' = D_norm · (1 + C_norm)^(−γ), with D (the
/// distance between the generated text and each item, lower is closer) and C (popularity, or a collaborative model's
/// scores) min-max normalized over the items of one user. γ &gt; 0 pulls popular items closer; γ = 0 leaves D's order.
/// </summary>
public static class PopularityReweighting
{
    /// <summary>Writes D' for every item into <paramref name="adjusted"/> (lower is better).</summary>
    public static void Apply(ReadOnlySpan<float> distances, ReadOnlySpan<float> signal, float gamma, Span<float> adjusted)
    {
        if (signal.Length != distances.Length || adjusted.Length != distances.Length)
        {
            throw new ArgumentException($"Re-weighting needs equal lengths: {distances.Length} distances, {signal.Length} signal values, {adjusted.Length} outputs.");
        }

        (float dMin, float dMax) = MinMax(distances);
        (float cMin, float cMax) = MinMax(signal);
        float dRange = dMax - dMin, cRange = cMax - cMin;
        for (int i = 0; i < distances.Length; i++)
        {
            float d = dRange > 0 ? (distances[i] - dMin) / dRange : 0f;
            float c = cRange > 0 ? (signal[i] - cMin) / cRange : 0f;
            adjusted[i] = d * MathF.Pow(1f + c, -gamma);
        }
    }

    private static (float Min, float Max) MinMax(ReadOnlySpan<float> v)
    {
        float min = float.PositiveInfinity, max = float.NegativeInfinity;
        foreach (float x in v)
        {
            if (float.IsFinite(x))
            {
                min = Math.Min(min, x);
                max = Math.Max(max, x);
            }
        }

        return float.IsFinite(min) ? (min, max) : (0f, 0f);
    }
}
