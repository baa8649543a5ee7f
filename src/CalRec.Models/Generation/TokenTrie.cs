namespace CalRec.Models.Generation;

/// <summary>
/// A prefix tree over token-id sequences (e.g. every item title, tokenized). Nodes are ints; node 0 is the root.
/// Used to restrict decoding to the stored sequences.
/// </summary>
public sealed class TokenTrie
{
    private readonly List<Dictionary<int, int>> _children = [new()];
    private readonly List<int> _terminal = [-1];

    /// <summary>Builds the trie; entry i of <paramref name="sequences"/> is reported back as index i.</summary>
    public TokenTrie(IEnumerable<IReadOnlyList<int>> sequences)
    {
        int index = 0;
        foreach (IReadOnlyList<int> seq in sequences)
        {
            if (seq.Count == 0)
            {
                throw new ArgumentException($"Allowed sequence {index} is empty.");
            }

            int node = 0;
            foreach (int token in seq)
            {
                if (!_children[node].TryGetValue(token, out int child))
                {
                    child = _children.Count;
                    _children.Add([]);
                    _terminal.Add(-1);
                    _children[node][token] = child;
                }

                node = child;
            }

            if (_terminal[node] < 0)
            {
                _terminal[node] = index;
            }

            MaxLength = Math.Max(MaxLength, seq.Count);
            Count++;
            index++;
        }
    }

    /// <summary>Number of sequences added.</summary>
    public int Count { get; }

    /// <summary>Length of the longest sequence.</summary>
    public int MaxLength { get; }

    /// <summary>Tokens that may follow <paramref name="node"/>, in ascending order.</summary>
    public IEnumerable<int> Children(int node) => _children[node].Keys.Order();

    /// <summary>The node after <paramref name="token"/>, or -1.</summary>
    public int Next(int node, int token) => _children[node].TryGetValue(token, out int child) ? child : -1;

    /// <summary>Whether a stored sequence ends at <paramref name="node"/>.</summary>
    public bool IsTerminal(int node) => _terminal[node] >= 0;

    /// <summary>Whether <paramref name="node"/> has continuations.</summary>
    public bool HasChildren(int node) => _children[node].Count > 0;

    /// <summary>The index of the stored sequence equal to <paramref name="tokens"/>, or null.</summary>
    public int? Find(IReadOnlyList<int> tokens)
    {
        int node = 0;
        foreach (int t in tokens)
        {
            node = Next(node, t);
            if (node < 0)
            {
                return null;
            }
        }

        return _terminal[node] >= 0 ? _terminal[node] : null;
    }
}
