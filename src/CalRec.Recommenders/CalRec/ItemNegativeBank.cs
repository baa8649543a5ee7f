using CalRec.Models.Decoder;
using CalRec.Models.Embeddings;

namespace CalRec.Recommenders.CalRec;

/// <summary>How CALRec's contrastive terms draw their negatives.</summary>
public enum NegativeSampling
{
    /// <summary>The other distinct target items of the batch (CALRec's paper).</summary>
    InBatch,

    /// <summary>
    /// The batch's items plus every item of the stage's catalogues, from a cached item index re-encoded every
    /// <see cref="CalRecTrainer.Options.NegativeRefreshSteps"/> steps (no gradient through the cached vectors).
    /// </summary>
    Catalogue,
}

/// <summary>
/// A cached item index for catalogue-wide negatives: the L2-normalized item-tower vectors of every item of one or more
/// catalogues, stacked [<see cref="Count"/>, <see cref="Dimension"/>]. The trainer re-encodes it every few steps; each
/// <see cref="HistoryBatch"/> built while it is current carries it together with the rows of the batch's own items,
/// which the loss leaves out (those items are negatives already, with gradient, through the batch).
/// </summary>
public sealed class ItemNegativeBank
{
    private readonly Dictionary<ItemTextTable, int> _offsets = [];
    private readonly List<ItemTextTable> _tables;
    private readonly Pooling _pooling;

    internal ItemNegativeBank(IEnumerable<ItemTextTable> tables, int dimension, Pooling pooling)
    {
        _tables = tables.Distinct().ToList();
        _pooling = pooling;
        foreach (ItemTextTable table in _tables)
        {
            _offsets[table] = Count;
            Count += table.Count;
        }

        Dimension = dimension;
        Vectors = new float[Count * dimension];
    }

    /// <summary>Items in the bank.</summary>
    public int Count { get; }

    /// <summary>Vector size.</summary>
    public int Dimension { get; }

    /// <summary>The item vectors, row-major [<see cref="Count"/>, <see cref="Dimension"/>].</summary>
    public float[] Vectors { get; }

    /// <summary>How many times the bank was encoded; a device copy keyed by it knows when to reload.</summary>
    public int Version { get; private set; }

    /// <summary>Re-encodes every item with the backbone's current weights (evaluation mode, no gradient).</summary>
    internal void Refresh(DecoderLM model, CancellationToken cancellation)
    {
        foreach (ItemTextTable table in _tables)
        {
            CalRecScorer.EncodeCatalogue(model, table, _pooling, cancellation).CopyTo(Vectors, _offsets[table] * Dimension);
        }

        Version++;
    }

    /// <summary>The bank row of an item.</summary>
    internal int Row(ItemTextTable table, int item) => _offsets.TryGetValue(table, out int offset)
        ? offset + item
        : throw new ArgumentException("The batch holds an item of a catalogue that is not in the negative bank.");
}
