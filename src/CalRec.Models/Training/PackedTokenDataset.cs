namespace CalRec.Models.Training;

/// <summary>
/// A token stream cut into fixed-length training windows: documents are concatenated with a separator token, and
/// window i covers tokens [i·T, i·T + T] (inputs are the first T, targets the last T).
/// </summary>
public sealed class PackedTokenDataset
{
    private readonly int[] _tokens;

    /// <summary>Packs <paramref name="documents"/> (already tokenized) separated by <paramref name="separatorId"/>.</summary>
    public PackedTokenDataset(IEnumerable<IReadOnlyList<int>> documents, int separatorId, int sequenceLength)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(sequenceLength, 2);
        var all = new List<int>();
        foreach (IReadOnlyList<int> doc in documents)
        {
            all.AddRange(doc);
            all.Add(separatorId);
        }

        _tokens = [.. all];
        SequenceLength = sequenceLength;
        WindowCount = Math.Max(0, (_tokens.Length - 1) / sequenceLength);
    }

    /// <summary>Tokens per window.</summary>
    public int SequenceLength { get; }

    /// <summary>Number of complete windows.</summary>
    public int WindowCount { get; }

    /// <summary>Total tokens in the stream.</summary>
    public int TokenCount => _tokens.Length;

    /// <summary>Writes window <paramref name="window"/> into row <paramref name="row"/> of input and target buffers [B·T].</summary>
    public void Fill(int window, int row, int[] inputs, int[] targets)
    {
        int t = SequenceLength, start = window * t;
        Array.Copy(_tokens, start, inputs, row * t, t);
        Array.Copy(_tokens, start + 1, targets, row * t, t);
    }
}
