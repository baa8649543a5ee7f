namespace CalRec.Models.Generation;

/// <summary>
/// The rows of an incremental decoding run, as every <see cref="IStepModel"/> over a decoder keeps them: prompts of
/// different lengths left-padded with a key mask (0 on padding), per-row positions (padding at position 0, each row's
/// tokens from 0), one more token per row and step, and reordering for beam search.
/// </summary>
public sealed class GenerationRows
{
    private List<List<int>> _tokens = [];
    private List<List<float>> _mask = [];
    private List<int> _nextPosition = [];

    /// <summary>Number of rows.</summary>
    public int Count => _tokens.Count;

    /// <summary>Tokens per row so far, padding included.</summary>
    public int Length => _tokens.Count == 0 ? 0 : _tokens[0].Count;

    /// <summary>Every row's tokens so far, row-major [rows · <see cref="Length"/>].</summary>
    public int[] Tokens => _tokens.SelectMany(t => t).ToArray();

    /// <summary>The key mask [rows · <see cref="Length"/>] (1 real token, 0 padding), or null when no row is padded.</summary>
    public float[]? Mask
    {
        get
        {
            float[] mask = _mask.SelectMany(m => m).ToArray();
            return mask.Contains(0f) ? mask : null;
        }
    }

    /// <summary>Starts from <paramref name="prompts"/> (each non-empty): left-pads them to the longest.</summary>
    public void Start(IReadOnlyList<int[]> prompts)
    {
        if (prompts.Count == 0 || prompts.Any(p => p.Length == 0))
        {
            throw new ArgumentException("Every prompt needs at least one token.");
        }

        int longest = prompts.Max(p => p.Length);
        _tokens = [];
        _mask = [];
        _nextPosition = [];
        foreach (int[] p in prompts)
        {
            int pad = longest - p.Length;
            _tokens.Add([.. Enumerable.Repeat(0, pad), .. p]);
            _mask.Add([.. Enumerable.Repeat(0f, pad), .. Enumerable.Repeat(1f, p.Length)]);
            _nextPosition.Add(p.Length);
        }
    }

    /// <summary>Appends one token per row; returns the positions of the new tokens.</summary>
    public int[] Append(int[] tokens)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        if (tokens.Length != _tokens.Count)
        {
            throw new ArgumentException($"Step: {tokens.Length} tokens for {_tokens.Count} rows.");
        }

        int[] positions = [.. _nextPosition];
        for (int r = 0; r < tokens.Length; r++)
        {
            _tokens[r].Add(tokens[r]);
            _mask[r].Add(1f);
            _nextPosition[r]++;
        }

        return positions;
    }

    /// <summary>The position of every token so far, row-major [rows · <see cref="Length"/>].</summary>
    public int[] Positions()
    {
        int length = Length;
        int[] pos = new int[_tokens.Count * length];
        for (int r = 0; r < _tokens.Count; r++)
        {
            int pad = length - _nextPosition[r];
            for (int t = 0; t < length; t++)
            {
                pos[(r * length) + t] = Math.Max(0, t - pad);
            }
        }

        return pos;
    }

    /// <summary>Rebuilds the rows so that new row i is old row <paramref name="sources"/>[i].</summary>
    public void Reorder(IReadOnlyList<int> sources)
    {
        _tokens = sources.Select(s => new List<int>(_tokens[s])).ToList();
        _mask = sources.Select(s => new List<float>(_mask[s])).ToList();
        _nextPosition = sources.Select(s => _nextPosition[s]).ToList();
    }
}
