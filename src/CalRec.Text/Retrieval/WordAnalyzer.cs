using System.Globalization;
using System.Text;

namespace CalRec.Text.Retrieval;

/// <summary>
/// Splits text into search terms the way SQLite FTS5's default <c>unicode61</c> tokenizer does: letters, numbers and
/// private-use characters form terms, everything else separates them, terms are lower-cased, and Latin letters made of a
/// base letter plus one diacritic lose the diacritic ("Crème" → "creme"; "Ø" and "ł", which have no decomposition, stay).
/// Combining marks in already-decomposed text are dropped. Independent of the process's globalization mode.
/// </summary>
public static class WordAnalyzer
{
    // The base letter of U+00C0..U+017F, or '.' to keep the character (no canonical one-diacritic decomposition).
    private const string LatinFold =
        "aaaaaa.ceeeeiiii" + ".nooooo..uuuuy.." + "aaaaaa.ceeeeiiii" + ".nooooo..uuuuy.y" +
        "aaaaaaccccccccdd" + "..eeeeeeeeeegggg" + "gggghh..iiiiiiii" + "i...jjkk.llllll." +
        "...nnnnnn...oooo" + "oo..rrrrrrssssss" + "sstttt..uuuuuuuu" + "uuuuwwyyyzzzzzz.";

    /// <summary>Appends the terms of <paramref name="text"/> to <paramref name="terms"/>.</summary>
    public static void Terms(string text, List<string> terms)
    {
        ArgumentNullException.ThrowIfNull(text);
        Span<char> buffer = stackalloc char[64];
        var word = new ValueBuilder(buffer);
        foreach (char c in text)
        {
            if (IsTokenChar(c, out char folded))
            {
                word.Append(folded);
            }
            else if (!IsCombiningMark(c) && word.Length > 0)
            {
                terms.Add(word.ToStringAndClear());
            }
        }

        if (word.Length > 0)
        {
            terms.Add(word.ToStringAndClear());
        }
    }

    /// <summary>The terms of <paramref name="text"/>.</summary>
    public static List<string> Terms(string text)
    {
        var terms = new List<string>();
        Terms(text, terms);
        return terms;
    }

    /// <summary>Whether <paramref name="c"/> belongs to a term, and its folded (lower-case, diacritic-free) form.</summary>
    internal static bool IsTokenChar(char c, out char folded)
    {
        if (c < 0x80)
        {
            folded = c is >= 'A' and <= 'Z' ? (char)(c + 32) : c;
            return char.IsAsciiLetterOrDigit(c);
        }

        UnicodeCategory category = CharUnicodeInfo.GetUnicodeCategory(c);
        bool token = category is UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
            or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter or UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber
            or UnicodeCategory.OtherNumber or UnicodeCategory.PrivateUse;
        folded = c is >= '\u00C0' and <= '\u017F' && LatinFold[c - 0xC0] != '.' ? LatinFold[c - 0xC0] : char.ToLowerInvariant(c);
        return token;
    }

    /// <summary>Whether <paramref name="c"/> is a combining mark (skipped without ending the term).</summary>
    internal static bool IsCombiningMark(char c) =>
        c >= 0x300 && CharUnicodeInfo.GetUnicodeCategory(c) is UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark;

    /// <summary>A word buffer on the stack that spills to the heap for long words.</summary>
    private ref struct ValueBuilder(Span<char> initial)
    {
        private Span<char> _chars = initial;
        private StringBuilder? _spill;

        public int Length { get; private set; }

        public void Append(char c)
        {
            if (Length < _chars.Length)
            {
                _chars[Length++] = c;
                return;
            }

            _spill ??= new StringBuilder().Append(_chars);
            _spill.Append(c);
            Length++;
        }

        public string ToStringAndClear()
        {
            string s = _spill is null ? new string(_chars[..Length]) : _spill.ToString();
            _spill = null;
            Length = 0;
            return s;
        }
    }
}
