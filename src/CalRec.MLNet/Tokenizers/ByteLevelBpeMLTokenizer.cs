using System.Buffers;
using System.Text.RegularExpressions;
using CalRec.Text.Tokenization;
using Microsoft.ML.Tokenizers;

namespace CalRec.MLNet;

/// <summary>
/// The project's byte-level BPE tokenizer (trained by <c>calrec tokenizer train</c> or read from a Hugging Face
/// <c>tokenizer.json</c>) as a <see cref="Tokenizer"/> of Microsoft.ML.Tokenizers, so it goes wherever ML.NET code takes
/// one: token ids, values and character offsets, counting, truncation by token count, decoding. Encoding runs our
/// encoder (faster than the package's <see cref="BpeTokenizer"/> on the same vocabulary; both give the same ids, see
/// <see cref="ToBpeTokenizer"/> and docs/benchmarks.md).
/// </summary>
public sealed class ByteLevelBpeMLTokenizer : Tokenizer
{
    /// <summary>Wraps <paramref name="tokenizer"/>.</summary>
    public ByteLevelBpeMLTokenizer(ByteLevelBpeTokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        Inner = tokenizer;
    }

    /// <summary>The wrapped tokenizer.</summary>
    public ByteLevelBpeTokenizer Inner { get; }

    /// <summary>Reads a Hugging Face <c>tokenizer.json</c> (byte-level BPE) and wraps it.</summary>
    public static ByteLevelBpeMLTokenizer FromFile(string tokenizerJsonPath) => new(ByteLevelBpeTokenizer.FromFile(tokenizerJsonPath));

    /// <summary>
    /// The same vocabulary, merges, pre-tokenizer and added tokens as Microsoft.ML.Tokenizers' own
    /// <see cref="BpeTokenizer"/> (<c>ByteLevel = true</c>): for code that wants the package's implementation.
    /// </summary>
    public BpeTokenizer ToBpeTokenizer()
    {
        var vocabulary = new Dictionary<string, int>(StringComparer.Ordinal);
        var special = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int id = 0; id < Inner.VocabularySize; id++)
        {
            if (Inner.IdToToken(id) is { } token && !Inner.AddedTokens.Any(a => a.Id == id))
            {
                vocabulary[token] = id;
            }
        }

        foreach (AddedToken added in Inner.AddedTokens)
        {
            special[added.Content] = added.Id;
        }

        return BpeTokenizer.Create(new BpeOptions(vocabulary)
        {
            Merges = Inner.Merges.Select(m => $"{m.Left} {m.Right}").ToList(),
            ByteLevel = true,
            SpecialTokens = special.Count > 0 ? special : null,
            PreTokenizer = new RegexPreTokenizer(new Regex(Inner.PreTokenizerPattern, RegexOptions.Compiled | RegexOptions.CultureInvariant), special.Count > 0 ? special : null),
        });
    }

    /// <inheritdoc />
    protected override EncodeResults<EncodedToken> EncodeToTokens(string? text, ReadOnlySpan<char> textSpan, EncodeSettings settings)
    {
        string input = text ?? textSpan.ToString();
        var ids = new List<int>(input.Length / 3 + 4);
        var offsets = new List<Range>(ids.Capacity);
        string encoded = Inner.EncodeWithOffsets(input, ids, offsets);
        int count = Math.Min(ids.Count, settings.MaxTokenCount);
        var tokens = new List<EncodedToken>(count);
        for (int i = 0; i < count; i++)
        {
            tokens.Add(new EncodedToken(ids[i], Inner.IdToToken(ids[i]) ?? "", offsets[i]));
        }

        return new EncodeResults<EncodedToken>
        {
            Tokens = tokens,
            NormalizedText = ReferenceEquals(encoded, input) ? null : encoded,
            CharsConsumed = count == ids.Count ? encoded.Length : offsets[count - 1].End.Value,
        };
    }

    /// <inheritdoc />
    protected override EncodeResults<int> EncodeToIds(string? text, ReadOnlySpan<char> textSpan, EncodeSettings settings)
    {
        // Without truncation or normalization no offsets are needed: our encoder's ids directly.
        string input = text ?? textSpan.ToString();
        var ids = new List<int>(input.Length / 3 + 4);
        Inner.EncodeInto(input, ids);
        if (ids.Count <= settings.MaxTokenCount && (Inner.Normalizer is null || input.IsNormalized(System.Text.NormalizationForm.FormC)))
        {
            return new EncodeResults<int> { Tokens = ids, CharsConsumed = input.Length };
        }

        EncodeResults<EncodedToken> tokens = EncodeToTokens(input, input, settings);
        return new EncodeResults<int> { Tokens = tokens.Tokens.Select(t => t.Id).ToList(), NormalizedText = tokens.NormalizedText, CharsConsumed = tokens.CharsConsumed };
    }

    /// <inheritdoc />
    protected override int CountTokens(string? text, ReadOnlySpan<char> textSpan, EncodeSettings settings) =>
        EncodeToIds(text, textSpan, settings).Tokens.Count;

    /// <inheritdoc />
    public override string Decode(IEnumerable<int> ids) => Inner.Decode(ids);

    /// <inheritdoc />
    public override OperationStatus Decode(IEnumerable<int> ids, Span<char> destination, out int idsConsumed, out int charsWritten)
    {
        // Decoding is by whole ids: write the longest prefix of ids whose text fits.
        var all = ids.ToList();
        string whole = Inner.Decode(all);
        if (whole.Length <= destination.Length)
        {
            whole.CopyTo(destination);
            idsConsumed = all.Count;
            charsWritten = whole.Length;
            return OperationStatus.Done;
        }

        idsConsumed = 0;
        charsWritten = 0;
        for (int n = all.Count - 1; n > 0; n--)
        {
            string part = Inner.Decode(all.Take(n));
            if (part.Length <= destination.Length)
            {
                part.CopyTo(destination);
                idsConsumed = n;
                charsWritten = part.Length;
                break;
            }
        }

        return OperationStatus.DestinationTooSmall;
    }
}
