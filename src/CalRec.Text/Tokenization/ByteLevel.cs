namespace CalRec.Text.Tokenization;

/// <summary>
/// GPT-2's reversible byte ↔ character table: printable bytes map to themselves, the rest to code points from U+0100
/// upwards, so every byte sequence becomes a string without whitespace or control characters.
/// </summary>
internal static class ByteLevel
{
    public static readonly char[] ByteToChar = BuildTable();
    public static readonly Dictionary<char, byte> CharToByte = BuildReverse();

    private static char[] BuildTable()
    {
        var table = new char[256];
        var direct = new bool[256];
        for (int b = '!'; b <= '~'; b++)
        {
            direct[b] = true;
        }

        for (int b = 0xA1; b <= 0xAC; b++)
        {
            direct[b] = true;
        }

        for (int b = 0xAE; b <= 0xFF; b++)
        {
            direct[b] = true;
        }

        int next = 0;
        for (int b = 0; b < 256; b++)
        {
            table[b] = direct[b] ? (char)b : (char)(256 + next++);
        }

        return table;
    }

    private static Dictionary<char, byte> BuildReverse()
    {
        var d = new Dictionary<char, byte>(256);
        for (int b = 0; b < 256; b++)
        {
            d[ByteToChar[b]] = (byte)b;
        }

        return d;
    }
}
