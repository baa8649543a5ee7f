using CalRec.Data;
using CalRec.Text.Templates;
using CalRec.Text.Tokenization;

namespace CalRec.Recommenders.CalRec;

/// <summary>
/// The token ids of every catalogue item's text (rendered with the template, truncated to a token budget), and the
/// serialization of a history: each item's tokens followed by the item separator token. With identity tokens
/// (<see cref="IdentityBase"/>), item i's tokens start with its own id <c>IdentityBase + i</c>, outside the tokenizer's
/// vocabulary: the item-ID hybrid, where the backbone learns an embedding per item beside its text.
/// </summary>
internal sealed class ItemTextTable
{
    private readonly int[][] _tokens;

    public ItemTextTable(IReadOnlyList<CatalogItem> items, ByteLevelBpeTokenizer tokenizer, ItemTextTemplate? template, int maxItemTokens, int? identityBase = null)
    {
        if (identityBase is { } b && b < tokenizer.VocabularySize)
        {
            throw new ArgumentOutOfRangeException(nameof(identityBase), $"Identity tokens start at {b}, inside the tokenizer's {tokenizer.VocabularySize} ids.");
        }

        IdentityBase = identityBase;
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxItemTokens);
        Separator = tokenizer.TokenToId(SpecialTokens.ItemSeparator) ?? throw new ArgumentException($"The tokenizer has no '{SpecialTokens.ItemSeparator}' token (train it with that special token).");
        Pad = tokenizer.TokenToId(SpecialTokens.Pad) ?? tokenizer.TokenToId(SpecialTokens.EndOfText) ?? Separator;
        _tokens = new int[items.Count][];
        var buffer = new List<int>(64);
        for (int i = 0; i < items.Count; i++)
        {
            buffer.Clear();
            tokenizer.EncodeInto(Render(items[i], template), buffer);
            buffer.RemoveAll(t => t == Separator);
            _tokens[i] = buffer.Count > maxItemTokens ? buffer.GetRange(0, maxItemTokens).ToArray() : buffer.ToArray();
            if (identityBase is { } first)
            {
                _tokens[i] = [first + i, .. _tokens[i]];
            }
            else if (_tokens[i].Length == 0)
            {
                // An item with no text still needs one token of its own so that it has a position to pool.
                _tokens[i] = [Pad];
            }
        }
    }

    /// <summary>Id of the item separator.</summary>
    public int Separator { get; }

    /// <summary>Id of the padding token.</summary>
    public int Pad { get; }

    /// <summary>The id of item 0's identity token (item i has <c>IdentityBase + i</c>), or null: text tokens only.</summary>
    public int? IdentityBase { get; }

    /// <summary>Number of items.</summary>
    public int Count => _tokens.Length;

    /// <summary>The tokens of item <paramref name="item"/>: its identity token if any, then its text (without the separator).</summary>
    public int[] Tokens(int item) => _tokens[item];

    /// <summary>The text of <paramref name="item"/> under <paramref name="template"/> (null: title and every attribute).</summary>
    public static string Render(CatalogItem item, ItemTextTemplate? template) => template is null
        ? item.ToText()
        : template.Render(field => field.ToLowerInvariant() switch
        {
            "title" => item.Title,
            "id" or "item_id" => item.Id,
            "domain" => item.Domain ?? item.Attribute("domain"),
            _ => item.Attribute(field) ?? item.Attribute(field.ToLowerInvariant()),
        });

    /// <summary>Number of tokens of the serialized <paramref name="items"/> (each item plus its separator).</summary>
    public int SerializedLength(ReadOnlySpan<int> items)
    {
        int n = 0;
        foreach (int i in items)
        {
            n += _tokens[i].Length + 1;
        }

        return n;
    }

    /// <summary>
    /// The most recent items of <paramref name="history"/> that fit in <paramref name="maxItems"/> items and
    /// <paramref name="maxTokens"/> serialized tokens (at least the last item).
    /// </summary>
    public ReadOnlySpan<int> Fit(ReadOnlySpan<int> history, int maxItems, int maxTokens)
    {
        int start = Math.Max(0, history.Length - maxItems), tokens = 0;
        for (int k = history.Length - 1; k >= start; k--)
        {
            tokens += _tokens[history[k]].Length + 1;
            if (tokens > maxTokens && k < history.Length - 1)
            {
                return history[(k + 1)..];
            }
        }

        return history[start..];
    }
}
