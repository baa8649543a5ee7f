using CalRec.Tensors;

namespace CalRec.Models.Training;

/// <summary>
/// A copy of a set of named parameters (the best weights so far, or a meta-learning initialization): captured into
/// buffers allocated once, restored in place, and readable by name for checkpoints.
/// </summary>
public sealed class WeightsSnapshot
{
    private readonly List<(string Name, ManagedTensor Parameter)> _parameters;
    private float[][]? _values;

    /// <summary>A snapshot of <paramref name="parameters"/>, empty until <see cref="Capture"/>.</summary>
    public WeightsSnapshot(IEnumerable<(string Name, ManagedTensor Parameter)> parameters) => _parameters = [.. parameters];

    /// <summary>Whether values have been captured or set.</summary>
    public bool HasValues => _values is not null;

    /// <summary>The captured values by parameter name (empty before <see cref="Capture"/>).</summary>
    public IEnumerable<(string Name, float[] Values)> Values => _values is null ? [] : _parameters.Select((p, i) => (p.Name, _values[i]));

    /// <summary>Copies the parameters' current values.</summary>
    public void Capture()
    {
        _values ??= _parameters.Select(p => new float[p.Parameter.numel]).ToArray();
        for (int i = 0; i < _parameters.Count; i++)
        {
            _parameters[i].Parameter.Data.CopyTo(_values[i]);
        }
    }

    /// <summary>Writes the captured values back into the parameters (nothing happens before a capture).</summary>
    public void Restore()
    {
        if (_values is null)
        {
            return;
        }

        for (int i = 0; i < _parameters.Count; i++)
        {
            _values[i].CopyTo(_parameters[i].Parameter.Data);
        }
    }

    /// <summary>Sets the values by name (from a checkpoint); a missing name is an <see cref="InvalidDataException"/>.</summary>
    public void Set(Func<string, float[]?> values, string source)
    {
        _values = _parameters.Select(p => values(p.Name) is { } v && v.Length == p.Parameter.numel
            ? v
            : throw new InvalidDataException($"{source}: no saved values of the right size for '{p.Name}'.")).ToArray();
    }
}
