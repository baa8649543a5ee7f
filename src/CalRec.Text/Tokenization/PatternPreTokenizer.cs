using System.Text.RegularExpressions;

namespace CalRec.Text.Tokenization;

/// <summary>Splits text into words before BPE, with a regular expression (GPT-2's by default).</summary>
public sealed partial class PatternPreTokenizer
{
    /// <summary>GPT-2's pre-tokenization pattern (contractions, letters, numbers, other symbols, whitespace).</summary>
    public const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    private readonly Regex _regex;

    /// <summary>Creates a pre-tokenizer from <paramref name="pattern"/>.</summary>
    public PatternPreTokenizer(string pattern = Gpt2Pattern)
    {
        Pattern = pattern;
        _regex = pattern == Gpt2Pattern ? Gpt2Regex() : new Regex(pattern, RegexOptions.Compiled | RegexOptions.CultureInvariant);
    }

    /// <summary>The pattern in use.</summary>
    public string Pattern { get; }

    /// <summary>The words of <paramref name="text"/> in order; their concatenation is the input.</summary>
    public IEnumerable<string> Split(string text)
    {
        for (Match m = _regex.Match(text); m.Success; m = m.NextMatch())
        {
            yield return m.Value;
        }
    }

    internal Regex.ValueMatchEnumerator EnumerateMatches(ReadOnlySpan<char> text) => _regex.EnumerateMatches(text);

    [GeneratedRegex(Gpt2Pattern, RegexOptions.CultureInvariant)]
    private static partial Regex Gpt2Regex();
}
