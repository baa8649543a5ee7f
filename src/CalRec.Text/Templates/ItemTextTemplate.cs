using System.Text;

namespace CalRec.Text.Templates;

/// <summary>
/// Serializes an item as text from a template such as <c>title: {title}; brand: {brand}; category: {category}</c>.
/// The template is split into segments at <c>;</c>; a segment whose placeholders are all missing or empty is left out,
/// so items without a brand simply have no "brand:" part. Placeholder names are looked up case-insensitively.
/// </summary>
public sealed class ItemTextTemplate
{
    private readonly List<List<(bool IsField, string Text)>> _segments;

    private ItemTextTemplate(string source, List<List<(bool IsField, string Text)>> segments)
    {
        Source = source;
        _segments = segments;
    }

    /// <summary>The template text.</summary>
    public string Source { get; }

    /// <summary>The placeholder names, in order of appearance.</summary>
    public IReadOnlyList<string> Fields => _segments.SelectMany(s => s).Where(p => p.IsField).Select(p => p.Text).Distinct(StringComparer.OrdinalIgnoreCase).ToList();

    /// <summary>Parses <paramref name="template"/>; braces must pair up and enclose a non-empty name.</summary>
    /// <exception cref="FormatException">The template is malformed (the message gives the column).</exception>
    public static ItemTextTemplate Parse(string template)
    {
        ArgumentNullException.ThrowIfNull(template);
        var segments = new List<List<(bool, string)>>();
        var current = new List<(bool, string)>();
        var literal = new StringBuilder();
        int fields = 0;
        for (int i = 0; i < template.Length; i++)
        {
            char c = template[i];
            if (c == '{')
            {
                int close = template.IndexOf('}', i + 1);
                string name = close < 0 ? string.Empty : template[(i + 1)..close].Trim();
                if (close < 0 || name.Length == 0 || name.Contains('{'))
                {
                    throw new FormatException($"Item text template '{template}': unclosed or empty placeholder at column {i + 1}.");
                }

                Flush(literal, current);
                current.Add((true, name));
                fields++;
                i = close;
            }
            else if (c == '}')
            {
                throw new FormatException($"Item text template '{template}': '}}' without '{{' at column {i + 1}.");
            }
            else if (c == ';')
            {
                Flush(literal, current);
                segments.Add(current);
                current = [];
            }
            else
            {
                literal.Append(c);
            }
        }

        Flush(literal, current);
        segments.Add(current);
        if (fields == 0)
        {
            throw new FormatException($"Item text template '{template}' has no placeholder such as {{title}}.");
        }

        return new ItemTextTemplate(template, segments.Where(s => s.Count > 0).ToList());
    }

    /// <summary>Renders an item whose field values <paramref name="field"/> returns (null or empty: missing).</summary>
    public string Render(Func<string, string?> field)
    {
        var sb = new StringBuilder();
        foreach (List<(bool IsField, string Text)> segment in _segments)
        {
            bool any = false;
            var part = new StringBuilder();
            foreach ((bool isField, string text) in segment)
            {
                if (isField)
                {
                    string? value = field(text);
                    if (!string.IsNullOrWhiteSpace(value))
                    {
                        any = true;
                        part.Append(value.Trim());
                    }
                }
                else
                {
                    part.Append(text);
                }
            }

            if (any)
            {
                if (sb.Length > 0)
                {
                    sb.Append("; ");
                }

                sb.Append(part.ToString().Trim());
            }
        }

        return sb.ToString();
    }

    /// <inheritdoc />
    public override string ToString() => Source;

    private static void Flush(StringBuilder literal, List<(bool, string)> current)
    {
        if (literal.Length > 0)
        {
            current.Add((false, literal.ToString()));
            literal.Clear();
        }
    }
}
