namespace CalRec.Data;

/// <summary>A catalogue row of <c>items.tsv</c>.</summary>
/// <param name="Id">Item id.</param>
/// <param name="Title">Title (may be empty).</param>
/// <param name="Extra">Free <c>key=value; ...</c> attributes.</param>
/// <param name="Domain">The item's domain (category) when the source tags one; see <see cref="InteractionDataset.DomainOf"/>.</param>
public sealed record CatalogItem(string Id, string Title, string Extra, string? Domain = null)
{
    /// <summary>The value of attribute <paramref name="key"/> in <see cref="Extra"/>, or null.</summary>
    public string? Attribute(string key)
    {
        foreach (string kv in Extra.Split(';', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = kv.IndexOf('=');
            if (eq > 0 && kv.AsSpan(0, eq).Trim().SequenceEqual(key))
            {
                return kv[(eq + 1)..].Trim();
            }
        }

        return null;
    }

    /// <summary>The item as text for language modelling: the title, then the attributes that are not bookkeeping.</summary>
    public string ToText()
    {
        var parts = new List<string> { $"title: {Title}" };
        foreach (string kv in Extra.Split(';', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = kv.IndexOf('=');
            string key = eq > 0 ? kv[..eq] : kv;
            if (key is not ("asin" or "text"))
            {
                parts.Add(eq > 0 ? $"{key}: {kv[(eq + 1)..]}" : kv);
            }
        }

        return string.Join("; ", parts);
    }
}
