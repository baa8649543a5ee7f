using CalRec.Tensors;

namespace CalRec.Recommenders.SasRec;

/// <summary>
/// The batches of one SASRec training epoch: <see cref="Users"/> arranged so that batch i is the run
/// <c>Users[start .. start + count)</c> returned by the indexer. <see cref="Next"/> draws the next epoch's arrangement.
/// </summary>
internal sealed class SasRecBatches
{
    private readonly int _batchSize;
    private readonly SasRecBatching _batching;
    private readonly int[] _starts;

    /// <param name="users">The training users.</param>
    /// <param name="length">A user's training length (what a batch pads to).</param>
    /// <param name="batchSize">Users per batch (the last batch may be smaller).</param>
    /// <param name="batching">How users are grouped.</param>
    public SasRecBatches(int[] users, Func<int, int> length, int batchSize, SasRecBatching batching)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        _batchSize = batchSize;
        _batching = batching;
        Users = batching == SasRecBatching.LengthBuckets ? users.OrderBy(length).ThenBy(u => u).ToArray() : users.ToArray();
        _starts = Enumerable.Range(0, (Users.Length + batchSize - 1) / batchSize).Select(i => i * batchSize).ToArray();
    }

    /// <summary>The users in this epoch's order.</summary>
    public int[] Users { get; }

    /// <summary>Batches per epoch.</summary>
    public int Count => _starts.Length;

    /// <summary>Offset into <see cref="Users"/> and size of batch <paramref name="index"/>.</summary>
    public (int Start, int Count) this[int index] => (_starts[index], Math.Min(_batchSize, Users.Length - _starts[index]));

    /// <summary>The arrangement <see cref="Next"/> permutes (users or batch starts), for checkpoints.</summary>
    internal int[] Arrangement => _batching == SasRecBatching.RandomUsers ? Users : _starts;

    /// <summary>Restores an <see cref="Arrangement"/> saved in a checkpoint.</summary>
    internal void Restore(int[] arrangement, string source)
    {
        int[] target = Arrangement;
        if (arrangement.Length != target.Length || !arrangement.Order().SequenceEqual(target.Order()))
        {
            throw new InvalidDataException($"{source}: the saved batch order is not of this data ({arrangement.Length} entries, {target.Length} expected): resume with the same dataset and settings.");
        }

        arrangement.CopyTo(target, 0);
    }

    /// <summary>
    /// Arranges the next epoch: a fresh random order of all users (<see cref="SasRecBatching.RandomUsers"/>) or the same
    /// length-sorted batches in a fresh random order (<see cref="SasRecBatching.LengthBuckets"/>).
    /// </summary>
    public void Next(SeededRandom order)
    {
        if (_batching == SasRecBatching.RandomUsers)
        {
            order.Shuffle<int>(Users);
        }
        else
        {
            order.Shuffle<int>(_starts);
        }
    }
}
