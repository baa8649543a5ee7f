using CalRec.Tensors;

namespace CalRec.Models.Training;

/// <summary>
/// An exponential moving average of a set of named parameters (Polyak averaging as in Izmailov et al. 2018's SWA and
/// the EMA of modern training recipes): after each optimizer step the average moves toward the weights,
/// <c>a ← d·a + (1 − d)·w</c>, with d = min(decay, (1 + n) / (10 + n)) after n updates, so that the first steps do not
/// weigh the starting point for thousands of steps. <see cref="Swap"/> exchanges the average and the weights in place
/// (twice restores them), so validation and model selection can run on the average while training continues on the
/// raw weights.
/// </summary>
public sealed class WeightAverage
{
    private readonly List<(string Name, ManagedTensor Parameter)> _parameters;
    private readonly float[][] _values;

    /// <summary>An average of <paramref name="parameters"/> that starts at their current values.</summary>
    /// <param name="parameters">The parameters to average.</param>
    /// <param name="decay">The largest weight of the old average per update, in (0, 1).</param>
    public WeightAverage(IEnumerable<(string Name, ManagedTensor Parameter)> parameters, float decay)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(decay, 0f);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(decay, 1f);
        _parameters = [.. parameters];
        _values = _parameters.Select(p => p.Parameter.Data.ToArray()).ToArray();
        Decay = decay;
    }

    /// <summary>The largest weight of the old average per update.</summary>
    public float Decay { get; }

    /// <summary>Updates so far.</summary>
    public long Updates { get; private set; }

    /// <summary>Whether the parameters hold the average (after an odd number of <see cref="Swap"/> calls).</summary>
    public bool Swapped { get; private set; }

    /// <summary>The average by parameter name (the weights' values while <see cref="Swapped"/>).</summary>
    public IEnumerable<(string Name, float[] Values)> Values => _parameters.Select((p, i) => (p.Name, _values[i]));

    /// <summary>Moves the average toward the parameters' current values.</summary>
    public void Update()
    {
        if (Swapped)
        {
            throw new InvalidOperationException("The parameters hold the average: swap the weights back before updating it.");
        }

        float d = DecayAt(Updates, Decay);
        for (int i = 0; i < _parameters.Count; i++)
        {
            Span<float> w = _parameters[i].Parameter.Data;
            float[] a = _values[i];
            for (int j = 0; j < a.Length; j++)
            {
                a[j] = (d * a[j]) + ((1f - d) * w[j]);
            }
        }

        Updates++;
    }

    /// <summary>The weight of the old average in update number <paramref name="updates"/> + 1: min(decay, (1 + n) / (10 + n)).</summary>
    public static float DecayAt(long updates, float decay) => Math.Min(decay, (1f + updates) / (10f + updates));

    /// <summary>Exchanges the average and the parameters' values in place.</summary>
    public void Swap()
    {
        for (int i = 0; i < _parameters.Count; i++)
        {
            Span<float> w = _parameters[i].Parameter.Data;
            float[] a = _values[i];
            for (int j = 0; j < a.Length; j++)
            {
                (a[j], w[j]) = (w[j], a[j]);
            }
        }

        Swapped = !Swapped;
    }

    /// <summary>Sets the average and its update count (from a checkpoint); a missing name is an <see cref="InvalidDataException"/>.</summary>
    public void Restore(Func<string, float[]?> values, long updates, string source)
    {
        for (int i = 0; i < _parameters.Count; i++)
        {
            float[] v = values(_parameters[i].Name) is { } found && found.Length == _values[i].Length
                ? found
                : throw new InvalidDataException($"{source}: no saved average of the right size for '{_parameters[i].Name}'.");
            v.CopyTo(_values[i], 0);
        }

        Updates = updates;
    }
}
