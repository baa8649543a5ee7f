using System.Collections.Concurrent;
using System.Text;

namespace CalRec.Text.Tokenization;

/// <summary>
/// Byte-level BPE tokenizer compatible with Hugging Face <c>tokenizer.json</c> (GPT-2, Llama 3, Qwen2 style).
/// The API follows Microsoft.ML.Tokenizers: <see cref="EncodeToIds"/>, <see cref="Decode"/>, <see cref="CountTokens"/>
/// and static factories (<see cref="Create"/>, <see cref="FromFile"/>, <see cref="Train"/>).
/// </summary>
/// <remarks>
/// Text is encoded as UTF-8, so any well-formed string round-trips exactly through <see cref="EncodeToIds"/> and
/// <see cref="Decode"/>. A lone surrogate is not valid UTF-16; the UTF-8 encoder replaces it with U+FFFD, which is what
/// decoding returns. Decoding ids that split a multi-byte character yields U+FFFD for the incomplete bytes.
/// </remarks>
public sealed partial class ByteLevelBpeTokenizer
{
    private const int CacheLimit = 200_000;
    private readonly Dictionary<string, int> _vocab;
    private readonly string[] _idToToken;
    private readonly Dictionary<long, (int Rank, int Merged)> _merges;
    private readonly List<(string Left, string Right)> _mergeList;
    private readonly int[] _byteIds;
    private readonly AddedToken[] _added;
    private readonly Dictionary<int, AddedToken> _addedById;
    private readonly PatternPreTokenizer _preTokenizer;
    private readonly ConcurrentDictionary<string, int[]> _cache = new(StringComparer.Ordinal);

    private ByteLevelBpeTokenizer(Dictionary<string, int> vocab, List<(string, string)> merges, IEnumerable<AddedToken> added, PatternPreTokenizer preTokenizer,
        bool ignoreMerges, string? normalizer)
    {
        _vocab = vocab;
        int size = 0;
        foreach (int id in vocab.Values)
        {
            size = Math.Max(size, id + 1);
        }

        _added = added.OrderByDescending(static a => a.Content.Length).ThenBy(static a => a.Id).ToArray();
        foreach (AddedToken a in _added)
        {
            size = Math.Max(size, a.Id + 1);
        }

        _idToToken = new string[size];
        foreach ((string tok, int id) in vocab)
        {
            if (id < 0)
            {
                throw new InvalidDataException($"Token '{tok}' has negative id {id}.");
            }

            _idToToken[id] = tok;
        }

        _addedById = new Dictionary<int, AddedToken>();
        foreach (AddedToken a in _added)
        {
            _addedById[a.Id] = a;
            _idToToken[a.Id] ??= a.Content;
        }

        _byteIds = new int[256];
        for (int b = 0; b < 256; b++)
        {
            string s = ByteLevel.ByteToChar[b].ToString();
            _byteIds[b] = vocab.TryGetValue(s, out int id) ? id : -1;
        }

        _mergeList = merges;
        _merges = new Dictionary<long, (int, int)>(merges.Count);
        for (int rank = 0; rank < merges.Count; rank++)
        {
            (string l, string r) = merges[rank];
            if (!vocab.TryGetValue(l, out int li) || !vocab.TryGetValue(r, out int ri))
            {
                throw new InvalidDataException($"Merge {rank} ('{l}' '{r}') uses a token missing from the vocabulary.");
            }

            if (!vocab.TryGetValue(l + r, out int merged))
            {
                throw new InvalidDataException($"Merge {rank} ('{l}' '{r}') produces '{l + r}', which is missing from the vocabulary.");
            }

            _merges.TryAdd(Key(li, ri), (rank, merged));
        }

        _preTokenizer = preTokenizer;
        IgnoreMerges = ignoreMerges;
        Normalizer = normalizer;
    }

    /// <summary>Number of ids (vocabulary plus added tokens).</summary>
    public int VocabularySize => _idToToken.Length;

    /// <summary>Tokens matched literally before pre-tokenization.</summary>
    public IReadOnlyList<AddedToken> AddedTokens => _added;

    /// <summary>The merges in priority order.</summary>
    public IReadOnlyList<(string Left, string Right)> Merges => _mergeList;

    /// <summary>The pre-tokenization pattern.</summary>
    public string PreTokenizerPattern => _preTokenizer.Pattern;

    /// <summary>Whether a word found whole in the vocabulary skips merging (Llama 3's <c>ignore_merges</c>).</summary>
    public bool IgnoreMerges { get; }

    /// <summary>Unicode normalization applied before encoding ("NFC") or null.</summary>
    public string? Normalizer { get; }

    /// <summary>
    /// Creates a tokenizer from a byte-level vocabulary (token strings in GPT-2's byte-to-unicode alphabet), merges in
    /// priority order, and added tokens.
    /// </summary>
    public static ByteLevelBpeTokenizer Create(IReadOnlyDictionary<string, int> vocab, IEnumerable<(string Left, string Right)> merges,
        IEnumerable<AddedToken>? addedTokens = null, string preTokenizerPattern = PatternPreTokenizer.Gpt2Pattern, bool ignoreMerges = false,
        string? normalizer = null) =>
        new(new Dictionary<string, int>(vocab, StringComparer.Ordinal), merges.ToList(), addedTokens ?? [], new PatternPreTokenizer(preTokenizerPattern),
            ignoreMerges, normalizer);

    /// <summary>The id of <paramref name="token"/> (a vocabulary entry or added token), or null.</summary>
    public int? TokenToId(string token)
    {
        if (_vocab.TryGetValue(token, out int id))
        {
            return id;
        }

        foreach (AddedToken a in _added)
        {
            if (a.Content == token)
            {
                return a.Id;
            }
        }

        return null;
    }

    /// <summary>The vocabulary string of <paramref name="id"/> (byte-level alphabet), or null when unused.</summary>
    public string? IdToToken(int id) => (uint)id < (uint)_idToToken.Length ? _idToToken[id] : null;

    /// <summary>Encodes <paramref name="text"/>; added tokens in the text become their ids.</summary>
    public IReadOnlyList<int> EncodeToIds(string text)
    {
        var ids = new List<int>(text.Length / 3 + 4);
        EncodeInto(text, ids);
        return ids;
    }

    /// <summary>Number of tokens <paramref name="text"/> encodes to.</summary>
    public int CountTokens(string text)
    {
        var ids = new List<int>(text.Length / 3 + 4);
        EncodeInto(text, ids);
        return ids.Count;
    }

    /// <summary>Appends the ids of <paramref name="text"/> to <paramref name="output"/>.</summary>
    public void EncodeInto(string text, List<int> output) => Encode(text, output, null);

    /// <summary>
    /// Encodes <paramref name="text"/> with each token's character range in the text the tokens were read from (the
    /// normalized text, returned, when <see cref="Normalizer"/> changed it). A token that holds part of a multi-byte
    /// character covers the whole character, so neighbouring ranges can overlap there.
    /// </summary>
    public string EncodeWithOffsets(string text, List<int> ids, List<Range> offsets)
    {
        ArgumentNullException.ThrowIfNull(offsets);
        return Encode(text, ids, offsets);
    }

    private string Encode(string text, List<int> output, List<Range>? offsets)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (Normalizer == "NFC" && !text.IsNormalized(NormalizationForm.FormC))
        {
            text = text.Normalize(NormalizationForm.FormC);
        }

        int start = 0;
        while (start < text.Length)
        {
            (int pos, AddedToken? token) = FindAdded(text, start);
            EncodeOrdinary(text.AsSpan(start, pos - start), start, output, offsets);
            if (token is null)
            {
                break;
            }

            output.Add(token.Id);
            offsets?.Add(pos..(pos + token.Content.Length));
            start = pos + token.Content.Length;
        }

        return text;
    }

    /// <summary>
    /// Decodes ids back to text. Invalid UTF-8 (an id sequence that splits a character) becomes U+FFFD.
    /// </summary>
    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = false)
    {
        var bytes = new List<byte>();
        var sb = new StringBuilder();
        foreach (int id in ids)
        {
            if (_addedById.TryGetValue(id, out AddedToken? added))
            {
                Flush(bytes, sb);
                if (!(skipSpecialTokens && added.Special))
                {
                    sb.Append(added.Content);
                }

                continue;
            }

            string? tok = IdToToken(id) ?? throw new ArgumentOutOfRangeException(nameof(ids), $"Decode: id {id} is not in the vocabulary of {VocabularySize}.");
            foreach (char c in tok)
            {
                if (!ByteLevel.CharToByte.TryGetValue(c, out byte b))
                {
                    throw new InvalidDataException($"Decode: token {id} ('{tok}') has a character outside the byte-level alphabet.");
                }

                bytes.Add(b);
            }
        }

        Flush(bytes, sb);
        return sb.ToString();
    }

    /// <summary>
    /// Encodes several texts into one padded batch. Sequences longer than <paramref name="maxLength"/> are truncated
    /// (keeping the start, or the end with <paramref name="truncateLeft"/>); shorter ones are right-padded with
    /// <paramref name="padId"/> to the longest sequence (or to <paramref name="maxLength"/> with <paramref name="padToMax"/>).
    /// </summary>
    public BatchEncoding EncodeBatch(IReadOnlyList<string> texts, int maxLength, int padId, bool padToMax = false, bool truncateLeft = false)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxLength);
        var all = new List<int>[texts.Count];
        int longest = 0;
        for (int i = 0; i < texts.Count; i++)
        {
            var ids = new List<int>();
            EncodeInto(texts[i], ids);
            if (ids.Count > maxLength)
            {
                ids = truncateLeft ? ids.GetRange(ids.Count - maxLength, maxLength) : ids.GetRange(0, maxLength);
            }

            all[i] = ids;
            longest = Math.Max(longest, ids.Count);
        }

        int len = padToMax ? maxLength : Math.Max(1, longest);
        int[] outIds = new int[texts.Count * len];
        float[] mask = new float[texts.Count * len];
        int[] lengths = new int[texts.Count];
        for (int i = 0; i < texts.Count; i++)
        {
            List<int> ids = all[i];
            lengths[i] = ids.Count;
            for (int j = 0; j < len; j++)
            {
                bool real = j < ids.Count;
                outIds[(i * len) + j] = real ? ids[j] : padId;
                mask[(i * len) + j] = real ? 1f : 0f;
            }
        }

        return new BatchEncoding(outIds, mask, texts.Count, len, lengths);
    }

    private (int Position, AddedToken? Token) FindAdded(string text, int start)
    {
        if (_added.Length == 0)
        {
            return (text.Length, null);
        }

        int best = text.Length;
        AddedToken? found = null;
        foreach (AddedToken a in _added)
        {
            int p = text.IndexOf(a.Content, start, StringComparison.Ordinal);
            if (p >= 0 && p < best)
            {
                best = p;
                found = a;
            }
        }

        return (best, found);
    }

    private void EncodeOrdinary(ReadOnlySpan<char> text, int offset, List<int> output, List<Range>? offsets)
    {
        if (text.IsEmpty)
        {
            return;
        }

        int covered = 0;
        foreach (var m in _preTokenizer.EnumerateMatches(text))
        {
            if (m.Index > covered)
            {
                EncodeWord(text[covered..m.Index], offset + covered, output, offsets);
            }

            EncodeWord(text.Slice(m.Index, m.Length), offset + m.Index, output, offsets);
            covered = m.Index + m.Length;
        }

        if (covered < text.Length)
        {
            EncodeWord(text[covered..], offset + covered, output, offsets);
        }
    }

    private void EncodeWord(ReadOnlySpan<char> word, int offset, List<int> output, List<Range>? offsets)
    {
        int first = output.Count;
        EncodeWord(word, output);
        if (offsets is null)
        {
            return;
        }

        // Each token's byte-level string has one character per UTF-8 byte; map its bytes back to the word's chars.
        int charIndex = 0, bytesLeftInChar = Utf8Length(word, 0);
        for (int t = first; t < output.Count; t++)
        {
            int start = charIndex, bytes = _idToToken[output[t]].Length;
            while (bytes > 0 && charIndex < word.Length)
            {
                int take = Math.Min(bytes, bytesLeftInChar);
                bytes -= take;
                bytesLeftInChar -= take;
                if (bytesLeftInChar == 0)
                {
                    charIndex += char.IsHighSurrogate(word[charIndex]) && charIndex + 1 < word.Length ? 2 : 1;
                    bytesLeftInChar = charIndex < word.Length ? Utf8Length(word, charIndex) : 0;
                }
            }

            int end = bytesLeftInChar > 0 && bytesLeftInChar < Utf8Length(word, charIndex) ? charIndex + 1 : charIndex;
            offsets.Add((offset + start)..(offset + Math.Max(end, start)));
        }
    }

    private static int Utf8Length(ReadOnlySpan<char> word, int index) =>
        index >= word.Length ? 0 : char.IsHighSurrogate(word[index]) && index + 1 < word.Length ? 4 : Encoding.UTF8.GetByteCount(word.Slice(index, 1));

    private void EncodeWord(ReadOnlySpan<char> word, List<int> output)
    {
        if (word.IsEmpty)
        {
            return;
        }

        var lookup = _cache.GetAlternateLookup<ReadOnlySpan<char>>();
        if (lookup.TryGetValue(word, out int[]? cached))
        {
            output.AddRange(cached);
            return;
        }

        int[] ids = Bpe(word);
        if (_cache.Count < CacheLimit)
        {
            lookup.TryAdd(word, ids);
        }

        output.AddRange(ids);
    }

    private int[] Bpe(ReadOnlySpan<char> word)
    {
        int maxBytes = Encoding.UTF8.GetMaxByteCount(word.Length);
        Span<byte> bytes = maxBytes <= 1024 ? stackalloc byte[maxBytes] : new byte[maxBytes];
        int n = Encoding.UTF8.GetBytes(word, bytes);
        bytes = bytes[..n];
        if (IgnoreMerges)
        {
            string whole = ToByteLevel(bytes);
            if (_vocab.TryGetValue(whole, out int wid))
            {
                return [wid];
            }
        }

        var symbols = new List<int>(n);
        foreach (byte b in bytes)
        {
            int id = _byteIds[b];
            if (id < 0)
            {
                throw new InvalidDataException($"The vocabulary has no token for byte 0x{b:X2} ('{ByteLevel.ByteToChar[b]}'); a byte-level BPE vocabulary must cover all 256 bytes.");
            }

            symbols.Add(id);
        }

        while (symbols.Count > 1)
        {
            int bestRank = int.MaxValue, bestMerged = -1;
            long bestKey = 0;
            for (int i = 0; i < symbols.Count - 1; i++)
            {
                if (_merges.TryGetValue(Key(symbols[i], symbols[i + 1]), out var m) && m.Rank < bestRank)
                {
                    bestRank = m.Rank;
                    bestMerged = m.Merged;
                    bestKey = Key(symbols[i], symbols[i + 1]);
                }
            }

            if (bestMerged < 0)
            {
                break;
            }

            int write = 0;
            for (int i = 0; i < symbols.Count; i++)
            {
                if (i < symbols.Count - 1 && Key(symbols[i], symbols[i + 1]) == bestKey)
                {
                    symbols[write++] = bestMerged;
                    i++;
                }
                else
                {
                    symbols[write++] = symbols[i];
                }
            }

            symbols.RemoveRange(write, symbols.Count - write);
        }

        return [.. symbols];
    }

    internal static string ToByteLevel(ReadOnlySpan<byte> bytes)
    {
        var chars = new char[bytes.Length];
        for (int i = 0; i < bytes.Length; i++)
        {
            chars[i] = ByteLevel.ByteToChar[bytes[i]];
        }

        return new string(chars);
    }

    private static void Flush(List<byte> bytes, StringBuilder sb)
    {
        if (bytes.Count > 0)
        {
            sb.Append(Encoding.UTF8.GetString(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(bytes)));
            bytes.Clear();
        }
    }

    internal static long Key(int left, int right) => ((long)left << 32) | (uint)right;
}
