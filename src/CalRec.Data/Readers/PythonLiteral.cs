using System.Globalization;
using System.Text;
using System.Text.Json;

namespace CalRec.Data.Readers;

/// <summary>
/// Turns one Python literal (dicts, lists, strings in either quote, numbers, <c>True</c>/<c>False</c>/<c>None</c>), as
/// written by Python's <c>repr</c>, into JSON text. The 2014 Amazon metadata files are in this form, not JSON.
/// </summary>
internal static class PythonLiteral
{
    public static string ToJson(string literal)
    {
        var json = new StringBuilder(literal.Length + 16);
        int i = 0;
        while (i < literal.Length)
        {
            char c = literal[i];
            if (c is '\'' or '"')
            {
                json.Append(JsonSerializer.Serialize(ReadString(literal, ref i)));
                continue;
            }

            // Letters right after a digit belong to a number's exponent (1e-05).
            if (char.IsLetter(c) && !(i > 0 && (char.IsDigit(literal[i - 1]) || literal[i - 1] == '.')))
            {
                int start = i;
                while (i < literal.Length && char.IsLetter(literal[i]))
                {
                    i++;
                }

                json.Append(literal.AsSpan(start, i - start) switch
                {
                    "True" => "true",
                    "False" => "false",
                    "None" => "null",
                    var word => throw new FormatException($"unexpected word '{word.ToString()}' at character {start}"),
                });
                continue;
            }

            json.Append(c);
            i++;
        }

        return json.ToString();
    }

    private static string ReadString(string s, ref int i)
    {
        char quote = s[i++];
        var text = new StringBuilder();
        while (true)
        {
            if (i >= s.Length)
            {
                throw new FormatException("unterminated string");
            }

            char c = s[i++];
            if (c == quote)
            {
                return text.ToString();
            }

            if (c != '\\' || i >= s.Length)
            {
                text.Append(c);
                continue;
            }

            char e = s[i++];
            switch (e)
            {
                case 'n': text.Append('\n'); break;
                case 't': text.Append('\t'); break;
                case 'r': text.Append('\r'); break;
                case 'x' when i + 2 <= s.Length: text.Append((char)int.Parse(s.AsSpan(i, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture)); i += 2; break;
                case 'u' when i + 4 <= s.Length: text.Append((char)int.Parse(s.AsSpan(i, 4), NumberStyles.HexNumber, CultureInfo.InvariantCulture)); i += 4; break;
                case '\\' or '\'' or '"': text.Append(e); break;
                default: text.Append('\\').Append(e); break;
            }
        }
    }
}
