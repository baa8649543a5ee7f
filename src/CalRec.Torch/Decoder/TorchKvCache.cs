using static TorchSharp.torch;

namespace CalRec.Torch.Decoder;

/// <summary>
/// The keys and values of every layer for the tokens seen so far ([B, S, Hkv, D] each), for incremental decoding with
/// <see cref="TorchDecoderLM.Hidden"/>. Rows can be reordered (beam search).
/// </summary>
public sealed class TorchKvCache : IDisposable
{
    private readonly Tensor?[] _keys;
    private readonly Tensor?[] _values;

    /// <summary>An empty cache for a model of <paramref name="layers"/> layers.</summary>
    public TorchKvCache(int layers)
    {
        _keys = new Tensor?[layers];
        _values = new Tensor?[layers];
    }

    /// <summary>Tokens cached per row.</summary>
    public int Length { get; private set; }

    /// <summary>Rebuilds the rows so that new row i is old row <paramref name="sources"/>[i].</summary>
    public void Reorder(IReadOnlyList<int> sources)
    {
        using Tensor index = tensor(sources.Select(s => (long)s).ToArray(), device: _keys[0]?.device ?? CPU);
        for (int l = 0; l < _keys.Length; l++)
        {
            Replace(ref _keys[l], _keys[l]?.index_select(0, index));
            Replace(ref _values[l], _values[l]?.index_select(0, index));
        }
    }

    /// <summary>Releases the cached tensors.</summary>
    public void Dispose()
    {
        for (int l = 0; l < _keys.Length; l++)
        {
            Replace(ref _keys[l], null);
            Replace(ref _values[l], null);
        }
    }

    /// <summary>Appends a layer's new keys and values; returns everything cached for that layer.</summary>
    internal (Tensor Keys, Tensor Values) Append(int layer, Tensor k, Tensor v)
    {
        Replace(ref _keys[layer], _keys[layer] is null ? k.detach().clone() : cat([_keys[layer]!, k.detach()], 1));
        Replace(ref _values[layer], _values[layer] is null ? v.detach().clone() : cat([_values[layer]!, v.detach()], 1));
        return (_keys[layer]!, _values[layer]!);
    }

    /// <summary>Called once all layers have appended <paramref name="tokens"/> tokens.</summary>
    internal void Advance(int tokens) => Length += tokens;

    private static void Replace(ref Tensor? slot, Tensor? value)
    {
        Tensor? old = slot;
        slot = value?.DetachFromDisposeScope();
        if (!ReferenceEquals(old, value))
        {
            old?.Dispose();
        }
    }
}
