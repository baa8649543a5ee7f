using CalRec.Models.Configuration;
using CalRec.Tensors;

namespace CalRec.Models.Generation;

/// <summary>
/// Keys and values of every layer for the tokens processed so far, preallocated as [B, capacity, Hkv, D] per layer so
/// each decoding step only computes the new token's projections and attends over the cache in place.
/// </summary>
public sealed class KvCache : IDisposable
{
    private ManagedTensor[] _keys;
    private ManagedTensor[] _values;

    /// <summary>Creates an empty cache for <paramref name="batch"/> rows of up to <paramref name="capacity"/> tokens.</summary>
    public KvCache(DecoderConfig config, int batch, int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batch);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        Config = config;
        Batch = batch;
        Capacity = capacity;
        _keys = new ManagedTensor[config.NumLayers];
        _values = new ManagedTensor[config.NumLayers];
        for (int l = 0; l < config.NumLayers; l++)
        {
            _keys[l] = ManagedTensor.zeros(batch, capacity, config.NumKeyValueHeads, config.HeadDim).MoveToOuterScope();
            _values[l] = ManagedTensor.zeros(batch, capacity, config.NumKeyValueHeads, config.HeadDim).MoveToOuterScope();
        }
    }

    /// <summary>The model configuration the cache is shaped for.</summary>
    public DecoderConfig Config { get; }

    /// <summary>Rows (sequences) in the cache.</summary>
    public int Batch { get; private set; }

    /// <summary>Most tokens a row can hold.</summary>
    public int Capacity { get; }

    /// <summary>Tokens cached so far (the same for every row).</summary>
    public int Length { get; private set; }

    internal ManagedTensor Keys(int layer) => _keys[layer];

    internal ManagedTensor Values(int layer) => _values[layer];

    /// <summary>Copies the new keys/values [B, T, Hkv, D] of <paramref name="layer"/> to positions Length..Length+T-1.</summary>
    internal void Write(int layer, ManagedTensor k, ManagedTensor v)
    {
        int t = k.shape[1];
        if (Length + t > Capacity)
        {
            throw new InvalidOperationException($"KV cache full: {Length} + {t} tokens exceed its capacity of {Capacity}.");
        }

        int row = Config.NumKeyValueHeads * Config.HeadDim;
        for (int b = 0; b < Batch; b++)
        {
            k.Data.Slice(b * t * row, t * row).CopyTo(_keys[layer].Data.Slice(((b * Capacity) + Length) * row, t * row));
            v.Data.Slice(b * t * row, t * row).CopyTo(_values[layer].Data.Slice(((b * Capacity) + Length) * row, t * row));
        }
    }

    internal void Advance(int tokens) => Length += tokens;

    /// <summary>
    /// Causal attention for one layer: over q/k/v alone without a cache, or, with one, after appending k/v to it and
    /// attending over everything cached (the new positions included).
    /// </summary>
    internal static ManagedTensor Attend(ManagedTensor q, ManagedTensor k, ManagedTensor v, ManagedTensor? keyMask, KvCache? cache, int layer)
    {
        if (cache is null)
        {
            return Functional.scaled_dot_product_attention(q, k, v, causal: true, keyMask);
        }

        cache.Write(layer, k, v);
        return Functional.cached_attention(q, cache.Keys(layer), cache.Values(layer), cache.Length + q.shape[1], keyMask);
    }

    /// <summary>
    /// Rebuilds the rows so that new row i is old row <paramref name="sources"/>[i] (beam search reordering; the number of
    /// rows may change).
    /// </summary>
    public void Reorder(IReadOnlyList<int> sources)
    {
        int row = Config.NumKeyValueHeads * Config.HeadDim, block = Capacity * row, used = Length * row;
        for (int l = 0; l < _keys.Length; l++)
        {
            _keys[l] = Gather(_keys[l], sources, block, used, row);
            _values[l] = Gather(_values[l], sources, block, used, row);
        }

        Batch = sources.Count;
    }

    /// <summary>Returns the cache buffers to the pool.</summary>
    public void Dispose()
    {
        foreach (ManagedTensor t in _keys.Concat(_values))
        {
            t.Dispose();
        }
    }

    private ManagedTensor Gather(ManagedTensor old, IReadOnlyList<int> sources, int block, int used, int row)
    {
        var fresh = ManagedTensor.zeros(sources.Count, Capacity, Config.NumKeyValueHeads, Config.HeadDim).MoveToOuterScope();
        for (int i = 0; i < sources.Count; i++)
        {
            if ((uint)sources[i] >= (uint)Batch)
            {
                throw new ArgumentOutOfRangeException(nameof(sources), $"Reorder: source row {sources[i]} is outside [0, {Batch}).");
            }

            old.Data.Slice(sources[i] * block, used).CopyTo(fresh.Data.Slice(i * block, used));
        }

        old.Dispose();
        return fresh;
    }
}
